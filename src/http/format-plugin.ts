import type { FastifyInstance } from 'fastify';
import type { FormatCore } from '../registry/format.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import type { Source, SourceDoc } from '../registry/source.js';
import type { FastArtifactRoute } from './fast-artifact.js';

/**
 * Index documents the HTTP layer may answer straight from the cache for one public repo:
 * URLs under `prefix` whose rest `docPath` maps to a document path of `source`.
 */
export interface FastIndexRoute {
  repo: string;
  format: string;
  /** e.g. `/cargo/index/` */
  prefix: string;
  /**
   * The document path for the rest of the URL, or null when the route must decide. A function of `rest` alone: its
   * answer is remembered per URL.
   */
  docPath(rest: string): string | null;
  /** Told of each document answered from the cache, for what the route also does on every read (optional). */
  seen?(doc: SourceDoc): void;
  source: Source;
  /** Fixed, or per document path where it depends on the file (computed once per cached document). */
  contentType: string | ((docPath: string) => string);
  cacheControl: string | ((docPath: string) => string);
}

/** What a route gets to serve one repo: the registry services and the repo's source (hosted, proxy or group). */
export interface RouteContext {
  registry: Registry;
  repo: Repo;
  source: Source;
}

/** The one interface through which a format plugs into Larder: its registry parts plus its routes. */
export interface FormatPlugin extends FormatCore {
  /** Registers the repo's routes; Larder mounts them under `/{repo.name}`. */
  routes(app: FastifyInstance, ctx: RouteContext): Promise<void>;
  /** Cached documents of this repo that need no route logic (public reads), if any. */
  fastIndex?(ctx: RouteContext): FastIndexRoute | null;
  /** Small immutable artifacts of this repo its routes send with no logic beyond the lookup (public reads), if any. */
  fastArtifact?(ctx: RouteContext): FastArtifactRoute | null;
}
