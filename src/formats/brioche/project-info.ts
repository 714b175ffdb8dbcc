/**
 * What Larder knows of a project from its hash (protocols/brioche.md §3.6): `projects/<hash>/source.json` names
 * the artifact, the artifact holds the project's files (project-files.ts), and those say its version, metadata,
 * dependencies and README (project-meta.ts). The registry stores only tags, so this is how search entries and
 * package pages learn more than a name. Read through a source (hosted rows, a proxy's pull-through, a group's
 * members); kept per process by repo and hash, since what a hash's source.json names never changes in a repo.
 */
import { LRUCache } from 'lru-cache';
import type { PackageLink } from '../../registry/package-view.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { SourceArtifact } from '../../registry/source.js';
import { decodeArchive } from './artifact-archive.js';
import { HASH, projectSourceKey } from './keys.js';
import { projectFiles, readBlobs, type ProjectFile } from './project-files.js';
import { externalImports, lockedDependencies, projectExport } from './project-meta.js';
import { chunksFrom, readAtMost } from './verify-object.js';
import { unzstdBounded } from './zstd.js';

/** A dependency as the project declares it: `*` (the only version brioche knows), or a path (kind `path`). */
export interface ProjectDependency {
  name: string;
  requirement: string | null;
  kind: string | null;
}

export interface ProjectInfo {
  artifactHash: string;
  /** `project.name` / `project.version` of project.bri (brioche publish tags the version). */
  name: string | null;
  version: string | null;
  description: string | null;
  license: string | null;
  keywords: string[];
  links: PackageLink[];
  dependencies: ProjectDependency[];
  /** A README.md the artifact carries at the project's root (only when the project includes it as a static). */
  readme: string | null;
}

/** Where the project's objects come from: a source's artifacts. */
export interface ProjectObjects {
  repo: Pick<Repo, 'id'>;
  artifact(key: string): Promise<SourceArtifact | null>;
}

/** Most of an archive decompressed for this: its listing comes first, and inline data is under 2 MiB (§3.5). */
const MAX_ARCHIVE_READ = 64 * 1024 * 1024;
/** Per module and in all: what is read of a project's `.bri` modules to find its imports. */
const MAX_MODULE = 256 * 1024;
const MAX_MODULES_TOTAL = 4 * 1024 * 1024;
const MAX_README = 1024 * 1024;
const MAX_TEXT = 1000;
const MAX_KEYWORDS = 20;

const README = /^readme(\.md|\.markdown)?$/i;
const LINKS: Array<[string, string]> = [
  ['repository', 'Repository'],
  ['homepage', 'Homepage'],
  ['documentation', 'Documentation'],
];

const text = (v: unknown, max = MAX_TEXT): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : null);

/** The metadata fields of a `project` export: brioche reads name/version/dependencies; the rest is what authors add. */
function metadataOf(project: Record<string, unknown> | null): Omit<ProjectInfo, 'artifactHash' | 'dependencies' | 'readme'> {
  const p = project ?? {};
  const url = (v: unknown) => text(v) ?? text((v as { url?: unknown } | null)?.url);
  return {
    name: text(p.name, 128),
    version: text(p.version, 128),
    description: text(p.description),
    license: text(p.license, 200),
    keywords: Array.isArray(p.keywords)
      ? [...new Set(p.keywords.map((k) => text(k, 50)).filter((k): k is string => k !== null))].slice(0, MAX_KEYWORDS)
      : [],
    links: LINKS.flatMap(([field, label]) => {
      const u = url(p[field]);
      return u ? [{ label, url: u }] : [];
    }),
  };
}

/** Declared dependencies first (their form kept), then the ones brioche.lock pins and the modules import (both `*`). */
function dependenciesOf(project: Record<string, unknown> | null, lock: string | null, modules: string[]): ProjectDependency[] {
  const out = new Map<string, ProjectDependency>();
  const declared = project?.dependencies;
  if (declared && typeof declared === 'object' && !Array.isArray(declared)) {
    for (const [name, spec] of Object.entries(declared as Record<string, unknown>)) {
      if (typeof spec === 'string') out.set(name, { name, requirement: spec, kind: null });
      else if (spec && typeof spec === 'object' && 'path' in spec) out.set(name, { name, requirement: null, kind: 'path' });
    }
  }
  const implied = [...(lock ? lockedDependencies(lock).map((d) => d.name) : []), ...modules.flatMap(externalImports)];
  for (const name of implied) if (!out.has(name)) out.set(name, { name, requirement: '*', kind: null });
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Reads a project's info from its objects; null when source.json or the artifact is missing or holds no such project. */
export async function readProjectInfo(registry: Registry, objects: ProjectObjects, projectHash: string): Promise<ProjectInfo | null> {
  const source = await objects.artifact(projectSourceKey(projectHash));
  if (!source) return null;
  const artifactHash = (
    JSON.parse((await readAtMost(source.blob.stream(), 4096, 'source.json')).toString('utf8')) as { artifactHash?: unknown }
  ).artifactHash;
  if (typeof artifactHash !== 'string' || !HASH.test(artifactHash)) return null;
  const key = `artifacts/${artifactHash}.bar.zst`;
  const artifact = await objects.artifact(key);
  if (!artifact) return null;
  const { maxArchiveSize, maxUnpackedSize } = registry.config.limits;
  const zst = await readAtMost(artifact.blob.stream(), maxArchiveSize, key);
  const maxOutput = Math.min(maxUnpackedSize, MAX_ARCHIVE_READ);
  const archive = decodeArchive(unzstdBounded(zst, { maxOutput, maxWindow: Math.max(1 << 20, 2 * maxOutput) }, key));
  const files = projectFiles(archive, projectHash);
  if (files.length === 0) return null;

  const root = (name: string) => files.find((f) => f.path === name);
  const readme = files.filter((f) => !f.path.includes('/') && README.test(f.path) && f.length <= MAX_README)[0];
  const modules: ProjectFile[] = [];
  let budget = MAX_MODULES_TOTAL;
  for (const f of files) {
    if (!f.path.endsWith('.bri') || f.length > MAX_MODULE || f.length > budget) continue;
    modules.push(f);
    budget -= f.length;
  }
  const wanted = [root('brioche.lock'), readme, ...modules].filter((f): f is ProjectFile => f !== undefined && f.length <= MAX_README);
  const blobs = await readBlobs(
    archive,
    new Set(wanted.map((f) => f.blob)),
    chunksFrom((k) => objects.artifact(k)),
  );
  const read = (f: ProjectFile | undefined) => (f && blobs.has(f.blob) ? blobs.get(f.blob)!.toString('utf8') : null);

  const rootModule = read(root('project.bri'));
  const project = rootModule === null ? null : projectExport(rootModule);
  return {
    artifactHash,
    ...metadataOf(project),
    dependencies: dependenciesOf(
      project,
      read(root('brioche.lock')),
      modules.map(read).filter((m): m is string => m !== null),
    ),
    readme: read(readme),
  };
}

/** A project's info whatever goes wrong (a broken or missing object is "nothing known"), at most once at a time per key. */
export class ProjectInfoCache {
  private readonly known = new LRUCache<string, ProjectInfo>({ max: 5_000 });
  // Missing objects may arrive (brioche uploads the artifact before source.json, but a proxy may fetch later, and
  // another node may take the upload): pages believe an absence for a minute, writes ask again (`recheck`).
  private readonly missing = new LRUCache<string, true>({ max: 5_000, ttl: 60_000 });
  private readonly flights = new Map<string, Promise<ProjectInfo | null>>();

  constructor(private readonly registry: Registry) {}

  /** The info of `projectHash` in the repo `objects` reads, or null; `recheck` looks again for one found missing before. */
  get(objects: ProjectObjects, projectHash: string, opts: { recheck?: boolean } = {}): Promise<ProjectInfo | null> {
    const key = `${objects.repo.id}:${projectHash}`;
    const hit = this.known.get(key);
    if (hit) return Promise.resolve(hit);
    if (this.missing.has(key) && !opts.recheck) return Promise.resolve(null);
    let flight = this.flights.get(key);
    if (!flight) {
      flight = readProjectInfo(this.registry, objects, projectHash)
        .catch((err: unknown) => {
          this.registry.log.warn(
            { err, projectHash },
            'brioche: could not read the project a tag names (search and its page show the tag only)',
          );
          return null;
        })
        .then((info) => {
          if (info) this.known.set(key, info);
          else this.missing.set(key, true);
          return info;
        })
        .finally(() => this.flights.delete(key));
      this.flights.set(key, flight);
    }
    return flight;
  }
}

const caches = new WeakMap<Registry, ProjectInfoCache>();

/** The registry's cache of project infos. */
export function projectInfos(registry: Registry): ProjectInfoCache {
  let cache = caches.get(registry);
  if (!cache) caches.set(registry, (cache = new ProjectInfoCache(registry)));
  return cache;
}

/** `promise`, or null once `ms` have passed (it goes on, and what it finds is kept for the next call). */
export function withDeadline<T>(promise: Promise<T | null>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
