/**
 * A proxy's first read of an index document goes to its route over a real socket, and a failing upstream is asked
 * once per read: the fast path loads first reads itself only for sources that read local storage (issue 14).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { startTestLarder, type TestLarder } from './support/larder.js';

let up: FakeUpstream;
let larder: TestLarder;

beforeAll(async () => {
  up = await startFakeUpstream();
  up.set('/config.json', { body: JSON.stringify({ dl: `${up.url}/dl` }) });
  larder = await startTestLarder({
    repos: [{ name: 'crates', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/` }],
    outbound: { retries: 0 },
  });
});
afterAll(async () => {
  await larder?.stop();
  await up?.close();
});

it('asks a failing upstream once for a first index read, and answers the failure', async () => {
  up.fault('/ra/nd/rand', { kind: 'status', status: 500 });
  const res = await fetch(`${larder.url}/crates/index/ra/nd/rand`);
  expect(res.status).toBeGreaterThanOrEqual(500);
  expect(up.hits('/ra/nd/rand')).toBe(1);
});

it('answers a first read the upstream has, then the same document from the cache without asking again', async () => {
  const line = '{"name":"serde","vers":"1.0.0","deps":[],"cksum":"00","features":{},"yanked":false}\n';
  up.set('/se/rd/serde', { body: line });
  const first = await fetch(`${larder.url}/crates/index/se/rd/serde`);
  expect(first.status).toBe(200);
  expect(await first.text()).toBe(line);
  const again = await fetch(`${larder.url}/crates/index/se/rd/serde`);
  expect(await again.text()).toBe(line);
  expect(up.hits('/se/rd/serde')).toBe(1);
});
