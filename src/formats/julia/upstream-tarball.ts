/**
 * Tarballs from an upstream Pkg server: verified by tree hash while they stream in (before the proxy
 * stores them), and read back from the blob store for `larder mirror`. Memory stays bounded: the tar is
 * hashed entry by entry, never held whole.
 */
import { PassThrough, Readable } from 'node:stream';
import { fail } from '../../core/errors.js';
import { readTarEntries, tarTreeHashes } from './tree-hash.js';

const GZIP = Buffer.from([0x1f, 0x8b]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** The first bytes of a stream (at least `n` unless it ends first), and the whole stream again. */
async function sniff(body: Readable, n: number): Promise<{ head: Buffer; whole: Readable }> {
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    first.push(next.value);
    size += next.value.length;
  }
  const whole = Readable.from(
    (async function* () {
      yield* first;
      if (done) return;
      for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
    })(),
  );
  return { head: Buffer.concat(first), whole };
}

/** Whether a tarball is gzip (else plain tar), by its magic bytes; zstd is refused (Node has no zstd). */
function isGzip(head: Buffer): boolean {
  if (head.subarray(0, 4).equals(ZSTD))
    fail('ARCHIVE_INVALID', 'is zstd-compressed, which Larder cannot verify; the upstream must serve gzip tarballs');
  return head.subarray(0, 2).equals(GZIP);
}

/**
 * Feeds `body` to `consume` without ever leaving `body` waiting: if `consume` stops early (it failed),
 * the rest of `body` is read and dropped, so whoever writes into `body` is never blocked.
 */
async function drainingInto<T>(body: Readable, consume: (input: Readable) => Promise<T>): Promise<T> {
  const inner = new PassThrough();
  let stopped = false;
  body.on('data', (chunk: Buffer) => {
    if (stopped || inner.destroyed) return;
    if (!inner.write(chunk)) {
      body.pause();
      inner.once('drain', () => body.resume());
    }
  });
  body.once('end', () => inner.end());
  body.once('close', () => {
    if (!body.readableEnded) inner.destroy(new Error('the download broke off'));
  });
  const stop = () => {
    stopped = true;
    inner.removeAllListeners('drain');
    body.resume();
  };
  inner.once('close', stop);
  try {
    return await consume(inner);
  } finally {
    stop();
  }
}

/**
 * Checks a tarball's tree hash as it streams (protocols/julia.md §4): a registry tarball by its tar tree
 * hash with either `skip_empty` setting, a package or artifact tarball by the git tree hash of what it
 * extracts to (directories without files and `.git` entries left out). Rejects with a message saying why.
 */
export async function checkTarballTree(
  body: Readable,
  kind: 'registry' | 'package' | 'artifact',
  expected: string,
  maxTar: number,
): Promise<void> {
  await drainingInto(body, async (input) => {
    const { head, whole } = await sniff(input, 4);
    const hashes = await tarTreeHashes(whole, { skipGit: kind !== 'registry', gzip: isGzip(head), maxUnpackedSize: maxTar });
    const ok = kind === 'registry' ? hashes.keepEmpty === expected || hashes.skipEmpty === expected : hashes.skipEmpty === expected;
    if (!ok) fail('UPSTREAM_INTEGRITY', `has the tree hash ${hashes.skipEmpty}, not the ${expected} its path names`);
  });
}

/** Reads the files `want` selects from a stored tarball (gzip or plain tar); other entries are skipped. */
export async function readTarballFiles(body: Readable, want: (path: string) => boolean, maxTar: number): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const { head, whole } = await sniff(body, 4);
  await readTarEntries(
    whole,
    async ({ header, parts, body: data }) => {
      const path = parts.join('/');
      if (header.type !== 'file' || !want(path)) return;
      const chunks: Buffer[] = [];
      for await (const c of data) chunks.push(c);
      files.set(path, Buffer.concat(chunks));
    },
    { gzip: isGzip(head), maxUnpackedSize: maxTar },
  );
  return files;
}
