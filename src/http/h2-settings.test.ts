/**
 * What the TLS server's HTTP/2 sessions announce: `[http2]`'s stream limit and window in the SETTINGS frame, and the
 * connection window widened to the same size (a WINDOW_UPDATE on stream 0), as a client sees them.
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestLarder, type TestLarder } from '../../test/support/larder.js';

let byDefault: TestLarder;
let configured: TestLarder;

beforeAll(async () => {
  [byDefault, configured] = await Promise.all([
    startTestLarder({ tls: true }),
    startTestLarder({ tls: true, http2: { maxConcurrentStreams: 7, windowBytes: 65_535 } }),
  ]);
});
afterAll(async () => {
  await byDefault?.stop();
  await configured?.stop();
});

/** The server's SETTINGS and the window the client may send into, once a PING has come back (after both). */
async function announced(larder: TestLarder): Promise<{ settings: http2.Settings; connectionWindow: number }> {
  const session = http2.connect(larder.url, { ca: fs.readFileSync(larder.caCertPath!) });
  try {
    await new Promise((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
    return { settings: session.remoteSettings, connectionWindow: session.state.remoteWindowSize! };
  } finally {
    session.close();
  }
}

it('announces 128 streams per connection and 1 MiB windows, per stream and per connection, by default', async () => {
  const { settings, connectionWindow } = await announced(byDefault);
  expect(settings.maxConcurrentStreams).toBe(128);
  expect(settings.initialWindowSize).toBe(2 ** 20);
  expect(connectionWindow).toBe(2 ** 20);
});

it('announces what [http2] sets, and leaves the connection window at the protocol’s when that is the window', async () => {
  const { settings, connectionWindow } = await announced(configured);
  expect(settings.maxConcurrentStreams).toBe(7);
  expect(settings.initialWindowSize).toBe(65_535);
  expect(connectionWindow).toBe(65_535);
});
