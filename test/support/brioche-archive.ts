/**
 * Writes Brioche artifact archives the way brioche's write_artifact_archive does (cache/archive.rs):
 * breadth-first entries, `R` for a directory already written, blobs by (length, hash), inline data
 * or fixed-size chunks (the reader does not care how chunks were cut). For tests of the cache.
 */
import { compress, init } from '@bokuweb/zstd-wasm';
import { blake3 } from 'hash-wasm';
import {
  artifactHash,
  EMPTY_DIRECTORY,
  tickEncode,
  type Artifact,
  type DirectoryArtifact,
} from '../../src/formats/brioche/artifact-hash.js';

export type Tree =
  { file: Uint8Array; executable?: boolean; resources?: Record<string, Tree> } | { symlink: string } | { dir: Record<string, Tree> };

type Component = string | 'resources-marker';

let ready = false;
const MARKER = Buffer.from('brioche_artifact_archive_v0     ');

function u(n: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  if (bytes === 2) b.writeUInt16BE(n);
  else if (bytes === 4) b.writeUInt32BE(n);
  else b.writeBigUInt64BE(BigInt(n));
  return b;
}

function path(components: Component[]): Buffer {
  return Buffer.concat([
    u(components.length, 4),
    ...components.map((c) =>
      c === 'resources-marker' ? Buffer.from('r') : Buffer.concat([Buffer.from('/'), u(Buffer.byteLength(c), 2), Buffer.from(c)]),
    ),
  ]);
}

/** The artifact of a tree and its hash, as brioche computes them. */
export async function treeArtifact(tree: Tree): Promise<{ artifact: Artifact; hash: string }> {
  const dirOf = async (entries: Record<string, Tree>): Promise<DirectoryArtifact> => {
    const out: Record<string, string> = {};
    for (const [name, t] of Object.entries(entries)) out[tickEncode(Buffer.from(name))] = (await treeArtifact(t)).hash;
    return { type: 'directory', entries: out };
  };
  let artifact: Artifact;
  if ('file' in tree)
    artifact = {
      type: 'file',
      contentBlob: await blake3(tree.file),
      executable: tree.executable ?? false,
      resources: tree.resources ? await dirOf(tree.resources) : EMPTY_DIRECTORY,
    };
  else if ('symlink' in tree) artifact = { type: 'symlink', target: tickEncode(Buffer.from(tree.symlink)) };
  else artifact = await dirOf(tree.dir);
  return { artifact, hash: await artifactHash(artifact) };
}

/** zstd-compresses bytes (zstd-wasm, initialised once: a second init() corrupts what it compresses). */
export async function zstd(data: Uint8Array, level = 3): Promise<Buffer> {
  if (!ready) {
    await init();
    ready = true;
  }
  return Buffer.from(compress(data, level));
}

export interface BuiltArchive {
  /** The artifact hash: the key is `artifacts/<hash>.bar.zst`. */
  hash: string;
  /** The zstd-compressed archive. */
  zst: Buffer;
  /** The decompressed archive. */
  raw: Buffer;
  /** Chunks (when chunked): hash → zstd bytes, to upload as `chunks/<hash>.zst`. */
  chunks: Map<string, Buffer>;
}

/** Builds the archive of a tree; `chunkSize` set → the data goes to chunks of that size instead of inline. */
export async function buildArchive(tree: Tree, opts: { chunkSize?: number; tamper?: (raw: Buffer) => Buffer } = {}): Promise<BuiltArchive> {
  if (!ready) {
    await init();
    ready = true;
  }
  const parts: Buffer[] = [MARKER];
  const blobs = new Map<string, Uint8Array>();
  const seen = new Map<string, Component[]>();
  const queue: Array<[Component[], Tree]> = [[[], tree]];
  while (queue.length > 0) {
    const [p, t] = queue.shift()!;
    if ('file' in t) {
      const h = await blake3(t.file);
      blobs.set(h, t.file);
      parts.push(Buffer.from('f'), path(p), Buffer.from(t.executable ? 'x+' : 'x-'), Buffer.from(h, 'hex'));
      if (t.resources && Object.keys(t.resources).length > 0) queue.push([[...p, 'resources-marker'], { dir: t.resources }]);
    } else if ('symlink' in t) {
      parts.push(Buffer.from('s'), path(p), u(Buffer.byteLength(t.symlink), 4), Buffer.from(t.symlink));
    } else {
      const id = (await treeArtifact(t)).hash;
      const ref = seen.get(id);
      if (ref) parts.push(Buffer.from('R'), path(p), path(ref));
      else {
        seen.set(id, p);
        if (Object.keys(t.dir).length === 0) parts.push(Buffer.from('d'), path(p));
        for (const [name, child] of Object.entries(t.dir).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
          queue.push([[...p, name], child]);
      }
    }
  }
  const order = [...blobs].sort(([ha, a], [hb, b]) => a.length - b.length || (ha < hb ? -1 : 1));
  for (const [h, data] of order) parts.push(Buffer.from('b'), Buffer.from(h, 'hex'), u(data.length, 8));
  const data = Buffer.concat(order.map(([, d]) => d));
  const chunks = new Map<string, Buffer>();
  if (opts.chunkSize) {
    parts.push(Buffer.from('C'));
    for (let at = 0; at < data.length; at += opts.chunkSize) {
      const chunk = data.subarray(at, at + opts.chunkSize);
      const h = await blake3(chunk);
      chunks.set(h, Buffer.from(compress(chunk, 3)));
      parts.push(Buffer.from('c'), Buffer.from(h, 'hex'), u(chunk.length, 8));
    }
  } else parts.push(Buffer.from('D'), data);
  let raw: Buffer = Buffer.concat(parts);
  if (opts.tamper) raw = opts.tamper(raw);
  return { hash: (await treeArtifact(tree)).hash, zst: Buffer.from(compress(raw, 3)), raw, chunks };
}
