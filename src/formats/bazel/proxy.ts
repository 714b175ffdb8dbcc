/**
 * Bazel's parts of a proxy repository (protocols/bazel.md §9): registry files byte for byte from the
 * upstream (the BCR by default), everything under `modules/{m}/{v}/` kept forever, metadata.json and
 * bazel_registry.json revalidated after the TTL, and source archives served by Larder's mirror once
 * their source.json promised an integrity for them.
 */
import { parseSri } from '../../core/sri.js';
import type { ArtifactPromise, MirrorPlan, ProxyContext, ProxyParts, VersionStamp } from '../../registry/source-parts.js';
import { mirrorKeyOf, MIRROR_SEGMENT } from './mirror.js';
import { classifyRegistryPath } from './paths.js';
import { metadataSearchEntry } from './search-entry.js';

/** The Bazel Central Registry. */
export const BCR_URL = 'https://bcr.bazel.build';

/** What Larder reads of an `archive` source.json. */
interface ArchiveSource {
  urls: string[];
  integrity: string;
  patches: string[];
  overlay: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The archive URLs (url, then mirror_urls), integrity, patch and overlay names of a source.json; null for other source types or bad JSON. */
export function readArchiveSource(body: Buffer): ArchiveSource | null {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(json) || (json.type !== undefined && json.type !== 'archive')) return null;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const urls = [...(typeof json.url === 'string' ? [json.url] : []), ...strings(json.mirror_urls)];
  const integrity = typeof json.integrity === 'string' ? json.integrity : '';
  return {
    urls,
    integrity,
    patches: isObject(json.patches) ? Object.keys(json.patches) : [],
    overlay: isObject(json.overlay) ? Object.keys(json.overlay) : [],
  };
}

const validSri = (value: string): boolean => {
  try {
    parseSri(value);
    return true;
  } catch {
    return false;
  }
};

/** The `versions` of a metadata.json, or null when it is not readable as one. */
function readMetadataJson(body: Buffer): { json: Record<string, unknown>; versions: string[] } | null {
  try {
    const json: unknown = JSON.parse(body.toString('utf8'));
    if (!isObject(json)) return null;
    const versions = Array.isArray(json.versions) ? json.versions.filter((v): v is string => typeof v === 'string') : [];
    return { json, versions };
  } catch {
    return null;
  }
}

/** Bazel's proxy parts. */
export const bazelProxyParts: ProxyParts = {
  defaultUpstream: BCR_URL,

  // Bazel joins paths raw onto the registry URL; the same is done here (bazel.md §1).
  docUrl: (upstream, path) => (classifyRegistryPath(path) ? `${upstream}/${path}` : null),

  // Lockfiles pin everything but metadata.json; bazel_registry.json is revalidated too so an upstream's new mirror list shows up.
  docLifetime: (path) => (classifyRegistryPath(path)?.kind === 'version-file' ? 'immutable' : 'mutable'),

  promises(path, body): ArtifactPromise[] {
    const file = classifyRegistryPath(path);
    if (file?.kind !== 'version-file' || file.name !== 'source.json') return [];
    const source = readArchiveSource(body);
    if (!source || !validSri(source.integrity)) return [];
    const out: ArtifactPromise[] = [];
    for (const url of source.urls) {
      const key = mirrorKeyOf(url);
      if (key) out.push({ key, url, sri: source.integrity });
    }
    return out;
  },

  async artifactOrigin(ctx, key) {
    if (!key.startsWith(`${MIRROR_SEGMENT}/`)) return null;
    const promised = await ctx.promise(key);
    if (!promised?.sri) return null;
    // The URL comes from a document, not from larder.toml: it keeps the [outbound] address rules.
    return { url: promised.url, trusted: false, sri: promised.sri, what: `source archive ${promised.url}` };
  },

  versions(path, body): VersionStamp[] {
    if (classifyRegistryPath(path)?.kind !== 'metadata') return [];
    return (readMetadataJson(body)?.versions ?? []).map((version) => ({ version }));
  },

  withoutVersions(path, body, hidden) {
    const read = readMetadataJson(body);
    if (!read) return body;
    const versions = read.versions.filter((v) => !hidden.has(v));
    if (versions.length === 0) return null;
    // Re-serialised only because something was hidden; untouched documents are served as fetched.
    return Buffer.from(`${JSON.stringify({ ...read.json, versions }, null, 4)}\n`);
  },

  // Only metadata.json names the versions; the dependencies are in the latest MODULE.bazel, which this body does not
  // include, so the entry leaves them as recorded. latestVersion is null when every version is yanked.
  searchEntry(path, body) {
    const file = classifyRegistryPath(path);
    return file?.kind === 'metadata' ? metadataSearchEntry(file.module, body) : null;
  },

  mirrorPackage: mirrorModule,
};

/** Fetches every visible version's MODULE.bazel, source.json, patches and overlay files of one module (`larder mirror`). */
async function mirrorModule(ctx: ProxyContext, module: string): Promise<MirrorPlan | null> {
  // Loaded here, by `larder mirror`, rather than by every start.
  const { readModuleFile } = await import('./module-file.js');
  const metadata = await ctx.doc(`modules/${module}/metadata.json`);
  if (!metadata) return null;
  const artifacts = new Set<string>();
  const dependencies = new Set<string>();
  for (const version of readMetadataJson(metadata.body)?.versions ?? []) {
    const dir = `modules/${module}/${version}`;
    if (!classifyRegistryPath(`${dir}/MODULE.bazel`)) continue;
    const moduleFile = await ctx.doc(`${dir}/MODULE.bazel`);
    if (moduleFile) {
      try {
        // Dev dependencies of a dependency are never resolved by Bazel.
        for (const dep of readModuleFile(moduleFile.body.toString('utf8')).deps) if (!dep.devDependency) dependencies.add(dep.name);
      } catch {
        // A MODULE.bazel this reader cannot follow still mirrors; Bazel evaluates it itself.
      }
    }
    const sourceJson = await ctx.doc(`${dir}/source.json`);
    const source = sourceJson ? readArchiveSource(sourceJson.body) : null;
    if (!source) continue;
    for (const name of source.patches) await ctx.doc(`${dir}/patches/${name}`);
    for (const name of source.overlay) await ctx.doc(`${dir}/overlay/${name}`);
    const key = source.urls[0] ? mirrorKeyOf(source.urls[0]) : null;
    if (key) artifacts.add(key);
  }
  dependencies.delete(module);
  return { artifacts: [...artifacts], dependencies: [...dependencies] };
}
