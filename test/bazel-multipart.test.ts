/** Malformed multipart publishes to a Bazel registry are the client's fault: 400 with a clear message, nothing stored. */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { moduleFile } from './support/bazel.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { snapshotFiles } from './support/tmp.js';

let larder: TestApp;
beforeAll(async () => {
  larder = await openTestApp({ repos: [{ name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' }] });
});
afterAll(async () => {
  await larder?.stop();
});

async function storage() {
  const docs = await larder.registry.db.selectFrom('index_docs').select(['path', 'etag']).orderBy('path').execute();
  const audit = await larder.registry.db.selectFrom('audit_log').select('id').execute();
  return { docs, audit: audit.length, blobs: snapshotFiles(path.join(larder.data, 'blobs')) };
}

const part = `--b0undary\r\nContent-Disposition: form-data; name="MODULE.bazel"; filename="MODULE.bazel"\r\nContent-Type: application/octet-stream\r\n\r\n${moduleFile('m', '1.0.0')}\r\n`;

it.each([
  ['no closing boundary', 'multipart/form-data; boundary=b0undary', part, 'BODY_MALFORMED', 'closing boundary'],
  ['a Content-Type without boundary=', 'multipart/form-data', `${part}--b0undary--\r\n`, 'BODY_MALFORMED', 'boundary='],
  [
    'a part cut off in its headers',
    'multipart/form-data; boundary=b0undary',
    '--b0undary\r\nContent-Disposition: form-da',
    'METADATA_INVALID',
    'no MODULE.bazel part',
  ],
])('answers 400 to a publish with %s, and stores nothing', async (_what, contentType, body, code, text) => {
  const before = await storage();
  const res = await larder.app.inject({
    method: 'PUT',
    url: '/bazel/api/modules/m/1.0.0',
    payload: body,
    headers: { 'content-type': contentType, authorization: `Bearer ${larder.adminToken}` },
  });
  expect(res.statusCode, res.body).toBe(400);
  expect(res.json().error).toMatchObject({ code, message: expect.stringContaining(text) });
  expect(await storage()).toEqual(before);
});
