/**
 * The real `cargo` through Larder's Cargo proxy and group, over real sockets, offline: a fake
 * crates.io (sparse index + .crate files generated here) is the upstream. An unchanged project
 * (its dependencies "from crates.io") builds through crates.io source replacement to the proxy, and
 * to a group of a hosted repo and the proxy; a project using the group as an alternative registry
 * builds an in-house crate beside crates.io ones; then the upstream is stopped and a fresh
 * CARGO_HOME still builds from Larder's cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from './support/cargo.js';
import { cleanEnv, expectOk, runCargo, type CargoRun } from './support/cargo-cli.js';
import { fakeCratesIo, type PublishedUpstream } from './support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { tempDir } from './support/tmp.js';

const TEST_TIMEOUT_MS = 180_000;
const CRATES_IO_SOURCE = 'registry+https://github.com/rust-lang/crates.io-index';

/** A throw-away CARGO_HOME, target dir and project with the given `.cargo/config.toml`. */
function sandbox(config: string, deps: string, main: string) {
  const dir = tempDir('larder-cargo-proxy-');
  const project = path.join(dir.path, 'app');
  fs.mkdirSync(path.join(project, 'src'), { recursive: true });
  fs.mkdirSync(path.join(project, '.cargo'));
  fs.writeFileSync(path.join(project, '.cargo', 'config.toml'), config);
  fs.writeFileSync(
    path.join(project, 'Cargo.toml'),
    `[package]\nname = "app"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n${deps}\n`,
  );
  fs.writeFileSync(path.join(project, 'src', 'main.rs'), main);
  const env = {
    ...cleanEnv(),
    CARGO_HOME: path.join(dir.path, 'cargo-home'),
    CARGO_TARGET_DIR: path.join(dir.path, 'target'),
    CARGO_TERM_COLOR: 'never',
    CARGO_TERM_PROGRESS_WHEN: 'never',
    CARGO_NET_RETRY: '0',
    CARGO_INCREMENTAL: '0',
  };
  return {
    project,
    cargo: (args: string[]): Promise<CargoRun> => runCargo(args, { cwd: project, env }),
    lockfile: () => fs.readFileSync(path.join(project, 'Cargo.lock'), 'utf8'),
    remove: () => dir.remove(),
  };
}

/** `.cargo/config.toml` replacing crates.io with a Larder repo (cargo.md §1.2). */
const replaceCratesIo = (larder: TestLarder, repo: string) =>
  `[source.crates-io]\nreplace-with = "larder-${repo}"\n\n[source.larder-${repo}]\nregistry = "sparse+${larder.url}/${repo}/index/"\n`;

/** The `[[package]]` block of a lockfile for one crate. */
function lockEntry(lock: string, name: string): string {
  const block = lock.split('[[package]]').find((b) => b.includes(`name = "${name}"\n`));
  if (!block) throw new Error(`${name} is not in Cargo.lock:\n${lock}`);
  return block;
}

const UNCHANGED_DEPS = 'mid = "0.2"';
const UNCHANGED_MAIN = 'fn main() { println!("answer {}", mid::answer()); }\n';

describe('cargo through a Cargo proxy and group', () => {
  let up: FakeUpstream;
  let larder: TestLarder;
  let leaf: PublishedUpstream;
  let mid: PublishedUpstream;

  beforeAll(async () => {
    up = await startFakeUpstream();
    const io = fakeCratesIo(up);
    leaf = await io.add({ name: 'leaf', vers: '1.0.0', lib: 'pub fn leaf() -> u32 { 41 }\n' });
    mid = await io.add({
      name: 'mid',
      vers: '0.2.0',
      deps: [
        { name: 'leaf', req: '^1' },
        // Never resolved for a registry crate: the proxy must not be asked for it.
        { name: 'devonly', req: '^1', kind: 'dev' },
      ],
      lib: 'pub fn answer() -> u32 { leaf::leaf() + 1 }\n',
    });
    larder = await startTestLarder({
      repos: [
        // A short TTL: later requests revalidate, so the offline build below reads stale copies.
        { name: 'crates', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/`, ttl: 500 },
        { name: 'mine', format: 'cargo', kind: 'hosted', visibility: 'public' },
        { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['mine', 'crates'] },
      ],
      outbound: { retries: 0 },
    });
    const { body } = await simplePublishBody('inhouse', '1.0.0');
    const res = await fetch(`${larder.url}/mine/api/v1/crates/new`, {
      method: 'PUT',
      headers: { authorization: larder.adminToken },
      body: new Uint8Array(body),
    });
    expect(res.status).toBe(200);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await larder?.stop();
    await up?.close();
  });

  it(
    'an unchanged project builds through the proxy (crates.io source replacement), with crates.io checksums in Cargo.lock',
    async () => {
      const box = sandbox(replaceCratesIo(larder, 'crates'), UNCHANGED_DEPS, UNCHANGED_MAIN);
      try {
        expectOk(await box.cargo(['generate-lockfile']));
        const lock = box.lockfile();
        expect(lockEntry(lock, 'mid')).toContain(`source = "${CRATES_IO_SOURCE}"`);
        expect(lockEntry(lock, 'mid')).toContain(`checksum = "${mid.cksum}"`);
        expect(lockEntry(lock, 'leaf')).toContain(`checksum = "${leaf.cksum}"`);
        expectOk(await box.cargo(['fetch']));
        const run = expectOk(await box.cargo(['run', '--quiet']));
        expect(run.stdout.trim()).toBe('answer 42');
        expect(up.hits(mid.cratePath)).toBe(1);
        expect(up.hits(leaf.cratePath)).toBe(1);
        expect(up.hits('/de/vo/devonly')).toBe(0);
      } finally {
        box.remove();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the same project builds through a group of a hosted repo and the proxy',
    async () => {
      const box = sandbox(replaceCratesIo(larder, 'all'), UNCHANGED_DEPS, UNCHANGED_MAIN);
      try {
        expectOk(await box.cargo(['generate-lockfile']));
        expect(lockEntry(box.lockfile(), 'mid')).toContain(`checksum = "${mid.cksum}"`);
        const run = expectOk(await box.cargo(['run', '--quiet']));
        expect(run.stdout.trim()).toBe('answer 42');
        // The group read the proxy's cache: the upstream served each crate once in all.
        expect(up.hits(mid.cratePath)).toBe(1);
      } finally {
        box.remove();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the group as an alternative registry serves an in-house crate beside crates.io ones',
    async () => {
      const config = `[registries.all]\nindex = "sparse+${larder.url}/all/index/"\n`;
      const deps = 'inhouse = { version = "1", registry = "all" }\nmid = { version = "0.2", registry = "all" }';
      const main = 'fn main() { println!("{} {}", inhouse::hello(), mid::answer()); }\n';
      const box = sandbox(config, deps, main);
      try {
        const run = expectOk(await box.cargo(['run', '--quiet']));
        expect(run.stdout.trim()).toBe('inhouse 42');
        const lock = box.lockfile();
        for (const name of ['inhouse', 'mid', 'leaf']) {
          expect(lockEntry(lock, name)).toContain(`source = "sparse+${larder.url}/all/index/"`);
        }
      } finally {
        box.remove();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'with the upstream stopped, a fresh CARGO_HOME still builds from Larder’s cache',
    async () => {
      await up.stop();
      await new Promise((r) => setTimeout(r, 600)); // past the proxy's TTL: every index file is revalidated, and fails
      for (const repo of ['crates', 'all']) {
        const box = sandbox(replaceCratesIo(larder, repo), UNCHANGED_DEPS, UNCHANGED_MAIN);
        try {
          expectOk(await box.cargo(['generate-lockfile']));
          expect(lockEntry(box.lockfile(), 'leaf')).toContain(`checksum = "${leaf.cksum}"`);
          expectOk(await box.cargo(['fetch']));
          expectOk(await box.cargo(['build', '--quiet']));
          expect(fs.existsSync(path.join(box.project, '..', 'target', 'debug', 'app'))).toBe(true);
        } finally {
          box.remove();
        }
      }
      // Cargo's requests were answered from copies Larder could not revalidate, and says so.
      const res = await fetch(`${larder.url}/crates/index/3/m/mid`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-larder-stale')).not.toBeNull();
    },
    TEST_TIMEOUT_MS,
  );
});
