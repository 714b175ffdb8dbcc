/**
 * Per-format unpacked limits ([unpacked_limits]): a Julia package, a Julia artifact and a Bazel source
 * archive each have their own; an upload over its limit is refused with 413 and changes nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tarGz } from './support/archives.js';
import { PRESUBMIT_YML } from './support/bazel.js';
import { openTestApp, type TestApp } from './support/larder.js';

const KiB = 1024;
const REG = '1b2c3d4e-0000-4000-8000-0000000000bb';
let larder: TestApp;
const auth = () => ({ authorization: `Bearer ${larder.adminToken}` });
beforeAll(async () => {
  larder = await openTestApp({
    repos: [
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
    ],
    unpackedLimits: { juliaPackage: 64 * KiB, juliaArtifact: 1024 * KiB, bazelSource: 64 * KiB },
  });
  const created = await larder.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'Limited', uuid: REG },
    headers: auth(),
  });
  expect(created.statusCode, created.body).toBe(201);
});
afterAll(async () => {
  await larder?.stop();
});

const data = Buffer.alloc(128 * KiB, 'x');

it('refuses a Julia package over julia_package with 413, and takes the same bytes as an artifact under julia_artifact', async () => {
  const before = (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body;
  const project = 'name = "Biggish"\nuuid = "0b0b0b0b-2222-4333-8444-555555555555"\nversion = "1.0.0"\n\n[compat]\njulia = "1.6"\n';
  const pkg = await tarGz([
    { name: 'Project.toml', body: project },
    { name: 'data.bin', body: data },
  ]);
  const refused = await larder.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages`,
    payload: pkg,
    headers: { ...auth(), 'content-type': 'application/gzip' },
  });
  expect(refused.statusCode, refused.body).toBe(413);
  expect(JSON.parse(refused.body).error.message).toMatch(/unpacks to more than 64 KiB/);
  expect((await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body).toBe(before);
  // Artifacts belong to a package: register it without the big file, then upload the same bytes as its artifact.
  const small = await tarGz([{ name: 'Project.toml', body: project }]);
  const registered = await larder.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages`,
    payload: small,
    headers: { ...auth(), 'content-type': 'application/gzip' },
  });
  expect(registered.statusCode, registered.body).toBe(201);
  const artifact = await larder.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages/Biggish/artifacts`,
    payload: await tarGz([{ name: 'data.bin', body: data }]),
    headers: { ...auth(), 'content-type': 'application/gzip' },
  });
  expect(artifact.statusCode, artifact.body).toBe(201);
});

it('refuses a Bazel source archive over bazel_source with 413', async () => {
  const moduleText = 'module(\n    name = "biggish",\n    version = "1.0.0",\n    compatibility_level = 1,\n)\n';
  const form = new FormData();
  form.append('MODULE.bazel', new Blob([moduleText]), 'MODULE.bazel');
  form.append(
    'archive',
    new Blob([
      new Uint8Array(
        await tarGz([
          { name: 'b/MODULE.bazel', body: moduleText },
          { name: 'b/data.bin', body: data },
        ]),
      ),
    ]),
    'b.tar.gz',
  );
  form.append('strip_prefix', 'b');
  form.append('presubmit.yml', new Blob([PRESUBMIT_YML]), 'presubmit.yml');
  const encoded = new Response(form);
  const res = await larder.app.inject({
    method: 'PUT',
    url: '/bazel/api/modules/biggish/1.0.0',
    payload: Buffer.from(await encoded.arrayBuffer()),
    headers: { ...auth(), 'content-type': encoded.headers.get('content-type')! },
  });
  expect(res.statusCode, res.body).toBe(413);
  expect((await larder.app.inject({ method: 'GET', url: '/bazel/modules/biggish/metadata.json' })).statusCode).toBe(404);
});
