/**
 * A small Bazel source zip that inflates to hundreds of MiB (issue 8, item 5): while the server
 * checks it, it keeps answering other clients (a health check over a real socket) and its memory
 * stays bounded; the archive is stored byte for byte.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PRESUBMIT_YML } from './support/bazel.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { watchServer } from './support/stalls.js';
import { tempDir } from './support/tmp.js';

const MiB = 2 ** 20;
// Generous bounds for a loaded 2-core machine; before the fix the server held the whole tree (~600 MiB RSS).
const MAX_STALL_MS = 500;
const MAX_RSS_GROWTH = 200 * MiB;

let larder: TestLarder;
const work = tempDir('larder-bazel-stalls-');
beforeAll(async () => {
  larder = await startTestLarder({ repos: [{ name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' }] });
});
afterAll(async () => {
  await larder?.stop();
  work.remove();
});

it('publishes a zip that inflates to 300 MiB without stalling other requests or holding it in memory', async () => {
  const moduleText = 'module(\n    name = "zeros",\n    version = "1.0.0",\n    compatibility_level = 1,\n)\n';
  const zipPath = path.join(work.path, 'zeros-1.0.0.zip');
  // python3's zipfile streams the zeros into one deflated entry.
  await promisify(execFile)('python3', [
    '-c',
    [
      'import zipfile',
      `z = zipfile.ZipFile(${JSON.stringify(zipPath)}, "w", zipfile.ZIP_DEFLATED)`,
      `z.writestr("zeros-1.0.0/MODULE.bazel", ${JSON.stringify(moduleText)})`,
      'w = z.open("zeros-1.0.0/zeros.bin", "w", force_zip64=True)',
      `for _ in range(300): w.write(bytes(${MiB}))`,
      'w.close(); z.close()',
    ].join('\n'),
  ]);
  const archive = fs.readFileSync(zipPath);
  expect(archive.length).toBeLessThan(MiB);
  const form = new FormData();
  form.append('MODULE.bazel', new Blob([moduleText]), 'MODULE.bazel');
  form.append('archive', new Blob([new Uint8Array(archive)]), 'zeros-1.0.0.zip');
  form.append('strip_prefix', 'zeros-1.0.0');
  form.append('presubmit.yml', new Blob([PRESUBMIT_YML]), 'presubmit.yml');
  const {
    result: res,
    worstLatency,
    rssGrowth,
    worstLoopDelay,
  } = await watchServer(larder.url, () =>
    fetch(`${larder.url}/bazel/api/modules/zeros/1.0.0`, {
      method: 'PUT',
      body: form,
      headers: { authorization: `Bearer ${larder.adminToken}` },
    }),
  );
  const body = await res.text();
  expect(res.status, body).toBe(201);
  console.log(
    `bazel: worst health-check latency ${worstLatency.toFixed(0)} ms, longest event-loop delay ${worstLoopDelay.toFixed(0)} ms, RSS growth ${(rssGrowth / MiB).toFixed(0)} MiB`,
  );
  expect(worstLatency).toBeLessThan(MAX_STALL_MS);
  expect(rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
  const served = await fetch(`${larder.url}/bazel/archives/zeros/1.0.0/zeros-1.0.0.zip`);
  expect(Buffer.from(await served.arrayBuffer()).equals(archive)).toBe(true);
}, 180_000);
