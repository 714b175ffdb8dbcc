/**
 * `larder backup` while a real server takes `cargo publish`es, `larder restore` into a fresh
 * directory, `larder verify` on it, and a real `cargo build` resolving and downloading from a
 * server started on the restored data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, expectOk, runCargo } from './support/cargo-cli.js';
import { larder } from './support/cli.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

const root = tempDir('larder-backup-');
const servers: ServeProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  root.remove();
});

function writeProject(dir: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const manifest = (name: string, version: string, deps = '') =>
  `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\ndescription = "${name} for the backup test"\nlicense = "MIT"\n\n[dependencies]\n${deps}`;

/** A cargo sandbox (own CARGO_HOME, config pointing `larder` at `server`) rooted at `dir`. */
function cargoIn(dir: string, server: ServeProcess, data: string) {
  fs.mkdirSync(path.join(dir, '.cargo'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.cargo', 'config.toml'), `[registries.larder]\nindex = "sparse+${server.url}/cargo/index/"\n`);
  const env = {
    ...cleanEnv(),
    CARGO_HOME: path.join(dir, 'cargo-home'),
    CARGO_TARGET_DIR: path.join(dir, 'target'),
    CARGO_HTTP_CAINFO: path.join(data, 'tls', 'ca.pem'),
    CARGO_REGISTRIES_LARDER_TOKEN: TEST_ADMIN_TOKEN,
    CARGO_TERM_COLOR: 'never',
    CARGO_TERM_PROGRESS_WHEN: 'never',
    CARGO_NET_RETRY: '0',
  };
  return (cwd: string, args: string[]) => runCargo(args, { cwd, env });
}

describe('larder backup / restore', () => {
  it('backs up a running server, restores into a fresh directory that verifies, and cargo builds from it', async () => {
    const data = path.join(root.path, 'data');
    const server = await startServeProcess({ cwd: root.path, data, tls: true });
    servers.push(server);
    const pub = path.join(root.path, 'publisher');
    const cargo = cargoIn(pub, server, data);
    const base = writeProject(path.join(pub, 'bk_base'), {
      'Cargo.toml': manifest('bk_base', '0.1.0'),
      'src/lib.rs': 'pub fn base() -> &\'static str { "restored" }\n',
    });
    const util = writeProject(path.join(pub, 'bk_util'), {
      'Cargo.toml': manifest('bk_util', '0.2.0', 'bk_base = { version = "0.1", registry = "larder" }\n'),
      'src/lib.rs': 'pub fn util() -> String { format!("util {}", bk_base::base()) }\n',
    });
    for (const dir of [base, util]) expectOk(await cargo(dir, ['publish', '--registry', 'larder', '--allow-dirty', '--no-verify']));

    const backup = path.join(root.path, 'backup');
    const made = await larder(root.path, ['backup', backup, '--data', data]);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/backed up the database and 2 blob\(s\) .*2 hard-linked.* and the TLS CA into /);
    expect(fs.existsSync(path.join(backup, 'larder-backup.json'))).toBe(true);
    const again = await larder(root.path, ['backup', backup, '--data', data]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not empty; back up into a new or empty directory');

    const restored = path.join(root.path, 'restored');
    const restore = await larder(root.path, ['restore', backup, '--data', restored]);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`restored the database and 2 blob(s) into ${restored}`);
    const overwrite = await larder(root.path, ['restore', backup, '--data', restored]);
    expect(overwrite.code).toBe(1);
    expect(overwrite.stderr).toContain(`the data directory ${restored} is not empty`);
    const verify = await larder(root.path, ['verify', '--data', restored]);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('checked 2 blobs re-hashed');

    await server.stop();
    const second = await startServeProcess({ cwd: root.path, data: restored, tls: true });
    servers.push(second);
    const consumerRoot = path.join(root.path, 'consumer');
    const consumerCargo = cargoIn(consumerRoot, second, restored);
    const app = writeProject(path.join(consumerRoot, 'app'), {
      'Cargo.toml': `[package]\nname = "app"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\nbk_util = { version = "0.2", registry = "larder" }\n`,
      'src/main.rs': 'fn main() { println!("{}", bk_util::util()); }\n',
    });
    const build = expectOk(await consumerCargo(app, ['run', '--quiet']));
    expect(build.stdout).toBe('util restored\n');
    expect(fs.readFileSync(path.join(app, 'Cargo.lock'), 'utf8')).toMatch(
      /name = "bk_base"\nversion = "0.1.0"\nsource = "sparse\+https:\/\/127\.0\.0\.1:\d+\/cargo\/index\/"\nchecksum = "[0-9a-f]{64}"/,
    );
  }, 240_000);

  it('on PostgreSQL says how to back up instead of doing half a job', async () => {
    const r = await larder(root.path, ['backup', path.join(root.path, 'pg-backup'), '--database', 'postgres://larder@127.0.0.1:1/larder']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pg_dump');
    expect(r.stderr).toContain('README');
    expect(fs.existsSync(path.join(root.path, 'pg-backup'))).toBe(false);
  });
});
