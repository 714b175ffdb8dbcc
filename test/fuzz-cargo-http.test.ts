/**
 * HTTP-level fuzzing of Cargo's write routes (publish frame, yank, unyank, owners) with `app.inject`:
 * mutated and random bodies answer 2xx or 4xx, never 5xx, and a refusal leaves every table row,
 * index document (with its ETag) and blob as it was.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fuzzParams,
  gz,
  mutatedBytes,
  mutatedJson,
  mutatedJsonBytes,
  oddName,
  Outcomes,
  randomBytes,
  tarVariants,
} from './support/arbitraries.js';
import { tarball, type TarEntry } from './support/archives.js';
import { cargoToml, newCrateJson, newDep, publishBody, simplePublishBody, tokenFor, u32le } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { registryState, sendChecked } from './support/state.js';

const API = '/cargo/api/v1/crates';
let t: TestApp;
let tokens: string[];

beforeAll(async () => {
  t = await openTestApp({
    limits: { maxUnpackedSize: 256 * 1024, maxCrateSize: 64 * 1024, maxMetadataSize: 16 * 1024, maxArchiveEntries: 50 },
  });
  const alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'] });
  const bob = await tokenFor(t.registry, 'bob', { scopes: ['publish', 'yank', 'owners'] });
  const reader = await tokenFor(t.registry, 'reader', { scopes: ['read'] });
  tokens = [alice, alice, alice, alice, alice, alice, bob, reader, 'garbage', ''];
  const first = await simplePublishBody('fuzzhttp', '0.1.0');
  const empty = await registryState(t.registry, t.data);
  const res = await t.app.inject({ method: 'PUT', url: `${API}/new`, headers: { authorization: alice }, payload: first.body });
  expect(res.statusCode, res.body).toBe(200);
  // The snapshot sees a publish (rows, index document, blob): its equality on refusal means something.
  const published = await registryState(t.registry, t.data);
  expect(published.tables.index_docs).not.toEqual(empty.tables.index_docs);
  expect(published.tables.cargo_versions).toHaveLength(1);
  expect(Object.keys(published.blobFiles).length).toBeGreaterThan(Object.keys(empty.blobFiles).length);
  await t.registry.auth.createUser('carol');
});
afterAll(async () => {
  await t?.stop();
});

const token = () => fc.nat().map((i) => tokens[i % tokens.length]);

describe('cargo publish over HTTP (fuzz)', () => {
  const ROOT = 'fuzzhttp-1.0.0';
  const ENTRIES: TarEntry[] = [
    { name: `${ROOT}/`, type: 'directory' },
    { name: `${ROOT}/Cargo.toml`, body: cargoToml('fuzzhttp', '1.0.0') },
    { name: `${ROOT}/src/lib.rs`, body: 'pub fn f() {}\n' },
  ];
  const META = newCrateJson({
    name: 'fuzzhttp',
    vers: '1.0.0',
    deps: [newDep('fuzzhttp-dep', '^1', { registry: 'https://github.com/rust-lang/crates.io-index' })],
    features: { std: [] },
  });

  it('answers mutated, random and hostile publish bodies with 2xx or 4xx, changing nothing on refusal', async () => {
    const base = await tarball(ENTRIES);
    const crate = gz(base);
    const valid = publishBody(META, crate);
    const body = fc.oneof(
      { weight: 3, arbitrary: mutatedBytes(valid) },
      { weight: 3, arbitrary: mutatedJsonBytes(META).map((json) => publishBody(json, crate)) },
      { weight: 3, arbitrary: tarVariants(base, ENTRIES, ROOT).map((make) => async () => publishBody(META, gz(await make()))) },
      { weight: 1, arbitrary: fc.constantFrom(0, 1, 0xffffffff, 16 * 1024 + 1).map((n) => Buffer.concat([u32le(n), valid.subarray(4)])) },
      { weight: 1, arbitrary: randomBytes },
      // A valid publish of another version, so that successes happen without shadowing 1.0.0's deeper checks.
      { weight: 1, arbitrary: fc.constant(async () => (await simplePublishBody('fuzzhttp', '1.0.1')).body) },
    );
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(
        body,
        token(),
        fc.boolean(),
        fc.constantFrom(undefined, 'application/octet-stream', 'application/json', 'multipart/form-data; boundary=x'),
        async (b, auth, chunked, type) => {
          const payload = Buffer.isBuffer(b) ? b : await b();
          const headers: Record<string, string> = { authorization: auth };
          if (type) headers['content-type'] = type;
          const res = await sendChecked(
            t,
            () =>
              t.app.inject(
                chunked
                  ? {
                      method: 'PUT',
                      url: `${API}/new`,
                      headers: { ...headers, 'transfer-encoding': 'chunked' },
                      payload: Readable.from([payload.subarray(0, 100), payload.subarray(100)]),
                    }
                  : { method: 'PUT', url: `${API}/new`, headers, payload },
              ),
            'PUT /api/v1/crates/new',
          );
          seen.record(res);
          if (res.statusCode >= 400) expect(Object.keys(res.json())).toEqual(['errors']);
        },
      ),
      fuzzParams(100, 12_000),
    );
    seen.report('cargo publish');
    expect(seen.refusals.size).toBeGreaterThan(8);
  });
});

describe('cargo yank, unyank and owners over HTTP (fuzz)', () => {
  const crateName = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('fuzzhttp', 'FuzzHttp', 'fuzz-http', 'nope') },
    { weight: 1, arbitrary: oddName.map(encodeURIComponent) },
  );
  const version = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('0.1.0', '1.0.0', '0.1.0+build', '9.9.9') },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent) },
  );

  it('answers yanks and unyanks with 2xx or 4xx, changing nothing on refusal', async () => {
    await fc.assert(
      fc.asyncProperty(crateName, version, fc.boolean(), token(), async (name, vers, yank, auth) => {
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: yank ? 'DELETE' : 'PUT',
              url: `${API}/${name}/${vers}/${yank ? 'yank' : 'unyank'}`,
              headers: { authorization: auth },
            }),
          'yank',
        );
      }),
      fuzzParams(40),
    );
  });

  it('answers owner changes with mutated bodies with 2xx or 4xx, changing nothing on refusal', async () => {
    const body = fc.oneof(
      mutatedJson({ users: ['carol'] }).map((v) => JSON.stringify(v) ?? ''),
      randomBytes.map((b) => b.toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(crateName, body, fc.boolean(), token(), async (name, payload, add, auth) => {
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: add ? 'PUT' : 'DELETE',
              url: `${API}/${name}/owners`,
              headers: { authorization: auth, 'content-type': 'application/json' },
              payload,
            }),
          'owners',
        );
      }),
      fuzzParams(40),
    );
  });
});
