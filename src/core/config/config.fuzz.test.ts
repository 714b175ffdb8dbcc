/**
 * Property-based fuzzing of larder.toml: documents built from the real key set with values of the
 * wrong type, unknown keys and broken TOML either load or are refused with CONFIG_INVALID, whose
 * message names the problem; nothing else escapes.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzParams, mutatedToml, Outcomes, weirdJson, within } from '../../../test/support/arbitraries.js';
import { tempDir } from '../../../test/support/tmp.js';
import { LarderError } from '../errors.js';
import { loadConfig } from './load.js';
import { KNOWN_KEYS } from './values.js';

const dir = tempDir('larder-config-fuzz-');
afterAll(() => dir.remove());

const VALID = {
  listen: '127.0.0.1:8080',
  data: './larder-data',
  database: 'sqlite',
  blobs: 'fs',
  public_url: 'https://larder.example',
  log_level: 'info',
  workers: 2,
  tls: { mode: 'self-signed', hostnames: ['larder.local'] },
  limits: {
    max_crate_size: '10MiB',
    max_unpacked_size: 1024,
    max_archive_entries: 100,
    max_metadata_size: '1MiB',
    max_archive_size: '100MiB',
  },
  repos: [
    { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'private' },
    { name: 'bcr', format: 'bazel', kind: 'hosted' },
    { name: 'mirror', format: 'cargo', kind: 'proxy', upstream: 'https://index.crates.io/' },
  ],
};

/** A table made of real keys (and the odd misspelt one) with values of any type. */
const tableOf = (keys: string[]) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 8 })), weirdJson, { maxKeys: 6 });
const randomDoc = fc
  .record({
    top: tableOf(KNOWN_KEYS['']),
    tls: fc.option(tableOf(KNOWN_KEYS.tls), { nil: undefined }),
    limits: fc.option(tableOf(KNOWN_KEYS.limits), { nil: undefined }),
    repos: fc.option(fc.array(tableOf(KNOWN_KEYS.repos), { maxLength: 3 }), { nil: undefined }),
  })
  .map(({ top, tls, limits, repos }) => {
    const doc: Record<string, unknown> = { ...top };
    if (tls) doc.tls = tls;
    if (limits) doc.limits = limits;
    if (repos) doc.repos = repos;
    try {
      return stringify(JSON.parse(JSON.stringify(doc, (_k, v: unknown) => (v === null ? undefined : v))) as Record<string, unknown>);
    } catch {
      return stringify(VALID);
    }
  });

let seq = 0;
function load(text: string) {
  const file = path.join(dir.path, `larder-${seq++}.toml`);
  fs.writeFileSync(file, text);
  try {
    return loadConfig({ file, cwd: dir.path, env: {} });
  } finally {
    fs.rmSync(file);
  }
}

describe('larder.toml (fuzz)', () => {
  it('loads the valid document', () => {
    expect(load(stringify(VALID)).repos.map((r) => r.name)).toEqual(['crates', 'bcr', 'mirror']);
  });

  it('loads any document built from the real keys, or refuses it with CONFIG_INVALID and a message', async () => {
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(fc.oneof(randomDoc, mutatedToml(VALID)), async (text) => {
        try {
          await within(
            Promise.resolve().then(() => load(text)),
            5_000,
            'loadConfig',
          );
          seen.ok++;
        } catch (err) {
          expect(err).toBeInstanceOf(LarderError);
          expect((err as LarderError).code).toBe('CONFIG_INVALID');
          expect((err as LarderError).message.length).toBeGreaterThan(10);
          seen.record({
            ok: false,
            error: new LarderError('CONFIG_INVALID', (err as Error).message.split('\n')[0].replace(/larder-\d+\.toml/, 'larder.toml')),
          });
        }
      }),
      fuzzParams(300),
    );
    seen.report('larder.toml');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(10);
  });
});
