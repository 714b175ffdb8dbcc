/**
 * HTTP-level fuzzing of the Julia registration API with `app.inject`: registry creation bodies,
 * package registrations (tarball, JSON, multipart with artifacts) with mutated Project.toml and
 * hostile tarballs, artifact uploads and yanks answer 2xx or 4xx, never 5xx, and a refusal changes nothing.
 */
import fc from 'fast-check';
import { stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import type { FileTree } from '../src/formats/julia/tree-hash.js';
import {
  fuzzParams,
  gz,
  mutatedBytes,
  mutatedJson,
  mutatedToml,
  oddName,
  Outcomes,
  randomBytes,
  tarVariants,
} from './support/arbitraries.js';
import { tarball, type TarEntry } from './support/archives.js';
import { tokenFor } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { sendChecked } from './support/state.js';

const REG = '1b2c3d4e-0000-4000-8000-00000000f022';
const PKG_UUID = '11111111-2222-4333-8444-555555555555';
const PROJECT = {
  name: 'FuzzPkg',
  uuid: PKG_UUID,
  version: '1.0.0',
  deps: { LinearAlgebra: '37e2e46d-f89d-539d-b4ee-838fcccc9c8e' },
  weakdeps: {},
  compat: { julia: '1.6' },
  extras: { Test: '8dfed614-e22c-5e08-85e1-65c5234f0b40' },
};
let t: TestApp;
let tokens: string[];

beforeAll(async () => {
  t = await openTestApp({
    repos: [{ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' }],
    limits: { maxArchiveSize: 64 * 1024, maxUnpackedSize: 256 * 1024, maxArchiveEntries: 40 },
  });
  const alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
  const reader = await tokenFor(t.registry, 'reader', { scopes: ['read'] });
  tokens = [t.adminToken, t.adminToken, t.adminToken, t.adminToken, alice, reader, 'garbage'];
  const created = await t.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'FuzzRegistry', uuid: REG },
    headers: auth(t.adminToken),
  });
  expect(created.statusCode, created.body).toBe(201);
  const first = await t.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages`,
    payload: await packageTarball(stringify({ ...PROJECT, version: '0.9.0' })),
    headers: { ...auth(t.adminToken), 'content-type': 'application/gzip' },
  });
  expect(first.statusCode, first.body).toBe(201);
});
afterAll(async () => {
  await t?.stop();
});

function auth(tok: string) {
  return { authorization: `Bearer ${tok}` };
}
const token = () => fc.nat().map((i) => tokens[i % tokens.length]);

async function packageTarball(projectToml: string): Promise<Buffer> {
  const tree: FileTree = new Map([
    ['Project.toml', { kind: 'file', data: Buffer.from(projectToml) }],
    ['src/FuzzPkg.jl', { kind: 'file', data: Buffer.from('module FuzzPkg end\n') }],
  ]);
  return canonicalTarball(tree);
}

/** A multipart body with the given file parts. */
async function multipart(parts: Array<[string, Buffer]>): Promise<{ payload: Buffer; type: string }> {
  const form = new FormData();
  for (const [name, data] of parts) form.append(name, new Blob([new Uint8Array(data)]), `${name}.tar.gz`);
  const encoded = new Response(form);
  return { payload: Buffer.from(await encoded.arrayBuffer()), type: encoded.headers.get('content-type')! };
}

describe('Julia registration over HTTP (fuzz)', () => {
  it('answers registrations with mutated Project.toml, hostile tarballs, JSON and multipart bodies with 2xx or 4xx, changing nothing on refusal', async () => {
    // Each run registers a fresh version (1.0.0 becomes 1.0.<run>), so successes do not shadow deeper checks.
    let run = 0;
    const ENTRIES: TarEntry[] = [
      { name: 'Project.toml', body: stringify(PROJECT) },
      { name: 'src/', type: 'directory' },
      { name: 'src/FuzzPkg.jl', body: 'module FuzzPkg end\n' },
    ];
    const base = await tarball(ENTRIES);
    type Req = (fresh: string) => Promise<{ payload: Buffer | string; type: string }>;
    const gzipped = (b: Buffer) => ({ payload: b, type: 'application/gzip' });
    const request: fc.Arbitrary<Req> = fc.oneof(
      {
        weight: 4,
        arbitrary: mutatedToml(PROJECT).map(
          (text): Req =>
            async (fresh) =>
              gzipped(await packageTarball(text.replaceAll('1.0.0', fresh))),
        ),
      },
      { weight: 1, arbitrary: fc.constant<Req>(async (fresh) => gzipped(await packageTarball(stringify({ ...PROJECT, version: fresh })))) },
      {
        weight: 3,
        arbitrary: fc.tuple(tarVariants(base, ENTRIES, 'src'), fc.boolean()).map(([make, z]): Req => async () => ({
          payload: z ? gz(await make()) : await make(),
          type: z ? 'application/gzip' : 'application/x-tar',
        })),
      },
      {
        weight: 1,
        arbitrary: mutatedJson({ git: 'https://127.0.0.1:9/FuzzPkg.jl.git', rev: 'main', subdir: 'sub' }).map((v): Req => async () => ({
          payload: JSON.stringify(v) ?? '',
          type: 'application/json',
        })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.array(fc.constantFrom('package', 'artifact', 'other'), { minLength: 0, maxLength: 3 }),
            tarVariants(base, ENTRIES, 'src'),
          )
          .map(([names, make]): Req => async (fresh) => {
            const good = await packageTarball(stringify({ ...PROJECT, version: fresh }));
            return multipart(
              await Promise.all(names.map(async (n, i): Promise<[string, Buffer]> => [n, i === 0 ? good : gz(await make())])),
            );
          }),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            randomBytes,
            fc.constantFrom(
              'application/gzip',
              'application/octet-stream',
              'application/json',
              'text/plain',
              'multipart/form-data; boundary=x',
            ),
          )
          .map(([b, type]): Req => async () => ({ payload: b, type })),
      },
    );
    const target = fc.oneof(
      { weight: 6, arbitrary: fc.constant(REG) },
      { weight: 1, arbitrary: fc.constantFrom('00000000-0000-4000-8000-000000000000', 'not-a-uuid', '..') },
    );
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(request, target, token(), async (make, uuid, tok) => {
        const { payload, type } = await make(`1.0.${++run}`);
        seen.record(
          await sendChecked(
            t,
            () =>
              t.app.inject({
                method: 'PUT',
                url: `/julia/api/registries/${uuid}/packages`,
                payload,
                headers: { 'content-type': type, ...auth(tok) },
              }),
            'julia registration',
          ),
        );
      }),
      {
        ...fuzzParams(70, 10_000),
        // A valid registration first, so "some run was accepted" holds whatever the seed and the time limit allow.
        examples: [[async (fresh: string) => gzipped(await packageTarball(stringify({ ...PROJECT, version: fresh }))), REG, t.adminToken]],
      },
    );
    seen.report('julia registration');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(8);
  });

  // Found by this property: a truncated multipart body (no closing boundary) answered 500 (http/multipart-parts.ts).
  it('answers registrations whose multipart bytes are damaged with 2xx or 4xx, changing nothing on refusal', async () => {
    const { payload, type } = await multipart([['package', await packageTarball(stringify({ ...PROJECT, version: '2.0.0' }))]]);
    const contentType = fc.oneof(
      fc.constant(type),
      fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=nope'),
    );
    await fc.assert(
      fc.asyncProperty(mutatedBytes(payload), contentType, async (body, ct) => {
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: 'PUT',
              url: `/julia/api/registries/${REG}/packages`,
              payload: body,
              headers: { 'content-type': ct, ...auth(t.adminToken) },
            }),
          'julia registration (damaged multipart)',
        );
      }),
      fuzzParams(50),
    );
  });

  it('answers registry creation with mutated bodies with 2xx or 4xx, changing nothing on refusal', async () => {
    let run = 0;
    const body = mutatedJson({
      name: 'OtherRegistry',
      uuid: '00000000-0000-4000-8000-000000000001',
      description: 'fuzz',
      depends_on: [REG],
    });
    await fc.assert(
      fc.asyncProperty(body, token(), async (b, tok) => {
        const text = (JSON.stringify(b) ?? '').replace(
          '00000000-0000-4000-8000-000000000001',
          `00000000-0000-4000-8000-${String(++run).padStart(12, '0')}`,
        );
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: 'POST',
              url: '/julia/api/registries',
              payload: text,
              headers: { 'content-type': 'application/json', ...auth(tok) },
            }),
          'julia registry creation',
        );
      }),
      fuzzParams(40),
    );
  });

  it('answers artifact uploads with hostile tarballs with 2xx or 4xx, changing nothing on refusal', async () => {
    const ENTRIES: TarEntry[] = [
      { name: 'lib/', type: 'directory' },
      { name: 'lib/libfoo.so', body: 'ELF', mode: 0o755 },
      { name: 'lib/libfoo.so.1', type: 'symlink', linkname: 'libfoo.so' },
    ];
    const base = await tarball(ENTRIES);
    await fc.assert(
      fc.asyncProperty(tarVariants(base, ENTRIES, 'lib'), fc.boolean(), token(), async (make, z, tok) => {
        const payload = z ? gz(await make()) : await make();
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: 'PUT',
              url: '/julia/api/artifacts',
              payload,
              headers: { 'content-type': 'application/gzip', ...auth(tok) },
            }),
          'julia artifact',
        );
      }),
      fuzzParams(40),
    );
  });

  it('answers yanks and unyanks with 2xx or 4xx, changing nothing on refusal', async () => {
    const name = fc.oneof({ weight: 4, arbitrary: fc.constant('FuzzPkg') }, { weight: 1, arbitrary: oddName.map(encodeURIComponent) });
    const version = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('0.9.0', '1.0.1', '9.9.9') },
      { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map(encodeURIComponent) },
    );
    await fc.assert(
      fc.asyncProperty(name, version, fc.boolean(), token(), async (n, v, yank, tok) => {
        await sendChecked(
          t,
          () =>
            t.app.inject({
              method: yank ? 'POST' : 'DELETE',
              url: `/julia/api/registries/${REG}/packages/${n}/${v}/yank`,
              headers: auth(tok),
            }),
          'julia yank',
        );
      }),
      fuzzParams(40),
    );
  });
});
