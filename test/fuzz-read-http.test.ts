/**
 * HTTP-level fuzzing of the read side's path parsers (index paths, module and registry files,
 * downloads, tarballs, conditional-request headers) with `app.inject`: any GET answers without a 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNot5xx, fuzzParams, oddName, within } from './support/arbitraries.js';
import { simplePublishBody } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { putModule } from './support/moonbit.js';

let t: TestApp;
beforeAll(async () => {
  t = await openTestApp({
    repos: [
      { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'private', format: 'cargo', kind: 'hosted', visibility: 'private' },
      { name: 'moonbit', format: 'moonbit', kind: 'hosted', visibility: 'public' },
    ],
  });
  await putModule(t.registry, 'moonbit', 'alice/json', '0.1.0+b');
  const { body } = await simplePublishBody('hello_read', '1.0.0');
  const res = await t.app.inject({
    method: 'PUT',
    url: '/cargo/api/v1/crates/new',
    headers: { authorization: t.adminToken },
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(200);
  const reg = await t.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'ReadReg', uuid: '1b2c3d4e-0000-4000-8000-0000000000ee' },
    headers: { authorization: `Bearer ${t.adminToken}` },
  });
  expect(reg.statusCode, reg.body).toBe(201);
});
afterAll(async () => {
  await t?.stop();
});

const PREFIXES = [
  '/cargo/index/he/ll/hello_read',
  '/cargo/api/v1/crates/hello_read/1.0.0/download',
  '/cargo/api/v1/crates/hello_read/',
  '/cargo/index/',
  '/cargo/index/config.json',
  '/cargo/index/3/s/',
  '/cargo/index/se/rd/',
  '/cargo/api/v1/crates/',
  '/cargo/api/v1/crates?q=',
  '/cargo/me',
  '/bazel/',
  '/bazel/modules/',
  '/bazel/bazel_registry.json',
  '/bazel/archives/',
  '/julia/registries',
  '/julia/registry/',
  '/julia/package/',
  '/julia/artifact/',
  '/julia/registry/1b2c3d4e-0000-4000-8000-0000000000ee/',
  '/private/index/',
  '/-/api/repos',
  '/-/',
  '//',
  '/',
];
// The Julia git view, whose "objects/../../config" once answered 500.
PREFIXES.push('/julia/ReadReg.git/', '/julia/ReadReg.git/objects/');
// MoonBit: archives in one encoded segment or raw, the index files, Wasm assets, moon's API, the git index.
PREFIXES.push(
  '/moonbit/user/',
  '/moonbit/user/alice%2Fjson%2F',
  '/moonbit//user/alice/',
  '/moonbit/index/user/alice/',
  '/moonbit/assets/alice/',
  '/moonbit/api/v0/manifest/alice/',
  '/moonbit/api/v0/user/',
  '/moonbit/api/v0/search',
  '/moonbit/git/index/',
);

const segment = fc.oneof(
  oddName.map(encodeURIComponent),
  oddName,
  fc.constantFrom(
    'serde',
    'se',
    'rd',
    'download',
    '1.0.0',
    'metadata.json',
    'MODULE.bazel',
    'source.json',
    'json.index',
    '0.1.0%2Bb.zip',
    'json@0.1.0',
    'x.wasm.sha256',
    '%00',
    '%2e%2e',
    '%2F',
    '..',
    '~',
    'a'.repeat(300),
  ),
);
const url = fc
  .tuple(
    fc.constantFrom(...PREFIXES),
    fc.array(segment, { maxLength: 4 }),
    fc.option(fc.constantFrom('?x=1', '?q=%ff&per_page=-1', '?per_page=99999999999', '#f'), { nil: '' }),
  )
  .map(([p, parts, q]) => `${p}${parts.join('/')}${q}`);
const headers = fc.record(
  {
    'if-none-match': fc.constantFrom('*', '"x"', 'W/"x"', '', '"'),
    'if-modified-since': fc.constantFrom('Thu, 01 Jan 1970 00:00:00 GMT', 'garbage', ''),
    range: fc.constantFrom('bytes=0-', 'bytes=-1', 'bytes=5-1', 'bytes=99999999999999999999-', 'lines=1-2', 'bytes=0-0,1-1'),
    authorization: fc.constantFrom('Bearer x', 'Basic !!!', 'Basic ' + Buffer.from('a:b').toString('base64'), ''),
    'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', '*'),
  },
  { requiredKeys: [] },
);

describe('read routes (fuzz)', () => {
  it('answers any GET path and conditional headers without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(url, headers, fc.constantFrom('GET', 'HEAD'), async (u, h, method) => {
        let res;
        try {
          res = await within(t.app.inject({ method, url: u, headers: h as Record<string, string> }), 10_000, `${method} ${u}`);
        } catch (err) {
          // light-my-request refuses some URLs before they reach the server; those are not the server's answer.
          if (err instanceof TypeError && /Invalid URL/.test(err.message)) return;
          throw err;
        }
        expectNot5xx(res, `${method} ${u}`);
      }),
      fuzzParams(300),
    );
  });
});
