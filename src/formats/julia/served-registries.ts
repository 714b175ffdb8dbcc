/**
 * The registries a repo serves, read through its source the way Pkg would see them (for package pages):
 * `/registries` names each registry's current tree; its files are the repo's `registry/{uuid}/…` documents
 * where the source has them (a hosted registry, also through a group), else the registry tarball itself
 * (an upstream's registry in a proxy, fetched once and verified like any tarball a client gets).
 */
import { LRUCache } from 'lru-cache';
import type { Registry } from '../../registry/registry.js';
import type { Source, SourceArtifact } from '../../registry/source.js';
import { REGISTRIES_DOC, registryDocPath } from './ids.js';
import { registryIndex, type RegistryReader } from './package-info.js';
import { maxTarSize, registryLines } from './proxy.js';
import { readTarballFiles } from './upstream-tarball.js';

/** Every registry the source lists in `/registries`, in its order; one it cannot read is left out. */
export async function servedRegistries(registry: Registry, source: Source): Promise<RegistryReader[]> {
  const list = await source.doc(REGISTRIES_DOC);
  if (!list) return [];
  const out: RegistryReader[] = [];
  for (const { uuid, hash } of registryLines(list.body)) {
    const reader = (await fromDocs(source, uuid)) ?? (await fromTarball(registry, source, `registry/${uuid}/${hash}`));
    if (reader) out.push(reader);
  }
  return out;
}

/** Parsed Registry.toml documents by repo, registry and ETag: a big registry (General) is parsed once per change. */
const indexes = new LRUCache<string, { etag: string; index: Omit<RegistryReader, 'file'> | null }>({ max: 64 });

async function fromDocs(source: Source, uuid: string): Promise<RegistryReader | null> {
  const doc = await source.doc(registryDocPath(uuid, 'Registry.toml'));
  if (!doc) return null;
  const key = `${source.repo.id}\0${uuid}`;
  let cached = indexes.get(key);
  if (cached?.etag !== doc.etag) indexes.set(key, (cached = { etag: doc.etag, index: registryIndex(doc.body) }));
  const index = cached.index;
  return index && { ...index, file: async (rel) => (await source.doc(registryDocPath(uuid, rel)))?.body ?? null };
}

/** A registry tarball read for pages: its Registry.toml, and each package directory's files read in one pass when first asked for. */
interface TarballView {
  index: Omit<RegistryReader, 'file'> | null;
  dirs: LRUCache<string, Promise<Map<string, Buffer>>>;
}

/** By blob sha256: a few registries' tarballs (each Registry.toml is held; package files only for recently shown packages). */
const tarballs = new LRUCache<string, Promise<TarballView>>({ max: 8 });

async function fromTarball(registry: Registry, source: Source, key: string): Promise<RegistryReader | null> {
  const artifact = await source.artifact(key);
  if (!artifact) return null;
  const view = await cached(tarballs, artifact.sha256, async () => {
    const files = await readTarball(registry, artifact, (p) => p === 'Registry.toml');
    return {
      index: registryIndex(files.get('Registry.toml') ?? null),
      dirs: new LRUCache<string, Promise<Map<string, Buffer>>>({ max: 128 }),
    };
  });
  if (!view.index) return null;
  return {
    ...view.index,
    async file(rel) {
      const slash = rel.lastIndexOf('/');
      const dir = rel.slice(0, slash + 1);
      const files = await cached(view.dirs, dir, () =>
        readTarball(registry, artifact, (p) => p.startsWith(dir) && !p.slice(dir.length).includes('/')),
      );
      return files.get(rel) ?? null;
    },
  };
}

function readTarball(registry: Registry, artifact: SourceArtifact, want: (path: string) => boolean): Promise<Map<string, Buffer>> {
  return readTarballFiles(artifact.blob.stream(), want, maxTarSize(registry, 'registry'));
}

/** A cached promise, forgotten if it fails (the next page asks again). */
function cached<T extends object>(cache: LRUCache<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  if (hit) return hit;
  const p = load();
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  return p;
}
