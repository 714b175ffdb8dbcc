/** Uploads over the archive limit are refused with 413 and a message naming the limit, in every form the registration API takes. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openTestApp, type TestApp } from './support/larder.js';

let larder: TestApp;
beforeAll(async () => {
  larder = await openTestApp({
    repos: [{ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' }],
    limits: { maxArchiveSize: 1024 },
  });
});
afterAll(async () => {
  await larder?.stop();
});

it('answers 413 for a multipart package or artifact and for a raw tarball over the limit', async () => {
  const big = new Uint8Array(4096).fill(1);
  const form = new FormData();
  form.append('package', new Blob([big]), 'p.tar.gz');
  const encoded = new Response(form);
  const multipart = await larder.app.inject({
    method: 'PUT',
    url: '/julia/api/registries/1b2c3d4e-0000-4000-8000-000000000001/packages',
    payload: Buffer.from(await encoded.arrayBuffer()),
    headers: { 'content-type': encoded.headers.get('content-type')!, authorization: `Bearer ${larder.adminToken}` },
  });
  expect(multipart.statusCode).toBe(413);
  expect(JSON.parse(multipart.body).error.message).toContain('max_archive_size');
  const raw = await larder.app.inject({
    method: 'PUT',
    url: '/julia/api/registries/1b2c3d4e-0000-4000-8000-000000000001/packages',
    payload: Buffer.from(big),
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${larder.adminToken}` },
  });
  expect(raw.statusCode).toBe(413);
});
