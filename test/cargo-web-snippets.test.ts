/**
 * "Copies a snippet that works" (issue 12), with the real `cargo`: the Cargo.toml line and the `.cargo/config.toml`
 * part are taken from the package page exactly as it renders them (entities decoded), written into a fresh consumer
 * project with a fresh CARGO_HOME, and cargo resolves and downloads the crate from a live Larder — for a hosted
 * repo, a proxy (named `crates-io`, which Cargo reserves) and a group. The page's `cargo add` command, run as
 * shown, writes the very line the page shows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from './support/cargo.js';
import { cleanEnv, expectOk, runCargo, type CargoRun } from './support/cargo-cli.js';
import { pageSnippets } from './support/cargo-page.js';
import { fakeCratesIo } from './support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { tempDir } from './support/tmp.js';

const TEST_TIMEOUT_MS = 180_000;
const TOML_LABEL = 'Cargo.toml, under [dependencies]';
const CONFIG_LABEL = '.cargo/config.toml';

let up: FakeUpstream;
let larder: TestLarder;

/** A consumer project with its own CARGO_HOME; `dependency` goes under [dependencies] when given. */
function consumer(config: string, dependency?: string) {
  const dir = tempDir('larder-cargo-snippet-');
  const project = path.join(dir.path, 'app');
  fs.mkdirSync(path.join(project, 'src'), { recursive: true });
  fs.mkdirSync(path.join(project, '.cargo'));
  fs.writeFileSync(path.join(project, '.cargo', 'config.toml'), config);
  const deps = dependency === undefined ? '' : `\n[dependencies]\n${dependency}\n`;
  fs.writeFileSync(
    path.join(project, 'Cargo.toml'),
    `[package]\nname = "app"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n${deps}`,
  );
  fs.writeFileSync(path.join(project, 'src', 'main.rs'), 'fn main() {}\n');
  const env = {
    ...cleanEnv(),
    CARGO_HOME: path.join(dir.path, 'cargo-home'),
    CARGO_TARGET_DIR: path.join(dir.path, 'target'),
    CARGO_TERM_COLOR: 'never',
    CARGO_TERM_PROGRESS_WHEN: 'never',
    CARGO_NET_RETRY: '0',
  };
  return {
    cargo: (args: string[]): Promise<CargoRun> => runCargo(args, { cwd: project, env }),
    manifest: () => fs.readFileSync(path.join(project, 'Cargo.toml'), 'utf8'),
    lock: () =>
      (parseToml(fs.readFileSync(path.join(project, 'Cargo.lock'), 'utf8')) as { package: Array<Record<string, string>> }).package,
    remove: () => dir.remove(),
  };
}

/** The page's snippets, exactly as a user copies them. */
async function snippetsOf(url: string): Promise<Map<string, string>> {
  const res = await fetch(`${larder.url}${url}`);
  expect(res.status).toBe(200);
  return pageSnippets(await res.text());
}

beforeAll(async () => {
  up = await startFakeUpstream();
  await fakeCratesIo(up).add({ name: 'up-leaf', vers: '1.0.0' });
  larder = await startTestLarder({
    repos: [
      { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'crates-io', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/` },
      { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['cargo', 'crates-io'] },
    ],
    outbound: { retries: 0 },
  });
  for (const vers of ['1.0.0', '1.1.0']) {
    const { body } = await simplePublishBody('Snippet-Lib', vers);
    const res = await fetch(`${larder.url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      headers: { authorization: larder.adminToken },
      body: new Uint8Array(body),
    });
    expect(res.status).toBe(200);
  }
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await larder?.stop();
  await up?.close();
});

describe('the package page snippets, pasted into a fresh project', () => {
  it.each([
    // The page of 1.0.0 says "1.0.0", which Cargo reads as ^1.0.0 (as the page notes): 1.1.0 is what it locks.
    ['an older hosted version', '/-/packages/cargo/snippet_lib?version=1.0.0', 'Snippet-Lib', '1.1.0', 'cargo'],
    ['a proxied crate', '/-/packages/crates-io/up-leaf', 'up-leaf', '1.0.0', 'crates-io'],
    ['a hosted crate through a group', '/-/packages/all/snippet_lib', 'Snippet-Lib', '1.1.0', 'all'],
    ['a proxied crate through a group', '/-/packages/all/up_leaf', 'up-leaf', '1.0.0', 'all'],
  ])(
    '%s: cargo resolves and downloads it',
    async (_what, page, crate, version, repo) => {
      const snippets = await snippetsOf(page);
      const box = consumer(snippets.get(CONFIG_LABEL)!, snippets.get(TOML_LABEL)!);
      try {
        expectOk(await box.cargo(['generate-lockfile']));
        expect(box.lock().find((p) => p.name === crate)).toMatchObject({
          version,
          source: `sparse+${larder.url}/${repo}/index/`,
          checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        expectOk(await box.cargo(['fetch']));
      } finally {
        box.remove();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "the page's cargo add command writes the line the page shows",
    async () => {
      const snippets = await snippetsOf('/-/packages/cargo/snippet_lib');
      const box = consumer(snippets.get(CONFIG_LABEL)!);
      try {
        const [program, ...args] = snippets.get('Or run')!.split(' ');
        expect(program).toBe('cargo');
        expectOk(await box.cargo(args));
        expect(box.manifest()).toContain(`\n[dependencies]\n${snippets.get(TOML_LABEL)!}\n`);
        expectOk(await box.cargo(['generate-lockfile']));
        expect(box.lock().find((p) => p.name === 'Snippet-Lib')?.version).toBe('1.1.0');
      } finally {
        box.remove();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
