import { tarball, type TarEntry as Entry } from '../../../test/support/archives.js';
import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { LarderError } from '../../core/errors.js';
import { inspectCrateArchive, type CrateArchiveLimits } from './crate-archive.js';

const MiB = 1024 * 1024;
const limits: CrateArchiveLimits = { maxUnpackedSize: 50 * MiB, maxEntries: 100 };
const expected = { name: 'foo', vers: '1.0.0' };

function manifest(name = 'foo', version = '1.0.0'): string {
  return `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\n`;
}

function validEntries(): Entry[] {
  return [
    { name: 'foo-1.0.0/', type: 'directory' },
    { name: 'foo-1.0.0/Cargo.toml', body: manifest() },
    { name: 'foo-1.0.0/Cargo.toml.orig', body: manifest() },
    { name: 'foo-1.0.0/src/lib.rs', body: 'pub fn hello() {}\n' },
  ];
}

async function crateOf(entries: Entry[]): Promise<Buffer> {
  return gzipSync(await tarball(entries));
}

/** Streams a buffer in small pieces, as a socket would. */
function chunked(buf: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

async function failure(input: Buffer | Readable, lim = limits, exp = expected): Promise<LarderError> {
  const stream = Buffer.isBuffer(input) ? chunked(input) : input;
  const err = await inspectCrateArchive(stream, exp, lim).then(
    () => {
      throw new Error('expected inspectCrateArchive to reject');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LarderError);
  expect(stream.destroyed).toBe(true);
  if (Buffer.isBuffer(input)) {
    // The same crate given as bytes (a small publish) is refused with the same error.
    const fromBytes = await inspectCrateArchive(input, exp, lim).then(
      () => null,
      (e: unknown) => e as LarderError,
    );
    expect({ code: fromBytes?.code, message: fromBytes?.message }).toEqual({
      code: (err as LarderError).code,
      message: (err as Error).message,
    });
  }
  return err as LarderError;
}

describe('inspectCrateArchive', () => {
  it('accepts a valid crate and returns its Cargo.toml', async () => {
    const result = await inspectCrateArchive(chunked(await crateOf(validEntries()), 7), expected, limits);
    expect(result.name).toBe('foo');
    expect(result.version).toBe('1.0.0');
    expect(result.text).toBe(manifest());
    expect(result.toml).toMatchObject({ package: { name: 'foo', version: '1.0.0', edition: '2021' } });
  });

  it('accepts a valid crate given as bytes, with the same result as from a stream', async () => {
    const crate = await crateOf(validEntries());
    expect(await inspectCrateArchive(crate, expected, limits)).toEqual(await inspectCrateArchive(chunked(crate), expected, limits));
  });

  it('accepts long paths (pax headers)', async () => {
    const long = `foo-1.0.0/${'deep/'.repeat(40)}mod.rs`;
    const result = await inspectCrateArchive(chunked(await crateOf([...validEntries(), { name: long, body: '' }])), expected, limits);
    expect(result.name).toBe('foo');
  });

  it('rejects a Cargo.toml whose name or version differs from the metadata', async () => {
    const wrongName = validEntries();
    wrongName[1].body = manifest('bar');
    let err = await failure(await crateOf(wrongName));
    expect(err.code).toBe('MANIFEST_MISMATCH');
    expect(err.message).toContain('Cargo.toml in the .crate says package.name = "bar" but the publish metadata says "foo"');

    const wrongVersion = validEntries();
    wrongVersion[1].body = manifest('foo', '1.0.1');
    err = await failure(await crateOf(wrongVersion));
    expect(err.code).toBe('MANIFEST_MISMATCH');
    expect(err.message).toContain('package.version = "1.0.1" but the publish metadata says "1.0.0"');
  });

  it('rejects a Cargo.toml without [package] as a mismatch and unparsable TOML as invalid', async () => {
    const noPackage = validEntries();
    noPackage[1].body = '[dependencies]\n';
    let err = await failure(await crateOf(noPackage));
    expect(err.code).toBe('MANIFEST_MISMATCH');
    expect(err.message).toContain('has no string package.name');

    const broken = validEntries();
    broken[1].body = '[package\nname = ';
    err = await failure(await crateOf(broken));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('is not valid TOML');
  });

  it('rejects a crate without Cargo.toml', async () => {
    const err = await failure(await crateOf(validEntries().filter((e) => e.name !== 'foo-1.0.0/Cargo.toml')));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('the .crate has no foo-1.0.0/Cargo.toml');
  });

  it('rejects an entry outside {name}-{vers}/, including a differently cased prefix', async () => {
    for (const name of ['bar-1.0.0/src/lib.rs', 'Foo-1.0.0/src/lib.rs', 'foo-1.0.0x/a', 'README.md']) {
      const err = await failure(await crateOf([...validEntries(), { name, body: 'x' }]));
      expect(err.code).toBe('ARCHIVE_INVALID');
      expect(err.message).toContain(`the .crate entry ${name} is not inside foo-1.0.0/`);
    }
  });

  it('rejects ../ traversal, absolute paths, backslashes and non-normalised paths', async () => {
    const cases: Array<[string, string]> = [
      ['foo-1.0.0/../../etc/cron.d/x', 'contains a ".." component'],
      ['/etc/passwd', 'is an absolute path'],
      ['foo-1.0.0/src\\lib.rs', 'contains a backslash'],
      ['foo-1.0.0/./Cargo.toml', 'is not a normalised path'],
      ['foo-1.0.0//Cargo.toml', 'is not a normalised path'],
    ];
    for (const [name, why] of cases) {
      const err = await failure(await crateOf([...validEntries(), { name, body: 'x' }]));
      expect(err.code).toBe('ARCHIVE_INVALID');
      expect(err.message).toContain(why);
    }
  });

  it('rejects symlinks and hard links, naming both ends', async () => {
    let err = await failure(
      await crateOf([...validEntries(), { name: 'foo-1.0.0/evil', type: 'symlink', linkname: '../../../etc/passwd' }]),
    );
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('links are not allowed in a .crate: foo-1.0.0/evil -> ../../../etc/passwd');

    err = await failure(await crateOf([...validEntries(), { name: 'foo-1.0.0/hard', type: 'link', linkname: 'foo-1.0.0/src/lib.rs' }]));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('links are not allowed in a .crate: foo-1.0.0/hard -> foo-1.0.0/src/lib.rs');
  });

  it('rejects devices and fifos', async () => {
    for (const type of ['character-device', 'block-device', 'fifo'] as const) {
      const err = await failure(await crateOf([...validEntries(), { name: 'foo-1.0.0/dev', type }]));
      expect(err.code).toBe('ARCHIVE_INVALID');
      expect(err.message).toContain(`foo-1.0.0/dev is a ${type}`);
    }
  });

  it('rejects an entry whose header claims more than the unpacked limit before inflating it', async () => {
    const archive = await tarball([...validEntries(), { name: 'foo-1.0.0/big', body: Buffer.alloc(1024) }]);
    // Patch the last entry's header (before its 1024 data bytes and the two end blocks) to claim 200 MB.
    const at = archive.length - 1024 - 1024 - 512;
    archive.write(`${(200 * MiB).toString(8).padStart(11, '0')}\0`, at + 124, 'ascii');
    archive.fill(' ', at + 148, at + 156);
    let sum = 0;
    for (let i = at; i < at + 512; i++) sum += archive[i];
    archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'ascii');
    const err = await failure(gzipSync(archive));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toContain('50 MiB');
  });

  it('stops inflating a gzip bomb as soon as it passes the limit', async () => {
    // A valid archive followed by 200 MB of zero blocks: no header claims anything, only inflation counts.
    const bomb = gzipSync(Buffer.concat([await tarball(validEntries()), Buffer.alloc(200 * MiB)]), { level: 1 });
    expect(bomb.length).toBeLessThan(2 * MiB);
    const started = Date.now();
    const err = await failure(Readable.from([bomb]));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toContain('the .crate unpacks to more than 50 MiB');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('rejects too many entries', async () => {
    const many = [...validEntries(), ...Array.from({ length: 20 }, (_, i) => ({ name: `foo-1.0.0/f${i}`, body: 'x' }))];
    const err = await failure(await crateOf(many), { maxUnpackedSize: 50 * MiB, maxEntries: 10 });
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toContain('more than 10 entries');
  });

  it('rejects input that is not gzip, even when it arrives a byte at a time', async () => {
    let err = await failure(chunked(Buffer.from('PK\u0003\u0004 this is a zip'), 1));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('the .crate is not a gzip file');

    err = await failure(Readable.from([]));
    expect(err.message).toContain('the .crate is not a gzip file');
  });

  it('rejects a truncated gzip stream', async () => {
    const crate = await crateOf(validEntries());
    const err = await failure(crate.subarray(0, Math.floor(crate.length / 2)));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('not a valid gzip stream');
  });

  it('rejects corrupt gzip data', async () => {
    const crate = await crateOf(validEntries());
    crate.fill(0x55, 20, 60);
    const err = await failure(crate);
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('not a valid gzip stream');
  });

  it('rejects gzip that does not hold a tar, or holds a truncated one', async () => {
    let err = await failure(gzipSync(Buffer.from('not a tar at all '.repeat(100))));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('does not contain a valid tar archive');

    err = await failure(gzipSync((await tarball(validEntries())).subarray(0, 1700)));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toContain('does not contain a valid tar archive');
  });

  it('passes on errors of the input stream itself', async () => {
    const crate = await crateOf(validEntries());
    const input = new Readable({ read() {} });
    input.push(crate.subarray(0, 100));
    setImmediate(() => input.destroy(new Error('connection reset')));
    await expect(inspectCrateArchive(input, expected, limits)).rejects.toThrow('connection reset');
  });
});
