import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { parse } from 'smol-toml';
import { LarderError } from '../../core/errors.js';
import { byteBudget } from '../../core/byte-budget.js';
import { formatSize } from '../../core/units.js';

export interface CrateArchiveLimits {
  maxUnpackedSize: number;
  maxEntries: number;
}

export interface CrateManifest {
  name: string;
  version: string;
  /** Cargo.toml text as found in the archive */
  text: string;
  /** parsed TOML */
  toml: Record<string, unknown>;
}

const MAX_MANIFEST_SIZE = 1024 * 1024;

/** What tar-stream yields per entry; at run time `type` and `linkname` may also be null. */
type TarEntry = AsyncIterable<Buffer> & { header: tar.Header };
const REBUILD = 'rebuild it with `cargo package`';

/**
 * Reads a .crate (gzip tar) from a stream with constant memory and validates its layout;
 * resolves with its Cargo.toml. The input is always consumed to its end or destroyed.
 */
export async function inspectCrateArchive(
  crate: NodeJS.ReadableStream | Readable,
  expected: { name: string; vers: string },
  limits: CrateArchiveLimits,
): Promise<CrateManifest> {
  const gunzip = createGunzip();
  const extractor = tar.extract();
  // The stage that emits an error first is where it came from; later ones are pipeline teardown.
  let origin: 'source' | 'gzip' | 'tar' | undefined;
  const onSourceError = () => {
    origin ??= 'source';
  };
  crate.on('error', onSourceError);
  gunzip.on('error', () => {
    origin ??= 'gzip';
  });
  extractor.on('error', () => {
    origin ??= 'tar';
  });

  const piping = pipeline(
    crate,
    gzipMagicCheck(),
    gunzip,
    byteBudget(limits.maxUnpackedSize, () => tooLarge(limits.maxUnpackedSize)),
    extractor,
  );
  const reading = readEntries(extractor, `${expected.name}-${expected.vers}`, expected, limits);
  const [piped, read] = await Promise.allSettled([piping, reading]);
  crate.off('error', onSourceError);
  if (piped.status === 'fulfilled' && read.status === 'fulfilled') return read.value;

  const errors = [read, piped].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const own = errors.find((e) => e instanceof LarderError);
  if (own) throw own;
  throw describeStreamError(errors[0], origin);
}

async function readEntries(
  extractor: tar.Extract,
  root: string,
  expected: { name: string; vers: string },
  limits: CrateArchiveLimits,
): Promise<CrateManifest> {
  const manifestPath = `${root}/Cargo.toml`;
  let entries = 0;
  let claimed = 0;
  let manifest: CrateManifest | undefined;
  for await (const entry of extractor as AsyncIterable<TarEntry>) {
    const header = entry.header;
    if (++entries > limits.maxEntries) {
      throw new LarderError(
        'ARCHIVE_TOO_LARGE',
        `the .crate has more than ${limits.maxEntries} entries, the limit of this registry; exclude files from the package (see \`cargo package --list\`)`,
      );
    }
    checkEntry(header, root);
    // Header sizes let a bomb fail before it is inflated; byteBudget still counts the real bytes.
    claimed += header.size ?? 0;
    if (claimed > limits.maxUnpackedSize) throw tooLarge(limits.maxUnpackedSize);
    if (header.name === manifestPath) {
      if (manifest) throw new LarderError('ARCHIVE_INVALID', `the .crate contains ${manifestPath} more than once; ${REBUILD}`);
      manifest = parseManifest(await readManifest(entry, manifestPath), manifestPath, expected);
    } else {
      for await (const chunk of entry) void chunk;
    }
  }
  if (!manifest) throw new LarderError('ARCHIVE_INVALID', `the .crate has no ${manifestPath}; ${REBUILD}`);
  return manifest;
}

function checkEntry(header: tar.Header, root: string): void {
  const path = header.name;
  const shown = printable(path);
  if (header.type === 'symlink' || header.type === 'link') {
    throw new LarderError(
      'ARCHIVE_INVALID',
      `links are not allowed in a .crate: ${shown} -> ${printable(header.linkname ?? '')}; ${REBUILD} from a checkout without symlinked package files`,
    );
  }
  if (header.type !== 'file' && header.type !== 'directory') {
    throw new LarderError(
      'ARCHIVE_INVALID',
      `only regular files and directories are allowed in a .crate, but ${shown} is a ${header.type ?? 'entry of unknown type'}; ${REBUILD}`,
    );
  }
  if (header.type === 'directory' && (header.size ?? 0) > 0) {
    throw new LarderError('ARCHIVE_INVALID', `the directory entry ${shown} in the .crate claims to have content; ${REBUILD}`);
  }
  const bad = (why: string) => new LarderError('ARCHIVE_INVALID', `the .crate entry ${shown} ${why}; ${REBUILD}`);
  if (path.includes('\0')) throw bad('contains a NUL byte');
  if (path.includes('\\')) throw bad('contains a backslash');
  if (path.startsWith('/')) throw bad('is an absolute path');
  const parts = path.split('/');
  if (parts.includes('..')) throw bad('contains a ".." component');
  // A trailing "/" (directory entries) is the only empty component allowed.
  if (parts.some((p, i) => p === '.' || (p === '' && i !== parts.length - 1))) throw bad('is not a normalised path');
  const isRoot = header.type === 'directory' && (path === root || path === `${root}/`);
  if (!isRoot && !(path.startsWith(`${root}/`) && path.length > root.length + 1)) {
    throw bad(`is not inside ${root}/ (every file must lie under {name}-{version}/ of the published crate)`);
  }
}

async function readManifest(entry: TarEntry, manifestPath: string): Promise<string> {
  const size = entry.header.size ?? 0;
  if (entry.header.type !== 'file')
    throw new LarderError('ARCHIVE_INVALID', `${manifestPath} in the .crate is not a regular file; ${REBUILD}`);
  if (size > MAX_MANIFEST_SIZE) {
    throw new LarderError('ARCHIVE_TOO_LARGE', `${manifestPath} in the .crate is ${size} bytes, more than the 1 MiB allowed`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new LarderError('ARCHIVE_INVALID', `${manifestPath} in the .crate is not valid UTF-8; ${REBUILD}`);
  }
}

function parseManifest(text: string, manifestPath: string, expected: { name: string; vers: string }): CrateManifest {
  let toml: Record<string, unknown>;
  try {
    toml = parse(text);
  } catch (err) {
    const reason = String((err as Error).message).split('\n')[0];
    throw new LarderError('ARCHIVE_INVALID', `${manifestPath} in the .crate is not valid TOML (${reason}); ${REBUILD}`);
  }
  const pkg = toml.package;
  const table = pkg !== null && typeof pkg === 'object' && !Array.isArray(pkg) ? (pkg as Record<string, unknown>) : {};
  const mismatch = (key: string, want: string) => {
    const found = table[key];
    if (typeof found === 'string' && found === want) return found;
    const says = typeof found === 'string' ? `says package.${key} = ${JSON.stringify(found)}` : `has no string package.${key}`;
    throw new LarderError(
      'MANIFEST_MISMATCH',
      `Cargo.toml in the .crate ${says} but the publish metadata says ${JSON.stringify(want)}; publish the .crate that \`cargo package\` built for this version`,
    );
  };
  return { name: mismatch('name', expected.name), version: mismatch('version', expected.vers), text, toml };
}

/** Fails unless the first two bytes are the gzip magic, so non-gzip uploads get a clear message. */
function gzipMagicCheck(): Transform {
  let head: Buffer | null = Buffer.alloc(0);
  const notGzip = () =>
    new LarderError(
      'ARCHIVE_INVALID',
      'the .crate is not a gzip file (it must start with bytes 1f 8b); upload the file `cargo package` produced',
    );
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (head === null) return callback(null, chunk);
      const seen: Buffer = Buffer.concat([head, chunk]);
      if (seen.length < 2) {
        head = seen;
        return callback();
      }
      head = null;
      callback(seen[0] === 0x1f && seen[1] === 0x8b ? null : notGzip(), seen);
    },
    flush(callback) {
      callback(head === null ? null : notGzip());
    },
  });
}

function tooLarge(max: number): LarderError {
  return new LarderError(
    'ARCHIVE_TOO_LARGE',
    `the .crate unpacks to more than ${formatSize(max)}, the limit of this registry; exclude large files from the package (see \`cargo package --list\`)`,
  );
}

function describeStreamError(err: unknown, origin: string | undefined): unknown {
  const e = err as { code?: string; message?: string };
  if (origin === 'gzip' || e?.code?.startsWith('Z_')) {
    return new LarderError(
      'ARCHIVE_INVALID',
      `the .crate is not a valid gzip stream (${e?.message}); it may be truncated or corrupt, ${REBUILD}`,
    );
  }
  if (origin === 'tar') {
    return new LarderError('ARCHIVE_INVALID', `the .crate does not contain a valid tar archive (${e?.message}); ${REBUILD}`);
  }
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new LarderError('ARCHIVE_INVALID', 'the .crate ended before the archive was complete; retry the upload');
  }
  return err; // the source failed (e.g. the connection dropped): not the archive's fault
}

function printable(s: string): string {
  // Control characters are exactly what must not reach a message unescaped.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
