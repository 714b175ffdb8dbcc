import { describe, expect, it } from 'vitest';
import { readModuleZip, writeZip } from './zip.js';

const LIMITS = { maxEntries: 100, maxUnpackedSize: 1 << 20, maxManifestSize: 1 << 16 };

describe('module zips', () => {
  it('writes the same bytes for the same files in any order, and reads back through the gate', async () => {
    const files = [
      { path: 'src/a.mbt', data: Buffer.from('a'.repeat(500)) },
      { path: 'moon.mod.json', data: Buffer.from('{"name":"alice/z","version":"1.0.0"}') },
      { path: 'bin/run', data: Buffer.from('#!/bin/sh\n'), executable: true },
    ];
    const one = writeZip(files);
    expect(writeZip([...files].reverse())).toEqual(one);
    expect(await readModuleZip(one, LIMITS)).toEqual({ file: 'moon.mod.json', manifest: files[1]!.data });
  });

  it('finds moon.mod too, and refuses a zip without a root manifest', async () => {
    expect((await readModuleZip(writeZip([{ path: 'moon.mod', data: Buffer.from('name = "a/b"') }]), LIMITS)).file).toBe('moon.mod');
    await expect(readModuleZip(writeZip([{ path: 'x/moon.mod', data: Buffer.from('') }]), LIMITS)).rejects.toThrow(
      /wraps the module in a directory/,
    );
  });
});
