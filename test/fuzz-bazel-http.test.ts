/**
 * HTTP-level fuzzing of the Bazel publishing API with `app.inject`: multipart publishes whose parts
 * (MODULE.bazel, archive, source.json, patches, overlays, metadata, scalars) are mutated, yank
 * bodies and metadata PATCHes answer 2xx or 4xx, never 5xx, and a refusal changes nothing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fuzzParams,
  gz,
  makeZip,
  mutatedBytes,
  mutatedJson,
  mutatedJsonBytes,
  mutatedStarlark,
  oddName,
  Outcomes,
  randomBytes,
  tarVariants,
  weirdJson,
} from './support/arbitraries.js';
import { tarball, type TarEntry } from './support/archives.js';
import { PRESUBMIT_YML, publishBody, type Part } from './support/bazel.js';
import { tokenFor } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { sendChecked } from './support/state.js';

let t: TestApp;
let tokens: string[];
const moduleFile = (version: string) =>
  `module(\n    name = "fuzzmod",\n    version = "${version}",\n    compatibility_level = 1,\n)\n\nbazel_dep(name = "platforms", version = "0.0.10")\n`;
const ROOT = 'fuzzmod-1.0.0';
const PATCH = '--- a/lib.cc\n+++ b/lib.cc\n@@ -1 +1 @@\n-int answer() { return 41; }\n+int answer() { return 42; }\n';
const entries = (version: string): TarEntry[] => [
  { name: `${ROOT}/`, type: 'directory' },
  { name: `${ROOT}/MODULE.bazel`, body: moduleFile(version) },
  { name: `${ROOT}/lib.cc`, body: 'int answer() { return 41; }\n' },
];

/** The multipart body the way `larder bazel publish` sends it (files as Blobs, scalars as fields, a presubmit.yml unless one is given). */
async function multipart(parts: Part[]): Promise<{ payload: Buffer; type: string }> {
  const { payload, contentType } = await publishBody(parts);
  return { payload, type: contentType };
}

beforeAll(async () => {
  t = await openTestApp({
    repos: [{ name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' }],
    limits: { maxArchiveSize: 64 * 1024, maxUnpackedSize: 256 * 1024, maxArchiveEntries: 40 },
  });
  const alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
  const reader = await tokenFor(t.registry, 'reader', { scopes: ['read'] });
  tokens = [t.adminToken, t.adminToken, t.adminToken, t.adminToken, alice, reader, 'garbage'];
  for (const v of ['0.9.0', '0.9.1']) {
    const { payload, type } = await multipart([
      ['MODULE.bazel', moduleFile(v)],
      ['archive', gz(await tarball(entries(v))), `${ROOT}.tar.gz`],
      ['strip_prefix', ROOT],
    ]);
    const res = await t.app.inject({
      method: 'PUT',
      url: `/bazel/api/modules/fuzzmod/${v}`,
      payload,
      headers: { 'content-type': type, authorization: `Bearer ${t.adminToken}` },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
});
afterAll(async () => {
  await t?.stop();
});

const token = () => fc.nat().map((i) => tokens[i % tokens.length]);
const auth = (tok: string) => ({ authorization: `Bearer ${tok}` });

describe('Bazel publish over HTTP (fuzz)', () => {
  it('answers publishes with mutated parts with 2xx or 4xx, changing nothing on refusal', async () => {
    // Each run publishes a fresh version (1.0.0 in the generated parts becomes 1.0.<run>), so that a
    // success does not turn every later run into "already published"; the archive has no MODULE.bazel
    // of its own, so it fits every version.
    const version = '1.0.0';
    let run = 0;
    const base = await tarball(entries(version).filter((e) => !e.name.endsWith('MODULE.bazel')));
    const goodSource = {
      url: 'http://127.0.0.1:9/fuzzmod-1.0.0.tar.gz',
      integrity: 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
      strip_prefix: ROOT,
      patches: { 'fix.patch': 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' },
      patch_strip: 1,
    };
    const archive = fc.oneof(
      {
        weight: 3,
        arbitrary: tarVariants(base, entries(version), ROOT).map((make) => async (): Promise<Part> => [
          'archive',
          gz(await make()),
          `${ROOT}.tar.gz`,
        ]),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom('a.tar', 'a.zip', 'a', '../a.tar.gz', 'a b.tgz')
          .map((name) => async (): Promise<Part> => [
            'archive',
            name.endsWith('zip') ? makeZip([{ name: `${ROOT}/MODULE.bazel`, data: Buffer.from(moduleFile(version)) }]) : base,
            name,
          ]),
      },
      { weight: 1, arbitrary: mutatedJsonBytes(goodSource).map((b) => async (): Promise<Part> => ['source.json', b]) },
      { weight: 1, arbitrary: fc.constant(async (): Promise<Part> => ['archive', gz(base), `${ROOT}.tar.gz`]) },
    );
    const extra: fc.Arbitrary<Part> = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('strip_prefix', 'archive_type', 'patch_strip', 'allow_compatibility_level_change'),
          fc.oneof(fc.constantFrom(ROOT, 'zip', 'tar', '-1', '1e999', 'NaN', 'true', ''), fc.string({ maxLength: 10 })),
        )
        .map(([n, v]): Part => [n, v]),
      fc
        .tuple(
          fc.constantFrom('patches/', 'overlay/'),
          fc.oneof(fc.constantFrom('fix.patch', 'BUILD.bazel', 'MODULE.bazel', 'lib.cc'), oddName),
          fc.oneof(fc.constant(PATCH), mutatedBytes(Buffer.from(PATCH))),
        )
        .map(([dir, name, body]): Part => [`${dir}${name}`, body]),
      mutatedJson({ homepage: 'https://x.example', maintainers: [{ email: 'a@x.example' }], repository: ['github:a/b'] }).map((m): Part => [
        'metadata',
        JSON.stringify(m) ?? '',
      ]),
      fc.tuple(oddName, randomBytes).map(([n, b]): Part => [n, b]),
      fc.constant<Part>(['presubmit.yml', 'tasks: {}\n']),
      mutatedBytes(Buffer.from(PRESUBMIT_YML)).map((b): Part => ['presubmit.yml', b]),
    );
    const extras = fc.oneof(
      { weight: 2, arbitrary: fc.constant([]) },
      { weight: 3, arbitrary: fc.array(extra, { minLength: 1, maxLength: 2 }) },
    );
    const moduleText = fc.oneof(
      { weight: 2, arbitrary: fc.constant(moduleFile(version)) },
      { weight: 3, arbitrary: mutatedStarlark(moduleFile(version)) },
    );
    const target = fc.oneof(
      { weight: 5, arbitrary: fc.constant(['fuzzmod', version]) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.constantFrom('fuzzmod', 'Fuzz', 'a'.repeat(300)), fc.constantFrom('0.9.0', '1.0.0+b', '1..0', '%2e%2e', '')),
      },
    );
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(
        moduleText,
        archive,
        extras,
        fc.nat(9).map((n) => n > 0),
        target,
        token(),
        async (text, makeArchive, extras, withModule, [module, ver], tok) => {
          const fresh = `1.0.${++run}`;
          const parts: Part[] = [
            ...(withModule ? [['MODULE.bazel', text.replaceAll(version, fresh)] as Part] : []),
            await makeArchive(),
            ['strip_prefix', ROOT],
            ...extras,
          ];
          const { payload, type } = await multipart(parts);
          const res = await sendChecked(
            t,
            () =>
              t.app.inject({
                method: 'PUT',
                url: `/bazel/api/modules/${module}/${ver.replace(version, fresh)}`,
                payload,
                headers: { 'content-type': type, ...auth(tok) },
              }),
            'bazel publish',
          );
          seen.record(res);
        },
      ),
      {
        ...fuzzParams(80, 10_000),
        // A valid publish first, so "some run was accepted" holds whatever the seed and however many runs the time limit allows.
        examples: [
          [
            moduleFile(version),
            async (): Promise<Part> => ['archive', gz(base), `${ROOT}.tar.gz`],
            [] as const,
            true,
            ['fuzzmod', version] as const,
            t.adminToken,
          ],
        ],
      },
    );
    seen.report('bazel publish');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(8);
  });

  // Found by this property: a multipart body without its closing boundary answered 500 (http/multipart-parts.ts).
  it('answers publishes whose multipart bytes are damaged with 2xx or 4xx, changing nothing on refusal', async () => {
    const { payload, type } = await multipart([
      ['MODULE.bazel', moduleFile('2.0.0')],
      ['archive', gz(await tarball(entries('2.0.0'))), `${ROOT}.tar.gz`],
      ['strip_prefix', ROOT],
    ]);
    const contentType = fc.oneof(
      fc.constant(type),
      fc.constantFrom(
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'multipart/form-data; boundary=nope',
        'application/json',
        'text/plain',
      ),
    );
    await fc.assert(
      fc.asyncProperty(mutatedBytes(payload), contentType, async (body, ct) => {
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: 'PUT',
              url: '/bazel/api/modules/fuzzmod/2.0.0',
              payload: body,
              headers: { 'content-type': ct, ...auth(t.adminToken) },
            }),
          'bazel publish (damaged multipart)',
        );
      }),
      fuzzParams(50),
    );
  });
});

describe('Bazel yank and metadata edits over HTTP (fuzz)', () => {
  const module = fc.oneof(
    { weight: 4, arbitrary: fc.constant('fuzzmod') },
    { weight: 1, arbitrary: fc.constantFrom('nope', 'Fuzz', '..') },
  );
  const version = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('0.9.0', '0.9.1', '1.0.0') },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map(encodeURIComponent) },
  );

  it('answers yanks and unyanks with any body with 2xx or 4xx, changing nothing on refusal', async () => {
    const body = fc.oneof(mutatedJson({ reason: 'broken, use 0.9.1' }), weirdJson);
    await fc.assert(
      fc.asyncProperty(module, version, fc.boolean(), body, token(), async (m, v, yank, b, tok) => {
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: yank ? 'POST' : 'DELETE',
              url: `/bazel/api/modules/${m}/${v}/yank`,
              payload: JSON.stringify(b) ?? '',
              headers: { 'content-type': 'application/json', ...auth(tok) },
            }),
          'bazel yank',
        );
      }),
      fuzzParams(50),
    );
  });

  it('answers metadata PATCHes with any body with 2xx or 4xx, changing nothing on refusal', async () => {
    const body = fc.oneof(
      mutatedJson({
        homepage: 'https://x.example',
        maintainers: [{ email: 'a@x.example', github: 'a' }],
        repository: ['github:a/b'],
        deprecated: 'use other',
      }).map((v) => JSON.stringify(v) ?? ''),
      randomBytes.map((b) => b.toString('latin1')),
    );
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(module, body, token(), async (m, b, tok) => {
        seen.record(
          await sendChecked(
            t,
            () =>
              t.app.inject({
                method: 'PATCH',
                url: `/bazel/api/modules/${m}`,
                payload: b,
                headers: { 'content-type': 'application/json', ...auth(tok) },
              }),
            'bazel metadata PATCH',
          ),
        );
      }),
      fuzzParams(50),
    );
    seen.report('bazel PATCH');
    expect(seen.ok).toBeGreaterThan(0);
  });
});
