import { blake3 } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { artifactHash, artifactJson, EMPTY_DIRECTORY, tickDecode, tickEncode, type FileArtifact } from './artifact-hash.js';

const file = (contentBlob: string, executable = false, resources = EMPTY_DIRECTORY): FileArtifact => ({
  type: 'file',
  contentBlob,
  executable,
  resources,
});

describe('artifact hashes (the vectors of brioche tests/recipe_hash_stable.rs)', () => {
  it('reproduces all eight', async () => {
    const hello = await blake3('hello');
    expect(hello).toBe('ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f');
    const helloFile = '042cbcf2fc68cccbde296bcb6bae718ca625866b1c245c8e980cef7a0a5cf269';
    expect(await artifactHash(EMPTY_DIRECTORY)).toBe('2e4799f8f3b8e26761b4ab8700222d0b112737b601870de583f371f8ba03d08d');
    expect(await artifactHash(file(hello))).toBe(helloFile);
    expect(await artifactHash(file(await blake3('hi')))).toBe('0db68b5a219eb5ec35887d86401a2991445acd5b37e3a5893bf78ffce0df346b');
    expect(await artifactHash(file(hello, true))).toBe('65b1f6376f34e88546d5f313b8e2dd7f2516e5c2d78500c7f6f474cc0141fd20');
    const dir = { type: 'directory' as const, entries: { 'foo.txt': helloFile } };
    expect(await artifactHash(dir)).toBe('39beed924e377831f4fed7dbc9a7c5cdb700d8d677a27c873190a81eef69ca28');
    const withResources = file(hello, false, dir);
    expect(artifactJson(withResources)).toBe(
      `{"contentBlob":"${hello}","executable":false,"resources":{"entries":{"foo.txt":"${helloFile}"},"type":"directory"},"type":"file"}`,
    );
    expect(await artifactHash(withResources)).toBe('b02bb2a50344129ab3684eaf4eafedc8a550049e85006ee6a7fdefd79c6db345');
    expect(await artifactHash({ type: 'symlink', target: 'foo' })).toBe('148b4e771e39cd0309404ac40bb0ce382557dea7ac258be23eb633cf051b4446');
    expect(await artifactHash({ type: 'symlink', target: '/foo' })).toBe(
      '9819e3b1d518885c9e759a59799b46ab27d39a4d15c6b891807b192bdc5c2225',
    );
  });
});

describe('tick encoding', () => {
  const cases: Array<[Uint8Array, string]> = [
    [Buffer.from('`'), '``'],
    [Uint8Array.of(0xff), '`FF'],
    [Buffer.from('🙂'), '`F0`9F`99`82'],
    [Buffer.from('a b\t\n\r~'), 'a b\t\n\r~'],
    [Uint8Array.of(0, 0x7f, 0x60, 0x41), '`00`7F``A'],
  ];
  it.each(cases)('encodes and decodes %j', (bytes, text) => {
    expect(tickEncode(bytes)).toBe(text);
    expect(Buffer.from(tickDecode(text)!)).toEqual(Buffer.from(bytes));
  });

  it('refuses what brioche would not write', () => {
    expect(tickDecode('`ff')).toBeNull();
    expect(tickDecode('a`')).toBeNull();
    expect(tickDecode('é')).toBeNull();
  });
});
