/**
 * Search over groups: `repo=<group>` finds its members' packages (nested groups too), and a package a hosted
 * member and a proxy member both hold is listed once, from the hosted member the group serves it from; an
 * unfiltered search shows each repo's entry, labelled with its repo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from '../../test/support/cargo.js';
import { fakeCratesIo, sparsePath } from '../../test/support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from '../../test/support/fake-upstream.js';
import { openTestApp, type TestApp } from '../../test/support/larder.js';

let up: FakeUpstream;
let t: TestApp;
const get = (url: string) => t.app.inject({ method: 'GET', url });
const results = async (query: string) => (await get(`/-/search?${query}&fragment=1`)).body;

beforeAll(async () => {
  up = await startFakeUpstream();
  const io = fakeCratesIo(up);
  await io.add({ name: 'serde', vers: '9.0.0' });
  await io.add({ name: 'rand', vers: '0.8.5' });
  t = await openTestApp({
    repos: [
      { name: 'crates', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/` },
      { name: 'local', format: 'cargo', kind: 'hosted', visibility: 'public' },
      // The proxy is listed first: the group still serves a name its hosted member holds from there.
      { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['crates', 'local'] },
      { name: 'outer', format: 'cargo', kind: 'group', visibility: 'public', members: ['all'] },
    ],
    outbound: { retries: 0 },
  });
  const { body } = await simplePublishBody('serde', '1.0.0', { description: 'our own serde' });
  const res = await t.app.inject({
    method: 'PUT',
    url: '/local/api/v1/crates/new',
    headers: { authorization: t.adminToken },
    payload: body,
  });
  expect(res.statusCode).toBe(200);
  // The proxy caches both crates' index files (and so indexes them).
  for (const name of ['serde', 'rand']) expect((await get(`/crates/index/${sparsePath(name)}`)).statusCode).toBe(200);
});
afterAll(async () => {
  await t.stop();
  await up.close();
});

describe('search over a group', () => {
  it('lists a name two members hold once, from the hosted member the group serves it from', async () => {
    const served = await get(`/all/index/${sparsePath('serde')}`);
    expect(served.body).toContain('"vers":"1.0.0"');
    expect(served.body).not.toContain('"vers":"9.0.0"');

    const page = await results('q=serde&repo=all');
    expect(page).toContain('1 package');
    expect(page).toContain('href="/-/packages/local/serde"');
    expect(page).toContain('our own serde');
    expect(page).not.toContain('href="/-/packages/crates/serde"');
    // A nested group expands the same way.
    const nested = await results('q=serde&repo=outer');
    expect(nested).toContain('href="/-/packages/local/serde"');
    expect(nested).not.toContain('href="/-/packages/crates/serde"');
  });

  it('finds a package only the proxy member holds', async () => {
    const page = await results('q=rand&repo=all');
    expect(page).toContain('href="/-/packages/crates/rand"');
    expect(page).toContain('<span class="muted">0.8.5</span>');
  });

  it('shows both repos’ entries, each labelled with its repo, without a repo filter, and the proxy’s with repo=proxy', async () => {
    const page = await results('q=serde');
    expect(page).toContain('2 packages');
    expect(page).toContain('href="/-/packages/local/serde"');
    expect(page).toContain('href="/-/packages/crates/serde"');
    expect(page).toContain('<span class="badge">local</span>');
    expect(page).toContain('<span class="badge">crates</span>');
    const proxied = await results('q=serde&repo=crates');
    expect(proxied).toContain('href="/-/packages/crates/serde"');
    expect(proxied).toContain('<span class="muted">9.0.0</span>');
  });
});
