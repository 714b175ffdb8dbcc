import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { putModule, type TestModule } from '../../../test/support/moonbit.js';
import { archiveRawPath, archiveUrlPath } from './names.js';

let t: TestApp;
let json: TestModule;
let plus: TestModule;
let nested: TestModule;
let cjk: TestModule;
let emoji: TestModule;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const detail = (body: string) => (JSON.parse(body) as { detail: string }).detail;

beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
  json = await putModule(t.registry, 'moon', 'alice/json', '0.1.0');
  plus = await putModule(t.registry, 'moon', 'alice/json', '0.1.2+3');
  nested = await putModule(t.registry, 'moon', 'alice/a/b', '1.0.0');
  cjk = await putModule(t.registry, 'moon', 'alice/数据结构', '0.2.0');
  emoji = await putModule(t.registry, 'moon', 'alice/🦀', '1.0.0');
});
afterAll(() => t?.stop());

describe('archives', () => {
  it('serves the same bytes at the encoded segment and the raw segments, whatever the name', async () => {
    for (const m of [json, plus, nested, cjk, emoji]) {
      for (const path of [archiveUrlPath(m.module, m.version), archiveRawPath(m.module, m.version)]) {
        const res = await t.app.inject({ method: 'GET', url: `/moon/${path}` });
        expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
        expect(sha(res.rawPayload)).toBe(m.checksum);
        expect(res.headers['content-type']).toBe('application/zip');
        expect(res.headers['content-encoding']).toBeUndefined();
        expect(res.headers['cache-control']).toContain('immutable');
      }
    }
    // The paths moon's own tests pin (§5.1).
    expect(archiveUrlPath(plus.module, plus.version)).toBe('user/alice%2Fjson%2F0.1.2%2B3.zip');
    expect(archiveUrlPath(nested.module, nested.version)).toBe('user/alice%2Fa%2Fb%2F1.0.0.zip');
    // A literal `+` in the raw form is a plus, never a space (§14.2).
    const raw = await t.app.inject({ method: 'GET', url: '/moon/user/alice/json/0.1.2+3.zip' });
    expect(sha(raw.rawPayload)).toBe(plus.checksum);
  });

  it('answers HEAD and a Range', async () => {
    const head = await t.app.inject({ method: 'HEAD', url: `/moon/${archiveUrlPath('alice/json', '0.1.0')}` });
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(json.zip.length);
    expect(head.body).toBe('');
    const part = await t.app.inject({
      method: 'GET',
      url: `/moon/${archiveUrlPath('alice/json', '0.1.0')}`,
      headers: { range: 'bytes=0-9' },
    });
    expect(part.statusCode).toBe(206);
    expect(part.rawPayload.equals(json.zip.subarray(0, 10))).toBe(true);
  });

  it('answers an unknown module, version or path with a 404 moon can print', async () => {
    for (const url of [
      '/moon/user/alice%2Fjson%2F9.9.9.zip',
      '/moon/user/bob%2Fnope%2F1.0.0.zip',
      '/moon/user/alice/json/0.1.0.tar.gz',
      '/moon/user/alice.zip',
      '/moon/user/alice%2Fjson%2F0.1.2%203.zip',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(detail(res.body)).toMatch(/archive|not found/);
    }
  });

  it('tolerates a doubled slash after the base (MOONCAKES_REGISTRY with a trailing slash)', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/moon//${archiveUrlPath('alice/json', '0.1.0')}` });
    expect(res.statusCode).toBe(200);
    expect(sha(res.rawPayload)).toBe(json.checksum);
    const sym = await t.app.inject({ method: 'GET', url: '/moon//symbols.zip' });
    expect(sym.statusCode).toBe(404);
    expect(detail(sym.body)).toContain('symbols.zip');
    const refs = await t.app.inject({ method: 'GET', url: '/moon//git/index/info/refs?service=git-upload-pack' });
    expect(refs.statusCode).toBe(200);
    expect(refs.headers['content-type']).toBe('application/x-git-upload-pack-advertisement');
  });
});

describe('index files, symbols, assets', () => {
  it('serves an index file byte for byte with an ETag and 304', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/moon/index/user/alice/json.index' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(res.body).toBe(`${json.line}\n${plus.line}\n`);
    const again = await t.app.inject({
      method: 'GET',
      url: '/moon/index/user/alice/json.index',
      headers: { 'if-none-match': String(res.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    const cjkIndex = await t.app.inject({ method: 'GET', url: `/moon/index/user/alice/${encodeURIComponent('数据结构')}.index` });
    expect(cjkIndex.body).toBe(`${cjk.line}\n`);
    const missing = await t.app.inject({ method: 'GET', url: '/moon/index/user/alice/nope.index' });
    expect(missing.statusCode).toBe(404);
    expect(detail(missing.body)).toContain('user/alice/nope.index');
    const outside = await t.app.inject({ method: 'GET', url: '/moon/index/../../etc/passwd' });
    expect(outside.statusCode).toBe(404);
  });

  it('answers symbols.zip with a 404 for a hosted repo, never a 304', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/moon/symbols.zip', headers: { 'if-none-match': '"x"' } });
    expect(res.statusCode).toBe(404);
    expect(detail(res.body)).toContain('no symbols.zip');
  });

  it('answers prebuilt Wasm assets a hosted repo does not have as moon words it', async () => {
    for (const url of [
      '/moon/assets/alice/json@0.1.0/json.wasm',
      '/moon/assets/alice/json@0.1.0/cmd/fmt/fmt.wasm.sha256',
      '/moon/assets/alice/json/json.wasm',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(detail(res.body)).toBe('Prebuilt wasm asset does not exist');
    }
  });
});

describe('git index', () => {
  it('refuses pushes with 403 and answers dumb requests with a 404, not a crash', async () => {
    for (const url of ['/moon/git/index/info/refs?service=git-receive-pack']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(403);
      expect(detail(res.body)).toContain('cannot be pushed to');
    }
    const post = await t.app.inject({
      method: 'POST',
      url: '/moon/git/index/git-receive-pack',
      headers: { 'content-type': 'application/x-git-receive-pack-request' },
      payload: Buffer.alloc(4),
    });
    expect(post.statusCode).toBe(403);
    const dumb = await t.app.inject({ method: 'GET', url: '/moon/git/index/info/refs' });
    expect(dumb.statusCode).toBe(404);
    expect(detail(dumb.body)).toContain('smart HTTP');
    const head = await t.app.inject({ method: 'GET', url: '/moon/git/index/HEAD' });
    expect(head.statusCode).toBe(404);
  });

  it('advertises main as HEAD', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/moon/git/index/info/refs?service=git-upload-pack' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('symref=HEAD:refs/heads/main');
    expect(res.headers['cache-control']).toMatch(/no-cache/);
  });
});
