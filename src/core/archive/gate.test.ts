import { Readable } from 'node:stream';
import { deflateRawSync, crc32, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makeZip, tarball, type TarEntry, type ZipEntry } from '../../../test/support/archives.js';
import { LarderError } from '../errors.js';
import { gateMessages, gateTar, gateZip, type GateOptions } from './index.js';

const MiB = 1024 * 1024;
type Container = 'tar' | 'tar.gz' | 'zip';
const CONTAINERS: Container[] = ['tar', 'tar.gz', 'zip'];

/** One entry, written the same way into any container (zip: type in the Unix mode, symlink target as body). */
interface Spec {
  name: string;
  body?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo';
  linkname?: string;
  mode?: number;
}

async function build(container: Container, specs: Spec[]): Promise<Buffer> {
  if (container === 'zip') {
    const zipMode = { file: 0o100644, directory: 0o40755, symlink: 0o120777, fifo: 0o10644, link: 0o100644 };
    const entries: ZipEntry[] = specs.map((s) => ({
      name: s.type === 'directory' && !s.name.endsWith('/') ? `${s.name}/` : s.name,
      data: Buffer.from(s.type === 'symlink' ? (s.linkname ?? '') : (s.body ?? '')),
      mode: (zipMode[s.type ?? 'file'] & 0o170000) | (s.mode ?? zipMode[s.type ?? 'file'] & 0o7777),
    }));
    return makeZip(entries);
  }
  const tar = await tarball(specs.map((s): TarEntry => ({ ...s, type: s.type ?? 'file' })));
  return container === 'tar.gz' ? gzipSync(tar) : tar;
}

const messages = gateMessages('the test archive', 'rebuild it');
const limits = { maxEntries: 100, maxUnpackedSize: 10 * MiB };

interface Seen {
  path: string;
  type: string;
  body: string;
  linkname?: string;
  mode: number;
}

async function gate(container: Container, archive: Buffer, options: Partial<GateOptions> = {}): Promise<Seen[]> {
  const seen: Seen[] = [];
  const all: GateOptions = { limits, messages, ...options };
  const visit = async (e: Parameters<Parameters<typeof gateTar>[2]>[0]) => {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c);
    seen.push({ path: e.path, type: e.type, body: Buffer.concat(chunks).toString(), linkname: e.linkname, mode: e.mode });
  };
  if (container === 'zip') await gateZip(archive, all, visit);
  else await gateTar(Readable.from([archive]), { ...all, gzip: container === 'tar.gz' }, visit);
  return seen;
}

async function refusal(p: Promise<unknown>): Promise<LarderError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LarderError);
  return err as LarderError;
}

async function refused(container: Container, specs: Spec[], options: Partial<GateOptions> = {}): Promise<LarderError> {
  return refusal(gate(container, await build(container, specs), options));
}

describe.each(CONTAINERS)('archive gate: %s', (container) => {
  it('yields files and directories below the root, with their bodies and modes; the root itself is not an entry', async () => {
    const specs: Spec[] = [
      { name: 'pkg-1.0/', type: 'directory' },
      { name: 'pkg-1.0/src/', type: 'directory' },
      { name: 'pkg-1.0/src/lib.rs', body: 'fn main() {}\n' },
      { name: 'pkg-1.0/./bin//run', body: '#!/bin/sh\n', mode: 0o755 },
    ];
    const seen = await gate(container, await build(container, specs), { root: 'pkg-1.0' });
    expect(seen.map(({ path, type, body }) => ({ path, type, body }))).toEqual([
      { path: 'src', type: 'directory', body: '' },
      { path: 'src/lib.rs', type: 'file', body: 'fn main() {}\n' },
      { path: 'bin/run', type: 'file', body: '#!/bin/sh\n' },
    ]);
    expect(seen[2].mode & 0o111).not.toBe(0);
  });

  it('refuses "..", absolute paths, drive letters, backslashes and NUL, naming the entry', async () => {
    // A tar header ends a name at NUL (tar-stream reads "a\0b" as "a"); a zip name can hold one.
    const nul = container === 'zip' ? ['a\0b'] : [];
    for (const name of ['a/../../evil', '../evil', '/etc/passwd', 'C:/evil', 'a\\..\\b', ...nul]) {
      const err = await refused(container, [{ name, body: 'x' }]);
      expect(err.code).toBe('ARCHIVE_INVALID');
      // zip names with these are refused by the zip reader itself, in its words: the name is still there.
      if (container !== 'zip') expect(err.message).toMatch(/^the test archive entry .* (contains|is an absolute path).*; rebuild it$/);
    }
  });

  it('refuses "." and empty components only with strict paths', async () => {
    for (const name of ['a/./b', 'a//b']) {
      expect(await gate(container, await build(container, [{ name, body: 'x' }]))).toMatchObject([{ path: 'a/b' }]);
      const err = await refused(container, [{ name, body: 'x' }], { paths: 'strict' });
      expect(err.message).toContain('is not a normalised path');
    }
  });

  it('refuses an entry outside the root, including a sibling with the same prefix', async () => {
    for (const name of ['other/a', 'pkg-1.0x/a', 'README']) {
      const err = await refused(container, [{ name, body: 'x' }], { root: 'pkg-1.0' });
      expect(err.code).toBe('ARCHIVE_INVALID');
      expect(err.message).toContain(`the test archive entry ${name} is not inside pkg-1.0/`);
    }
  });

  it('refuses symlinks by default, naming both ends', async () => {
    const err = await refused(container, [{ name: 'a', type: 'symlink', linkname: '/etc/passwd' }]);
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('contains a symlink a ->');
  });

  it('allows symlinks that stay inside the root, refuses those that leave it and paths through them', async () => {
    const inside = await gate(
      container,
      await build(container, [
        { name: 'r/src/lib.jl', body: 'x' },
        { name: 'r/links/lib', type: 'symlink', linkname: '../src/lib.jl' },
      ]),
      { root: 'r', symlinks: 'inside' },
    );
    expect(inside[1]).toMatchObject({ path: 'links/lib', type: 'symlink', linkname: '../src/lib.jl', body: '' });
    for (const linkname of ['../../etc/passwd', '/etc/passwd', '../..']) {
      const err = await refused(container, [{ name: 'r/links/l', type: 'symlink', linkname }], { root: 'r', symlinks: 'inside' });
      expect(err.message).toContain('is a symlink pointing outside the archive');
    }
    const through = await refused(
      container,
      [
        { name: 'l', type: 'symlink', linkname: 'd' },
        { name: 'l/passwd', body: 'x' },
      ],
      { symlinks: 'inside' },
    );
    expect(through.message).toContain('lies under the symlink l');
    const kept = await gate(container, await build(container, [{ name: 'abs', type: 'symlink', linkname: '/etc/passwd' }]), {
      symlinks: 'any',
    });
    expect(kept).toMatchObject([{ path: 'abs', linkname: '/etc/passwd' }]);
  });

  it('refuses devices and fifos', async () => {
    const err = await refused(container, [{ name: 'pipe', type: 'fifo' }]);
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toMatch(/pipe is a fifo; only regular files and directories/);
  });

  it('refuses duplicates and files that are also directories when asked to, else later entries follow', async () => {
    const twice: Spec[] = [
      { name: 'a', body: 'x' },
      { name: 'a', body: 'y' },
    ];
    expect((await refused(container, twice, { duplicates: 'reject' })).message).toContain('contains a more than once');
    expect((await gate(container, await build(container, twice))).map((e) => e.body)).toEqual(['x', 'y']);
    const clash: Spec[] = [
      { name: 'a', body: 'x' },
      { name: 'a/b', body: 'y' },
    ];
    expect((await refused(container, clash, { duplicates: 'reject' })).message).toContain('has both a file a and the entry a/b');
    const dirThenFile: Spec[] = [
      { name: 'd/', type: 'directory' },
      { name: 'd', body: 'x' },
    ];
    expect((await refused(container, dirThenFile, { duplicates: 'reject' })).code).toBe('ARCHIVE_INVALID');
  });

  it('refuses more entries than the limit', async () => {
    const specs = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, body: 'x' }));
    const err = await refused(container, specs, { limits: { ...limits, maxEntries: 5 } });
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toBe('the test archive has more than 5 entries, the limit of this registry; rebuild it');
  });

  it('refuses files whose sizes add up to more than the unpacked limit', async () => {
    const specs = [
      { name: 'a', body: Buffer.alloc(600 * 1024) },
      { name: 'b', body: Buffer.alloc(600 * 1024) },
    ];
    const err = await refused(container, specs, { limits: { ...limits, maxUnpackedSize: MiB } });
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toContain('unpacks to more than 1 MiB');
  });
});

describe('archive gate: bombs', () => {
  const small = { maxEntries: 5, maxUnpackedSize: MiB };

  it('tar.gz: stops inflating past the limit even when no header claims the bytes', async () => {
    const bomb = gzipSync(Buffer.concat([await tarball([{ name: 'a', body: 'x' }]), Buffer.alloc(64 * MiB)]));
    expect(bomb.length).toBeLessThan(MiB);
    const started = Date.now();
    expect((await refusal(gate('tar.gz', bomb, { limits: small }))).code).toBe('ARCHIVE_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('tar.gz and zip: refuse a compression ratio above maxRatio, and accept it without one', async () => {
    const zeros = Buffer.alloc(20 * MiB);
    const roomy = { maxEntries: 5, maxUnpackedSize: 100 * MiB };
    const tgz = gzipSync(await tarball([{ name: 'zeros', body: zeros }]));
    const deflated = deflateRawSync(zeros);
    const zip = makeZip([{ name: 'zeros', deflated: { data: deflated, crc: crc32(zeros), size: zeros.length } }]);
    for (const [container, archive] of [
      ['tar.gz', tgz],
      ['zip', zip],
    ] as const) {
      const err = await refusal(gate(container, archive, { limits: { ...roomy, maxRatio: 100 } }));
      expect(err.code).toBe('ARCHIVE_TOO_LARGE');
      expect(await gate(container, archive, { limits: roomy })).toMatchObject([{ path: 'zeros' }]);
    }
  });

  it('zip: refuses a declared size over the limit before inflating, and a size that lies', async () => {
    const tiny = deflateRawSync(Buffer.alloc(10));
    const big = makeZip([{ name: 'big', deflated: { data: tiny, crc: crc32(Buffer.alloc(10)), size: 2 * MiB } }]);
    expect((await refusal(gate('zip', big, { limits: small }))).code).toBe('ARCHIVE_TOO_LARGE');
    const lie = makeZip([{ name: 'a', deflated: { data: deflateRawSync(Buffer.alloc(1000)), crc: crc32(Buffer.alloc(1000)), size: 10 } }]);
    expect((await refusal(gate('zip', lie, { limits: small }))).code).toBe('ARCHIVE_INVALID');
  });
});

describe('archive gate: links and damage (tar)', () => {
  it('hardlinks: refused by default, allowed inside the root, refused when they leave it', async () => {
    const specs: Spec[] = [
      { name: 'r/f', body: 'x' },
      { name: 'r/h', type: 'link', linkname: 'r/f' },
    ];
    expect((await refused('tar', specs)).message).toContain('contains a hardlink r/h -> r/f');
    expect(await gate('tar', await build('tar', specs), { root: 'r', hardlinks: 'inside' })).toMatchObject([
      { path: 'f' },
      { path: 'h', type: 'link', linkname: 'f' },
    ]);
    for (const linkname of ['../etc/passwd', '/etc/passwd', 'other/f']) {
      const err = await refused('tar', [{ name: 'r/h', type: 'link', linkname }], { root: 'r', hardlinks: 'inside' });
      expect(err.message).toContain('is a hardlink pointing outside the archive');
    }
  });

  it('refuses a directory that claims content, a non-gzip tar.gz, and truncated archives', async () => {
    const dir = await tarball([{ name: 'd/', type: 'directory', size: 10 }]);
    expect((await refusal(gate('tar', dir))).message).toContain('directory entry d/ claims to have content');
    expect((await refusal(gate('tar.gz', Buffer.from('not gzip')))).message).toContain('is not gzip-compressed');
    const tgz = gzipSync(await tarball([{ name: 'f', body: Buffer.alloc(5000, 1) }]));
    expect((await refusal(gate('tar.gz', tgz.subarray(0, 100)))).code).toBe('ARCHIVE_INVALID');
    expect((await refusal(gate('zip', Buffer.from('PK not really')))).message).toMatch(/^the test archive is not a valid zip archive/);
  });

  it('passes an error of the input stream through unchanged (a dropped connection is not the archive)', async () => {
    const input = new Readable({ read() {} });
    const reading = gateTar(input, { limits, messages, gzip: true }, () => {});
    input.destroy(new Error('connection reset'));
    await expect(reading).rejects.toThrow('connection reset');
  });
});
