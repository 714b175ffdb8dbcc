/**
 * What `moon` sees of a MoonBit proxy and a group over real sockets (the read routes of
 * src/formats/moonbit/read-routes.ts): `git clone --depth 1` of `{base}/git/index` and `git pull`,
 * zips in both URL forms, symbols.zip with ETag/304 (and never a 304 without If-None-Match), prebuilt
 * Wasm, stale answers while the upstream is down, and a hosted module never shadowed in a group.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveRawPath, archiveUrlPath } from '../src/formats/moonbit/names.js';
import { appendVersion } from '../src/formats/moonbit/store.js';
import { inTransaction } from '../src/registry/tx.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { moduleZip, startMoonbitUpstream, type MoonbitUpstream } from './support/moonbit-upstream.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const WASM = Buffer.from('\0asm\x01\0\0\0 prebuilt');
const WASM_PATH = 'assets/alice/json@0.1.0/cmd/fmt/fmt.wasm';

describe('MoonBit proxy and group over HTTP', () => {
  let up: MoonbitUpstream;
  let l: TestLarder;
  const scratch = tempDir('larder-moon-http-');
  let json: { checksum: string; zip: Buffer };
  let hostedZip: Buffer;
  const get = (url: string, headers: Record<string, string> = {}) => fetch(`${l.url}${url}`, { headers });
  const git = (...args: string[]) => run('git', ['-c', 'protocol.version=2', ...args], { cwd: scratch.path });

  beforeAll(async () => {
    up = await startMoonbitUpstream();
    json = up.module('alice/json', '0.1.0', { deps: { 'alice/utf8': '0.1.0' } });
    up.module('alice/utf8', '0.1.0');
    up.module('alice/x', '0.1.0');
    up.files.set('/symbols.zip', { body: 'symbols' });
    up.files.set(`/${WASM_PATH}.sha256`, { body: `${sha256(WASM)}  fmt.wasm\n` });
    up.files.set(`/${WASM_PATH}`, { body: WASM });
    await up.commit();
    l = await startTestLarder({
      repos: [
        { name: 'h', format: 'moonbit', kind: 'hosted', visibility: 'public' },
        { name: 'p', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url, ttl: 0 },
        { name: 'g', format: 'moonbit', kind: 'group', visibility: 'public', members: ['p', 'h'] },
      ],
    });
    hostedZip = Buffer.concat([moduleZip('alice/x', '0.1.0'), Buffer.from('hosted')]);
    const staged = await l.registry.blobs.stage(Readable.from([hostedZip]));
    const line = Buffer.from(JSON.stringify({ name: 'alice/x', version: '0.1.0', deps: {}, checksum: staged.sha256 }));
    await inTransaction(l.registry, (uow) =>
      appendVersion(uow, l.registry, l.registry.repos.get('h')!, {
        ...{ module: 'alice/x', version: '0.1.0', line, staged },
        ...{ description: null, publishedBy: null },
      }),
    );
  });
  afterAll(async () => {
    await l.stop();
    await up.close();
    scratch.remove();
  });

  it('clones the proxied index shallow on main with byte-identical files, and pulls a fast-forward when the upstream grows', async () => {
    await git('clone', '-q', '--depth', '1', '--single-branch', '--no-tags', `${l.url}/p/git/index`, 'p');
    const dir = path.join(scratch.path, 'p');
    expect(
      fs.readFileSync(path.join(dir, 'user/alice/json.index')).equals(fs.readFileSync(path.join(up.work, 'user/alice/json.index'))),
    ).toBe(true);
    up.module('alice/json', '0.2.0');
    await up.commit();
    await run('git', ['-C', dir, 'pull', '-q', 'origin', 'main']);
    expect(fs.readFileSync(path.join(dir, 'user/alice/json.index'), 'utf8')).toContain('"0.2.0"');
  });

  it('serves zips in the encoded and the raw form, byte-identical; a version the index lacks is a 404 with {detail}', async () => {
    for (const form of [archiveUrlPath('alice/json', '0.1.0'), archiveRawPath('alice/json', '0.1.0')]) {
      const res = await get(`/p/${form}`);
      expect(res.status, form).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(json.zip)).toBe(true);
    }
    const missing = await get(`/p/${archiveUrlPath('alice/json', '9.0.0')}`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { detail: string }).detail).toBeTruthy();
  });

  it('answers a tampered zip with 502 and stores nothing', async () => {
    up.files.fault(`/${archiveUrlPath('alice/utf8', '0.1.0')}`, { kind: 'wrong-bytes' }, { times: 1 });
    const res = await get(`/p/${archiveUrlPath('alice/utf8', '0.1.0')}`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { code: string }).code).toBe('UPSTREAM_INTEGRITY');
    expect((await get(`/p/${archiveUrlPath('alice/utf8', '0.1.0')}`)).status).toBe(200);
  });

  it('proxies symbols.zip with ETag: 304 only to a matching If-None-Match, 200 to a request without one', async () => {
    const first = await get('/p/symbols.zip');
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('symbols');
    const etag = first.headers.get('etag')!;
    expect((await get('/p/symbols.zip', { 'if-none-match': etag })).status).toBe(304);
    const plain = await get('/p/symbols.zip');
    expect(plain.status).toBe(200);
    expect(await plain.text()).toBe('symbols');
    // A doubled slash after the base (MOONCAKES_REGISTRY with a trailing slash) is the same file.
    expect((await get('/p//symbols.zip')).status).toBe(200);
  });

  it('pulls prebuilt Wasm and its .sha256 through', async () => {
    const sum = await get(`/p/${WASM_PATH}.sha256`);
    expect(sum.status).toBe(200);
    expect((await sum.text()).split(/\s+/)[0]).toBe(sha256(WASM));
    const wasm = await get(`/p/${WASM_PATH}`);
    expect(wasm.status).toBe(200);
    expect(Buffer.from(await wasm.arrayBuffer()).equals(WASM)).toBe(true);
    expect((await get('/p/assets/alice/json@0.1.0/none.wasm')).status).toBe(404);
  });

  it("serves a group's index and zips with the hosted module first, the upstream's others", async () => {
    await git('clone', '-q', '--depth', '1', '--single-branch', '--no-tags', `${l.url}/g/git/index`, 'g');
    const dir = path.join(scratch.path, 'g');
    expect(fs.readFileSync(path.join(dir, 'user/alice/x.index'), 'utf8')).toContain(sha256(hostedZip));
    expect(fs.existsSync(path.join(dir, 'user/alice/json.index'))).toBe(true);
    const x = await get(`/g/${archiveUrlPath('alice/x', '0.1.0')}`);
    expect(Buffer.from(await x.arrayBuffer()).equals(hostedZip)).toBe(true);
    expect(await (await get('/g/index/user/alice/x.index')).text()).toContain(sha256(hostedZip));
    expect(up.files.hits(`/${archiveUrlPath('alice/x', '0.1.0')}`)).toBe(0);
  });

  it('serves the last synced index with x-larder-stale while the upstream is down', async () => {
    await up.stop();
    try {
      const res = await get('/p/index/user/alice/json.index');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-larder-stale')).toBeTruthy();
      const refs = await get('/p/git/index/info/refs?service=git-upload-pack');
      expect(refs.status).toBe(200);
      expect(refs.headers.get('x-larder-stale')).toBeTruthy();
    } finally {
      await up.start();
    }
  });
});
