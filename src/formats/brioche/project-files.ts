/**
 * The files of one project inside the artifact `brioche publish` uploads (brioche-core project/artifact.rs): the
 * root directory holds `<projectHash>/` (a directory of the project's modules, statics and `brioche.lock`), or for a
 * workspace member a symlink `<projectHash>` → `workspace-<hash>/<member path>`, beside its dependencies' projects.
 * Only the files asked for are read: their bytes are sliced from the inline data, or from the chunks that cover them.
 */
import type { ChunkLoader, DecodedArchive } from './artifact-archive.js';
import { MAX_CHUNK_DATA } from './artifact-archive.js';
import { unzstdBounded } from './zstd.js';

type Component = DecodedArchive['entries'][number]['path'][number];

/** A file of the project: its path below the project directory (`/`-separated, UTF-8), its blob and size. */
export interface ProjectFile {
  path: string;
  blob: string;
  length: number;
}

/** Symlinks followed and references resolved before a path is given up on. */
const MAX_HOPS = 8;

const same = (a: Component, b: Component) => (a === 'resources' ? b === 'resources' : b !== 'resources' && a.entry === b.entry);
const startsWith = (path: Component[], prefix: Component[]) => prefix.length <= path.length && prefix.every((c, i) => same(c, path[i]!));
const utf8 = (c: Component) => (c === 'resources' ? null : Buffer.from(c.entry, 'latin1').toString('utf8'));

/** Where the project directory of `projectHash` really is in the archive (following its symlink and `R` references), or null. */
function projectDir(archive: DecodedArchive, projectHash: string): Component[] | null {
  let dir: Component[] = [{ entry: projectHash }];
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const ref = archive.references.find((r) => startsWith(dir, r.target));
    if (ref) {
      dir = [...ref.source, ...dir.slice(ref.target.length)];
      continue;
    }
    const node = archive.entries.find((e) => e.path.length === dir.length && startsWith(e.path, dir))?.node;
    if (node?.kind === 'symlink') {
      // A workspace member: `workspace-<hash>/<member path>`, relative to the root (anything else is not brioche's).
      const target = Buffer.from(node.target).toString('latin1').split('/');
      if (target.some((s) => s === '' || s === '.' || s === '..')) return null;
      dir = target.map((entry) => ({ entry }));
      continue;
    }
    if (node?.kind === 'file') return null;
    // A directory: an entry of its own (empty) or implied by the entries below it.
    return node || archive.entries.some((e) => startsWith(e.path, dir)) ? dir : null;
  }
  return null;
}

/** Entries looked at while listing one project: references may repeat a directory many times over. */
const MAX_VISITS = 2_000_000;

/** Every file below `dir` (not in files' resources), with `R` references to identical directories followed. */
function filesBelow(
  archive: DecodedArchive,
  dir: Component[],
  budget = { visits: MAX_VISITS },
  depth = 0,
): Array<{ rel: Component[]; blob: string }> {
  const out: Array<{ rel: Component[]; blob: string }> = [];
  budget.visits -= archive.entries.length + archive.references.length;
  if (budget.visits < 0) return out;
  for (const e of archive.entries) {
    if (e.node.kind !== 'file' || !startsWith(e.path, dir)) continue;
    const rel = e.path.slice(dir.length);
    if (rel.length > 0 && !rel.includes('resources')) out.push({ rel, blob: e.node.blob });
  }
  if (depth < MAX_HOPS) {
    for (const r of archive.references) {
      if (r.target.length <= dir.length || !startsWith(r.target, dir)) continue;
      const at = r.target.slice(dir.length);
      for (const f of filesBelow(archive, r.source, budget, depth + 1)) out.push({ rel: [...at, ...f.rel], blob: f.blob });
    }
  }
  return out;
}

/** The files of a project in its artifact (empty when the artifact holds no project of that hash). */
export function projectFiles(archive: DecodedArchive, projectHash: string): ProjectFile[] {
  const dir = projectDir(archive, projectHash);
  if (!dir) return [];
  const lengths = new Map(archive.blobs.map((b) => [b.hash, b.length]));
  const files: ProjectFile[] = [];
  for (const { rel, blob } of filesBelow(archive, dir)) {
    const parts = rel.map(utf8);
    if (parts.some((p) => p === null)) continue;
    files.push({ path: parts.join('/'), blob, length: lengths.get(blob) ?? 0 });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Reads the bytes of some blobs from the archive's data section: sliced from inline data, or from the chunks their
 * range covers (each loaded once, decompressed within its stated length). A blob whose bytes are not there is left out.
 */
export async function readBlobs(
  archive: DecodedArchive,
  hashes: ReadonlySet<string>,
  loadChunk: ChunkLoader,
): Promise<Map<string, Buffer>> {
  const ranges: Array<{ hash: string; start: number; end: number }> = [];
  let at = 0;
  for (const b of archive.blobs) {
    if (hashes.has(b.hash)) ranges.push({ hash: b.hash, start: at, end: at + b.length });
    at += b.length;
  }
  const out = new Map<string, Buffer>();
  if (archive.data.kind === 'inline') {
    const data = archive.data.bytes;
    for (const r of ranges) if (r.end <= data.length) out.set(r.hash, Buffer.from(data.subarray(r.start, r.end)));
    return out;
  }
  const chunks: Array<{ hash: string; start: number; end: number }> = [];
  let offset = 0;
  for (const c of archive.data.chunks) {
    chunks.push({ hash: c.hash, start: offset, end: offset + c.length });
    offset += c.length;
  }
  const loaded = new Map<string, Buffer | null>();
  const chunkData = async (c: { hash: string; start: number; end: number }): Promise<Buffer | null> => {
    if (!loaded.has(c.hash)) {
      const zst = c.end - c.start <= MAX_CHUNK_DATA ? await loadChunk(c.hash) : null;
      const data = zst ? unzstdBounded(zst, { maxOutput: c.end - c.start, maxWindow: 2 * MAX_CHUNK_DATA }, `chunks/${c.hash}.zst`) : null;
      loaded.set(c.hash, data && data.length === c.end - c.start ? data : null);
    }
    return loaded.get(c.hash)!;
  };
  for (const r of ranges) {
    const parts: Buffer[] = [];
    let whole = true;
    for (const c of chunks) {
      if (c.end <= r.start || c.start >= r.end) continue;
      const data = await chunkData(c);
      if (!data) {
        whole = false;
        break;
      }
      parts.push(data.subarray(Math.max(r.start, c.start) - c.start, Math.min(r.end, c.end) - c.start));
    }
    if (whole && (r.end === r.start || parts.length > 0)) out.set(r.hash, Buffer.concat(parts));
  }
  return out;
}
