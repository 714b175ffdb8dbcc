import { describe, expect, it } from 'vitest';
import { buildArchive, type Tree } from '../../../test/support/brioche-archive.js';
import { decodeArchive, verifyArtifactArchive } from './artifact-archive.js';

const noChunks = async () => null;
const bytes = (s: string) => Buffer.from(s);

const shared = { 'lib.so': { file: bytes('shared object'), executable: true } };
const TREE: Tree = {
  dir: {
    'README.md': { file: bytes('# hi\n') },
    bin: { dir: { tool: { file: bytes('#!/bin/sh\necho hi\n'), executable: true, resources: { lib: { dir: shared } } } } },
    lib: { dir: shared },
    'link`🙂': { symlink: '../bin/tool' },
    empty: { dir: {} },
    same: { file: bytes('# hi\n') },
  },
};

describe('artifact archives', () => {
  it('decodes entries, references, blobs and inline data as brioche writes them', async () => {
    const built = await buildArchive(TREE);
    const decoded = decodeArchive(built.raw);
    expect(decoded.references).toHaveLength(1);
    expect(decoded.blobs.map((b) => b.length)).toEqual([5, 13, 18]);
    expect(decoded.data.kind).toBe('inline');
    await verifyArtifactArchive(built.raw, built.hash, noChunks, 'artifact x');
  });

  it('rebuilds a root file and a root symlink', async () => {
    for (const tree of [{ file: bytes('x'), executable: true }, { symlink: '/foo' }, { dir: {} }] as Tree[]) {
      const built = await buildArchive(tree);
      await verifyArtifactArchive(built.raw, built.hash, noChunks, 'artifact x');
    }
  });

  it('reads blob data across chunks, each checked against its name', async () => {
    const big = Buffer.alloc(300_000, 7);
    const tree: Tree = { dir: { a: { file: big }, b: { file: bytes('small') }, c: { file: Buffer.alloc(0) } } };
    const built = await buildArchive(tree, { chunkSize: 100_000 });
    expect(built.chunks.size).toBe(3);
    const load = async (h: string) => built.chunks.get(h) ?? null;
    await verifyArtifactArchive(built.raw, built.hash, load, 'artifact x');
    await expect(verifyArtifactArchive(built.raw, built.hash, noChunks, 'artifact x')).rejects.toThrow(/needs chunks\/[0-9a-f]{64}\.zst/);
    const other = (await buildArchive({ file: Buffer.alloc(100_000, 1) }, { chunkSize: 100_000 })).chunks.values().next().value!;
    await expect(verifyArtifactArchive(built.raw, built.hash, async () => other, 'artifact x')).rejects.toThrow(
      /does not hash to its name/,
    );
  });

  it('refuses an archive whose artifact is not the one its name says, or whose blobs are wrong', async () => {
    const built = await buildArchive(TREE);
    await expect(verifyArtifactArchive(built.raw, '0'.repeat(64), noChunks, 'artifact x')).rejects.toMatchObject({
      code: 'MANIFEST_MISMATCH',
    });
    // Flip one byte of the inline data: the blob no longer hashes to its name.
    const tampered = Buffer.from(built.raw);
    tampered[tampered.length - 1] ^= 1;
    await expect(verifyArtifactArchive(tampered, built.hash, noChunks, 'artifact x')).rejects.toThrow(/blob [0-9a-f]{64} does not hash/);
    await expect(verifyArtifactArchive(built.raw.subarray(0, built.raw.length - 1), built.hash, noChunks, 'artifact x')).rejects.toThrow(
      /inline data has/,
    );
  });

  it('refuses broken structure with a message', async () => {
    const built = await buildArchive(TREE);
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('not an archive at all, not at all'), /marker/],
      [built.raw.subarray(0, 40), /ends in the middle|ends before/],
      [Buffer.concat([built.raw.subarray(0, 32), Buffer.from('Z')]), /unknown entry tag 0x5a/],
      [Buffer.concat([built.raw.subarray(0, 32), Buffer.from('D')]), /no entries/],
    ];
    for (const [raw, message] of cases) {
      await expect(verifyArtifactArchive(raw, built.hash, noChunks, 'artifact x')).rejects.toMatchObject({
        code: 'ARCHIVE_INVALID',
        message,
      });
    }
  });

  it('refuses a reference to the directory that contains it', async () => {
    const marker = Buffer.from('brioche_artifact_archive_v0     ');
    const p = (...names: string[]) => {
      const parts = [Buffer.alloc(4)];
      parts[0]!.writeUInt32BE(names.length);
      for (const n of names) parts.push(Buffer.from('/'), Buffer.from([0, n.length]), Buffer.from(n));
      return Buffer.concat(parts);
    };
    const raw = Buffer.concat([marker, Buffer.from('d'), p('a', 'b'), Buffer.from('R'), p('a', 'b'), p('a'), Buffer.from('D')]);
    await expect(verifyArtifactArchive(raw, '0'.repeat(64), noChunks, 'artifact x')).rejects.toThrow(
      /refers to a directory that contains it/,
    );
  });
});
