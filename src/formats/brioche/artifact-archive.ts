/**
 * Brioche's artifact archive (`artifacts/<h>.bar.zst`, protocols/brioche.md §3.5; brioche-core
 * src/cache/archive.rs): decoded after zstd, rebuilt into the root artifact the way brioche reads it,
 * with every blob hashed from the inline data or from the chunks it names; the rebuilt artifact's
 * hash must be the key's. Memory: the archive (bounded by the caller) and one chunk at a time.
 */
import type { IHasher } from 'hash-wasm';
import { fail } from '../../core/errors.js';
import { artifactJson, EMPTY_DIRECTORY, tickEncode, type Artifact, type DirectoryArtifact } from './artifact-hash.js';
import { unzstdBounded } from './zstd.js';
import { importCjs } from '../../core/cjs.js';

/** A BLAKE3 hasher; hash-wasm loads with the first archive, not at every start (issue 14). */
async function createBLAKE3(): Promise<IHasher> {
  return (await importCjs(import('hash-wasm'))).createBLAKE3();
}

const MARKER = Buffer.from('brioche_artifact_archive_v0     ');
/** FastCDC's largest chunk (§3.5): the most one `chunks/<h>.zst` may decompress to. */
export const MAX_CHUNK_DATA = 8 * 1024 * 1024;
/** The largest `chunks/<h>.zst` accepted: a chunk that did not compress, with room for zstd's framing. */
export const MAX_CHUNK = MAX_CHUNK_DATA + 64 * 1024;
/** Deeper paths than this are refused: brioche writes one component per directory level. */
const MAX_PATH_COMPONENTS = 4096;

/** A path component: a directory entry name (raw bytes, as a latin1 string) or a file's resources. */
type Component = { entry: string } | 'resources';

/** One entry of the archive's listing. */
type Node = { kind: 'file'; executable: boolean; blob: string } | { kind: 'symlink'; target: Uint8Array } | { kind: 'directory' };

/** What an archive says, before its blobs are checked. */
export interface DecodedArchive {
  entries: Array<{ path: Component[]; node: Node }>;
  references: Array<{ target: Component[]; source: Component[] }>;
  /** Blobs in data order, each `length` bytes after the previous. */
  blobs: Array<{ hash: string; length: number }>;
  data: { kind: 'inline'; bytes: Uint8Array } | { kind: 'chunks'; chunks: Array<{ hash: string; length: number }> };
}

/** Reads the archive's fields big-endian; a short read is a truncated archive. */
class Reader {
  at = 0;
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new ArchiveError('the archive ends in the middle of an entry');
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u16(): number {
    this.take(2);
    return this.view.getUint16(this.at - 2);
  }
  u32(): number {
    this.take(4);
    return this.view.getUint32(this.at - 4);
  }
  u64(): number {
    this.take(8);
    const v = this.view.getBigUint64(this.at - 8);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveError('a length in the archive is out of range');
    return Number(v);
  }
  hash(): string {
    return Buffer.from(this.take(32)).toString('hex');
  }
  path(): Component[] {
    const count = this.u32();
    if (count > MAX_PATH_COMPONENTS) throw new ArchiveError(`a path has ${count} components (at most ${MAX_PATH_COMPONENTS})`);
    const out: Component[] = [];
    for (let i = 0; i < count; i++) {
      const tag = this.take(1)[0];
      if (tag === 0x2f) out.push({ entry: Buffer.from(this.take(this.u16())).toString('latin1') });
      else if (tag === 0x72) out.push('resources');
      else throw new ArchiveError(`unknown path component tag 0x${tag!.toString(16)}`);
    }
    return out;
  }
}

/** A refusal found while decoding; turned into ARCHIVE_INVALID naming the object. */
class ArchiveError extends Error {}

/** Decodes a decompressed archive's listing, blob table and data section (archive.rs read_artifact_archive). */
export function decodeArchive(bytes: Uint8Array): DecodedArchive {
  const r = new Reader(bytes);
  if (bytes.length < MARKER.length || !MARKER.equals(r.take(MARKER.length)))
    throw new ArchiveError('it does not start with the brioche_artifact_archive_v0 marker');
  const entries: DecodedArchive['entries'] = [];
  const references: DecodedArchive['references'] = [];
  const blobs: DecodedArchive['blobs'] = [];
  let chunks: Array<{ hash: string; length: number }> | null = null;
  let data: DecodedArchive['data'] | null = null;
  while (r.at < bytes.length && !data) {
    const tag = String.fromCharCode(r.take(1)[0]!);
    switch (tag) {
      case 'f': {
        const path = r.path();
        const x = Buffer.from(r.take(2)).toString('latin1');
        if (x !== 'x+' && x !== 'x-') throw new ArchiveError('a file entry has no x+/x- flag');
        entries.push({ path, node: { kind: 'file', executable: x === 'x+', blob: r.hash() } });
        break;
      }
      case 's': {
        const path = r.path();
        entries.push({ path, node: { kind: 'symlink', target: r.take(r.u32()) } });
        break;
      }
      case 'd':
        entries.push({ path: r.path(), node: { kind: 'directory' } });
        break;
      case 'R':
        references.push({ target: r.path(), source: r.path() });
        break;
      case 'b':
        blobs.push({ hash: r.hash(), length: r.u64() });
        break;
      case 'D':
        if (chunks) throw new ArchiveError('it has both inline data and chunks');
        data = { kind: 'inline', bytes: bytes.subarray(r.at) };
        break;
      case 'C':
        if (chunks) throw new ArchiveError('it starts its chunk list twice');
        chunks = [];
        break;
      case 'c':
        if (!chunks) throw new ArchiveError('it lists a chunk before the chunk list starts');
        chunks.push({ hash: r.hash(), length: r.u64() });
        break;
      default:
        throw new ArchiveError(`unknown entry tag 0x${tag.charCodeAt(0).toString(16)}`);
    }
  }
  data ??= chunks ? { kind: 'chunks', chunks } : null;
  if (!data) throw new ArchiveError('it ends before its data section');
  if (entries.length === 0) throw new ArchiveError('it has no entries');
  return { entries, references, blobs, data };
}

/** A slot of the tree being rebuilt: empty until an entry or a reference fills it (archive.rs ArtifactBuilder). */
interface Slot {
  v?: Built;
}
type Built =
  | { kind: 'file'; executable: boolean; blob: string; resources: Slot }
  | { kind: 'symlink'; target: Uint8Array }
  | { kind: 'directory'; entries: Map<string, Slot> }
  | { kind: 'reference'; source: Component[] };

const show = (path: Component[]) =>
  path.map((c) => (c === 'resources' ? '$' : `/${encodeURIComponent(Buffer.from(c.entry, 'latin1').toString())}`)).join('') || '/';

/** Walks to the slot at `path`, creating directories on the way (insert_into_artifact / set_subtree). */
function slotAt(root: Slot, path: Component[]): Slot {
  let slot = root;
  for (const c of path) {
    if (c === 'resources') {
      if (slot.v?.kind !== 'file') throw new ArchiveError(`path ${show(path)} puts resources on something that is not a file`);
      slot = slot.v.resources;
    } else {
      slot.v ??= { kind: 'directory', entries: new Map() };
      if (slot.v.kind !== 'directory') throw new ArchiveError(`path ${show(path)} descends into something that is not a directory`);
      let next = slot.v.entries.get(c.entry);
      if (!next) slot.v.entries.set(c.entry, (next = {}));
      slot = next;
    }
  }
  return slot;
}

/** The slot at `path` if it exists (get_subtree). */
function findSlot(root: Slot, path: Component[]): Slot | undefined {
  let slot: Slot | undefined = root;
  for (const c of path) {
    const v: Built | undefined = slot?.v;
    if (c === 'resources') slot = v?.kind === 'file' ? v.resources : undefined;
    else slot = v?.kind === 'directory' ? v.entries.get(c.entry) : undefined;
    if (!slot) return undefined;
  }
  return slot;
}

/** Rebuilds the root artifact and hashes every node once (references resolve against the same tree, memoised by node). */
async function rebuild(archive: DecodedArchive): Promise<{ root: Artifact; hash: string }> {
  const root: Slot = {};
  for (const { path, node } of archive.entries) {
    const slot = slotAt(root, path);
    if (slot.v) throw new ArchiveError(`two entries for path ${show(path)}`);
    slot.v =
      node.kind === 'file'
        ? { ...node, resources: { v: { kind: 'directory', entries: new Map() } } }
        : node.kind === 'directory'
          ? { kind: 'directory', entries: new Map() }
          : node;
  }
  for (const { target, source } of archive.references) slotAt(root, target).v = { kind: 'reference', source };
  if (!root.v) throw new ArchiveError('it has no root entry');
  const hasher: IHasher = await createBLAKE3();
  const hashOf = (a: Artifact) => hasher.init().update(artifactJson(a)).digest('hex');
  const memo = new Map<Built, { artifact: Artifact; hash: string }>();
  const building = new Set<Built>();
  const build = (node: Built): { artifact: Artifact; hash: string } => {
    const known = memo.get(node);
    if (known) return known;
    if (building.has(node)) throw new ArchiveError('a reference refers to a directory that contains it');
    building.add(node);
    let artifact: Artifact;
    if (node.kind === 'reference') {
      const source = findSlot(root, node.source)?.v;
      if (!source) throw new ArchiveError(`a reference names ${show(node.source)}, which is not in the archive`);
      artifact = build(source).artifact;
    } else if (node.kind === 'file') {
      const resources = node.resources.v ? build(node.resources.v).artifact : EMPTY_DIRECTORY;
      if (resources.type !== 'directory') throw new ArchiveError('a file has resources that are not a directory');
      artifact = { type: 'file', contentBlob: node.blob, executable: node.executable, resources };
    } else if (node.kind === 'symlink') artifact = { type: 'symlink', target: tickEncode(node.target) };
    else {
      const entries: DirectoryArtifact['entries'] = {};
      for (const [name, slot] of node.entries) if (slot.v) entries[tickEncode(Buffer.from(name, 'latin1'))] = build(slot.v).hash;
      artifact = { type: 'directory', entries };
    }
    const done = { artifact, hash: hashOf(artifact) };
    building.delete(node);
    memo.set(node, done);
    return done;
  };
  try {
    const { artifact, hash } = build(root.v);
    return { root: artifact, hash };
  } catch (err) {
    if (err instanceof RangeError) throw new ArchiveError('its tree is nested too deeply');
    throw err;
  }
}

/** Hashes the blob data as it streams past, blob by blob in archive order. */
class BlobCheck {
  private index = 0;
  private left: number;
  constructor(
    private readonly blobs: DecodedArchive['blobs'],
    private readonly hasher: IHasher,
  ) {
    this.left = blobs[0]?.length ?? 0;
    hasher.init();
    this.settle();
  }
  /** Finishes every blob that has all its bytes (empty blobs at once). */
  private settle(): void {
    while (this.index < this.blobs.length && this.left === 0) {
      const blob = this.blobs[this.index]!;
      if (this.hasher.digest('hex') !== blob.hash) throw new ArchiveError(`blob ${blob.hash} does not hash to its name`);
      this.index += 1;
      this.left = this.blobs[this.index]?.length ?? 0;
      this.hasher.init();
    }
  }
  update(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.index >= this.blobs.length) throw new ArchiveError('its data is longer than its blobs');
      const n = Math.min(this.left, bytes.length - at);
      this.hasher.update(bytes.subarray(at, at + n));
      at += n;
      this.left -= n;
      this.settle();
    }
  }
  end(): void {
    if (this.index < this.blobs.length) throw new ArchiveError('its data is shorter than its blobs');
  }
}

/** Where the chunks an archive names come from: the zstd bytes of `chunks/<hash>.zst`, or null when there is none. */
export type ChunkLoader = (hash: string) => Promise<Uint8Array | null>;

/**
 * Verifies a decompressed archive against its ArtifactHash: listing well-formed, blob table equal to
 * the files' blobs, every blob's bytes (inline or across chunks, each chunk checked against its
 * name) hashing to the blob, and the rebuilt root artifact hashing to `expected`. Rejects with
 * ARCHIVE_INVALID / MANIFEST_MISMATCH naming `what`.
 */
export async function verifyArtifactArchive(bytes: Uint8Array, expected: string, loadChunk: ChunkLoader, what: string): Promise<void> {
  try {
    const archive = decodeArchive(bytes);
    const needed = new Set(archive.entries.flatMap((e) => (e.node.kind === 'file' ? [e.node.blob] : [])));
    let total = 0;
    for (const b of archive.blobs) {
      if (!needed.delete(b.hash)) throw new ArchiveError(`blob ${b.hash} is listed twice or belongs to no file`);
      total += b.length;
    }
    if (needed.size > 0) throw new ArchiveError(`blob ${[...needed][0]} of a file is missing from the blob table`);
    const { hash } = await rebuild(archive);
    if (hash !== expected)
      fail('MANIFEST_MISMATCH', `${what} rebuilds to artifact ${hash}, not the ${expected} its name says; nothing was stored`);
    const blobs = new BlobCheck(archive.blobs, await createBLAKE3());
    if (archive.data.kind === 'inline') {
      if (archive.data.bytes.length !== total)
        throw new ArchiveError(`its inline data has ${archive.data.bytes.length} bytes, its blobs ${total}`);
      blobs.update(archive.data.bytes);
    } else {
      const chunkHasher = await createBLAKE3();
      for (const chunk of archive.data.chunks) {
        if (chunk.length > MAX_CHUNK_DATA) throw new ArchiveError(`chunk ${chunk.hash} is longer than brioche's chunks (8 MiB)`);
        const zst = await loadChunk(chunk.hash);
        if (!zst) throw new ArchiveError(`it needs chunks/${chunk.hash}.zst, which is not in the cache (upload the chunks first)`);
        const data = unzstdBounded(zst, { maxOutput: chunk.length, maxWindow: 2 * MAX_CHUNK_DATA }, `chunks/${chunk.hash}.zst`);
        if (data.length !== chunk.length)
          throw new ArchiveError(`chunk ${chunk.hash} has ${data.length} bytes, the archive says ${chunk.length}`);
        if (chunkHasher.init().update(data).digest('hex') !== chunk.hash)
          throw new ArchiveError(`chunk ${chunk.hash} does not hash to its name`);
        blobs.update(data);
      }
    }
    blobs.end();
  } catch (err) {
    if (err instanceof ArchiveError)
      fail('ARCHIVE_INVALID', `${what} is not a valid brioche artifact archive: ${err.message}; nothing was stored`);
    throw err;
  }
}
