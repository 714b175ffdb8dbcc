/**
 * Brioche's proxy parts (protocols/brioche.md §5): tags from the upstream registry with the repo's
 * TTL (they move) and stale-if-error, cache objects from the upstream cache on a miss, verified as
 * uploads are (verify-object.ts), kept forever. The upstream is the official registry (its cache is
 * then https://cache.brioche.dev) or another Larder's Brioche repo (`{upstream}/registry/`, `{upstream}/cache/`).
 */
import type { ProxyParts } from '../../registry/source-parts.js';
import { mirrorProject } from './mirror.js';
import { parseCacheKey, parseTagPath } from './keys.js';
import { proxySearchEntry } from './search.js';

/** The official registry, and the cache that serves its projects. */
export const OFFICIAL_REGISTRY = 'https://registry.brioche.dev';
export const OFFICIAL_CACHE = 'https://cache.brioche.dev';

/** The registry base (no trailing slash) and cache base of a configured upstream. */
export function upstreamBases(upstream: string): { registry: string; cache: string } {
  return upstream === OFFICIAL_REGISTRY
    ? { registry: OFFICIAL_REGISTRY, cache: OFFICIAL_CACHE }
    : { registry: `${upstream}/registry`, cache: `${upstream}/cache` };
}

/** Percent-encodes a path segment the way brioche does (every byte but `A-Z a-z 0-9 - . _ ~`). */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export const briocheProxy: ProxyParts = {
  defaultUpstream: OFFICIAL_REGISTRY,
  docUrl(upstream, path) {
    const t = parseTagPath(path);
    return t ? `${upstreamBases(upstream).registry}/v0/project-tags/${encodeSegment(t.project)}/${encodeSegment(t.tag)}` : null;
  },
  docLifetime: () => 'mutable',
  async artifactOrigin(ctx, key) {
    const k = parseCacheKey(key);
    if (!k) return null;
    return {
      url: `${upstreamBases(ctx.upstream).cache}/${key}`,
      trusted: true,
      // The check (zstd, artifact archives) is loaded on first use, not by every start (cold start, issue 14).
      check: async (body) => {
        const { chunksFrom, verifyCacheObject } = await import('./verify-object.js');
        return verifyCacheObject(k, body, {
          maxArtifact: ctx.registry.config.limits.maxArchiveSize,
          maxUnpacked: ctx.registry.config.limits.maxUnpackedSize,
          loadChunk: chunksFrom((chunk) => ctx.artifact(chunk)),
        });
      },
      what: `cache object ${key}`,
    };
  },
  searchEntry: proxySearchEntry,
  mirrorPackage: mirrorProject,
};
