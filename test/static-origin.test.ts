/**
 * A static origin served by real nginx from the configuration the deployment guide ships, resolved by real cargo:
 * Larder (`larder serve`) writes the index files, `larder static-origin sync` rebuilds the tree, and
 * `cargo generate-lockfile` reads the index through nginx, a version published a moment before included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexPath } from '../src/formats/cargo/names.js';
import { cleanEnv, expectOk, runCargo } from './support/cargo-cli.js';
import { simplePublishBody } from './support/cargo.js';
import { larder } from './support/cli.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startStaticNginx, type StaticNginx } from './support/nginx-static.js';
import { startS3 } from './support/s3.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

const TIMEOUT_MS = 180_000;

describe('static origin behind nginx (real cargo)', () => {
  const dir = tempDir('larder-static-e2e-');
  const www = path.join(dir.path, 'www');
  let serve: ServeProcess;
  let nginx: StaticNginx;

  beforeAll(async () => {
    // nginx's workers run unprivileged: the tree (and the directories above it) must be readable to them.
    fs.chmodSync(dir.path, 0o755);
    fs.writeFileSync(
      path.join(dir.path, 'larder.toml'),
      ['[[repos]]', 'name = "crates"', 'format = "cargo"', 'kind = "hosted"', `static_origin = "www/crates"`, ''].join('\n'),
    );
    serve = await startServeProcess({ cwd: dir.path, data: path.join(dir.path, 'data') });
  }, TIMEOUT_MS);
  afterAll(async () => {
    await nginx?.stop();
    await serve?.stop();
    dir.remove();
  });

  async function publish(name: string, vers: string): Promise<void> {
    const { body } = await simplePublishBody(name, vers);
    const res = await fetch(`${serve.url}/crates/api/v1/crates/new`, {
      method: 'PUT',
      headers: { authorization: TEST_ADMIN_TOKEN },
      body: new Uint8Array(body),
    });
    expect(res.status, await res.text()).toBe(200);
  }

  it(
    'rebuilds the tree with `larder static-origin sync`, and cargo resolves through nginx, a just-published version included',
    async () => {
      await publish('dep_a', '1.0.0');
      await publish('dep_b', '0.3.0');
      // The tree is lost (a new disk, a target that was down): sync rebuilds it from the database.
      fs.rmSync(www, { recursive: true, force: true });
      fs.mkdirSync(path.join(www, 'crates', 'index', 'st', 'ra'), { recursive: true });
      fs.writeFileSync(path.join(www, 'crates', 'index', 'st', 'ra', 'stray'), 'no such crate\n');
      const sync = await larder(dir.path, ['static-origin', 'sync', 'crates', '--data', path.join(dir.path, 'data')]);
      expect(sync.code, sync.stderr).toBe(0);
      expect(sync.stdout).toBe(`${path.join(www, 'crates')}: wrote 2 file(s), 0 unchanged, deleted 1\n`);

      nginx = await startStaticNginx({ dir: path.join(dir.path, 'nginx'), root: www, larderPort: serve.port });
      // Served by nginx from the file (its own ETag: "<mtime>-<size>"), with the bytes Larder serves.
      const viaNginx = await fetch(`${nginx.url}/crates/index/${indexPath('dep_a')}`);
      const viaLarder = await fetch(`${serve.url}/crates/index/${indexPath('dep_a')}`);
      expect(viaNginx.status).toBe(200);
      expect(viaNginx.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
      expect(viaNginx.headers.get('etag')).not.toBe(viaLarder.headers.get('etag'));
      expect(viaNginx.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(Buffer.from(await viaNginx.arrayBuffer())).toEqual(Buffer.from(await viaLarder.arrayBuffer()));
      // An unknown crate is not a file: Larder answers it through nginx, as cargo expects (404).
      expect((await fetch(`${nginx.url}/crates/index/${indexPath('nope_nope')}`)).status).toBe(404);

      // Published a moment before cargo runs: the file is written before the publish is answered.
      await publish('dep_a', '1.1.0');
      const home = path.join(dir.path, 'cargo-home');
      const project = path.join(dir.path, 'app');
      fs.mkdirSync(path.join(project, 'src'), { recursive: true });
      fs.mkdirSync(home, { recursive: true });
      fs.writeFileSync(
        path.join(home, 'config.toml'),
        `[registries.static]\nindex = "sparse+${nginx.url}/crates/index/"\n[net]\nretry = 0\n`,
      );
      fs.writeFileSync(
        path.join(project, 'Cargo.toml'),
        [
          '[package]',
          'name = "app"',
          'version = "0.1.0"',
          'edition = "2021"',
          '[dependencies]',
          'dep_a = { version = "1.1", registry = "static" }',
          'dep_b = { version = "0.3", registry = "static" }',
          '',
        ].join('\n'),
      );
      fs.writeFileSync(path.join(project, 'src', 'main.rs'), 'fn main() {}\n');
      expectOk(await runCargo(['generate-lockfile'], { cwd: project, env: { ...cleanEnv(), CARGO_HOME: home } }));
      const lock = fs.readFileSync(path.join(project, 'Cargo.lock'), 'utf8');
      expect(lock).toMatch(/name = "dep_a"\nversion = "1\.1\.0"/);
      expect(lock).toMatch(/name = "dep_b"\nversion = "0\.3\.0"/);
      // cargo's index reads were answered by nginx from files (no upstream in the log); config.json came from Larder.
      const log = nginx.accessLog();
      expect(log).toMatch(/GET \/crates\/index\/de\/p_\/dep_a HTTP\/1\.1" 200/);
      expect(log).toMatch(/GET \/crates\/index\/config\.json HTTP\/1\.1" 200/);
    },
    TIMEOUT_MS,
  );

  it(
    'syncs the same repository into an S3 bucket (s3rver) with the real CLI',
    async () => {
      const s3 = await startS3();
      try {
        const bucketUrl = await s3.newBucketUrl();
        const bucket = new URL(bucketUrl).hostname;
        const origin = bucketUrl.replace('/blobs?', '/site/crates?');
        const toml = ['[[repos]]', 'name = "crates"', 'format = "cargo"', 'kind = "hosted"', `static_origin = "${origin}"`, ''];
        fs.writeFileSync(path.join(dir.path, 's3.toml'), toml.join('\n'));
        const args = ['static-origin', 'sync', 'crates', '--config', 's3.toml', '--data', path.join(dir.path, 'data')];
        const first = await larder(dir.path, args);
        expect(first.code, first.stderr).toBe(0);
        expect(first.stdout).toBe(`s3://${bucket}/site/crates: wrote 2 file(s), 0 unchanged, deleted 0\n`);
        expect(await s3.keys(bucket)).toEqual([`site/crates/index/${indexPath('dep_a')}`, `site/crates/index/${indexPath('dep_b')}`]);
        const object = await fetch(`${s3.endpoint}/${bucket}/site/crates/index/${indexPath('dep_a')}`);
        const served = await fetch(`${serve.url}/crates/index/${indexPath('dep_a')}`);
        expect(Buffer.from(await object.arrayBuffer())).toEqual(Buffer.from(await served.arrayBuffer()));
        const again = await larder(dir.path, args);
        expect(again.stdout).toBe(`s3://${bucket}/site/crates: wrote 0 file(s), 2 unchanged, deleted 0\n`);
      } finally {
        await s3.stop();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'refuses to sync a repository that is not configured, or has no static_origin, and writes nothing',
    async () => {
      const before = fs.readdirSync(www, { recursive: true }).sort();
      const data = ['--data', path.join(dir.path, 'data')];
      const unknown = await larder(dir.path, ['static-origin', 'sync', 'crates-typo', ...data]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe('larder: no repository named "crates-typo" in the configuration\n');
      fs.writeFileSync(path.join(dir.path, 'other.toml'), '[[repos]]\nname = "crates"\nformat = "cargo"\nkind = "hosted"\n');
      const none = await larder(dir.path, ['static-origin', 'sync', 'crates', '--config', 'other.toml', ...data]);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/repository "crates" has no static_origin/);
      expect(fs.readdirSync(www, { recursive: true }).sort()).toEqual(before);
    },
    TIMEOUT_MS,
  );
});
