import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LarderError } from './errors.js';
import { matchesSri, parseSri, sri, sriHasher, type SriAlgorithm } from './sri.js';

const run = promisify(execFile);
const ALGORITHMS: SriAlgorithm[] = ['sha256', 'sha384', 'sha512'];
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The oracle from bazel.md §6.1: `openssl dgst -<algo> -binary FILE | base64`. */
async function opensslSri(file: string, algorithm: SriAlgorithm): Promise<string> {
  const { stdout } = await run('sh', ['-c', 'openssl dgst -"$1" -binary "$2" | base64', 'sh', algorithm, file]);
  return `${algorithm}-${stdout.replace(/\s+/g, '')}`;
}

let dir: string;
const inputs: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  small: randomBytes(1 + Math.floor(Math.random() * 100)),
  large: randomBytes(300_000 + Math.floor(Math.random() * 1000)),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-sri-'));
  for (const [name, bytes] of Object.entries(inputs)) await writeFile(join(dir, name), bytes);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sri (bazel.md §6.1)', () => {
  for (const algorithm of ALGORITHMS) {
    for (const name of Object.keys(inputs)) {
      it(`${algorithm} of ${name} input equals openssl's`, async () => {
        const bytes = inputs[name];
        const expected = await opensslSri(join(dir, name), algorithm);
        expect(sri(bytes, algorithm)).toBe(expected);
        // Streaming, in uneven chunks.
        const h = sriHasher(algorithm);
        for (let i = 0; i < bytes.length; i += 7919) h.update(bytes.subarray(i, i + 7919));
        expect(h.digest()).toBe(expected);
        expect(matchesSri(bytes, expected)).toBe(true);
        expect(parseSri(expected)).toEqual({ algorithm, digest: Buffer.from(expected.slice(7), 'base64') });
      });
    }
  }

  it('defaults to sha256 and knows the empty-input value', () => {
    expect(sri(new Uint8Array())).toBe('sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    expect(sri(Buffer.from('abc'))).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
  });

  it('matchesSri uses the algorithm of the value and detects a mismatch', () => {
    const bytes = inputs.small;
    expect(matchesSri(bytes, sri(bytes, 'sha512'))).toBe(true);
    expect(matchesSri(Buffer.concat([bytes, Buffer.from([0])]), sri(bytes, 'sha384'))).toBe(false);
    expect(matchesSri(bytes, sri(inputs.empty))).toBe(false);
  });

  const good256 = sri(Buffer.from('x'));
  const good512 = sri(Buffer.from('x'), 'sha512');
  it.each([
    ['empty', ''],
    ['no algorithm', good256.slice(7)],
    ['sha1', 'sha1-C+7Hteo/D9vJXQ3UfzxbwnXaijM='],
    ['md5', 'md5-nWDzjuZ4TOvb3sE8yfQHUg=='],
    ['upper-case algorithm', 'SHA256-' + good256.slice(7)],
    ['hex digest', 'sha256-' + 'a'.repeat(64)],
    ['sha256 label on a sha512 digest', 'sha256-' + good512.slice(7)],
    ['sha512 label on a sha256 digest', 'sha512-' + good256.slice(7)],
    ['missing padding', good256.slice(0, -1)],
    ['extra padding', good256 + '='],
    ['base64url alphabet', 'sha256-' + '_'.repeat(43) + '='],
    ['space inside', good256.slice(0, 20) + ' ' + good256.slice(21)],
    ['leading space', ' ' + good256],
    ['trailing newline', good256 + '\n'],
    ['two hashes', `${good256} ${good512}`],
    ['SRI option suffix', good256 + '?opt'],
    ['non-canonical trailing bits', good256.slice(0, -2) + B64[B64.indexOf(good256.at(-2)!) ^ 1] + '='],
  ])('rejects %s', (_label, value) => {
    let err: unknown;
    try {
      parseSri(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LarderError);
    expect((err as LarderError).code).toBe('METADATA_INVALID');
    expect((err as LarderError).message).toMatch(/is not an SRI value like sha256-<44 base64 characters>/);
    expect(() => matchesSri(Buffer.from('x'), value)).toThrow(LarderError);
  });

  it('rejects a non-string without crashing', () => {
    expect(() => parseSri(undefined as unknown as string)).toThrow(/is not an SRI value/);
    expect(() => parseSri(42 as unknown as string)).toThrow(/^42 is not an SRI value/);
  });
});
