/**
 * Cargo's git index with the real `cargo` and the real `git` (cargo.md §14): the registry configured exactly as
 * Cargo's documentation writes it (`index = "http://host/R/git/index"`, no `sparse+`), once with libgit2 (cargo's
 * default) and once with `net.git-fetch-with-cli = true`. Publish, build, yank, unyank and a squash, with the sparse
 * and git views compared after each step; a private repo through git's credential helper.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentGeneration } from '../src/registry/git-history/view.js';
import { cleanEnv, expectOk, runCargo, type CargoRun } from './support/cargo-cli.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const TEST_TIMEOUT_MS = 240_000;
const SQUASH_AFTER = 4;

type Files = Record<string, string>;

const library = (name: string, version: string): Files => ({
  'Cargo.toml': `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\ndescription = "${name} for the git index tests"\nlicense = "MIT"\n`,
  'src/lib.rs': `pub fn version() -> &'static str {\n    "${version}"\n}\n`,
});

const consumer = (dep: string, registry: string): Files => ({
  'Cargo.toml': `[package]\nname = "consumer"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n${dep} = { version = "1", registry = "${registry}" }\n`,
  'src/main.rs': `fn main() {\n    println!("uses {}", ${dep}::version());\n}\n`,
});

/** The sources and versions a project's Cargo.lock pins. */
function lockOf(dir: string): Array<{ name: string; version: string; source?: string }> {
  const lock = parseToml(fs.readFileSync(path.join(dir, 'Cargo.lock'), 'utf8')) as { package?: Array<{ name: string; version: string }> };
  return lock.package ?? [];
}

/** A throw-away user: CARGO_HOME, HOME (git's config), a project root with `.cargo/config.toml`. */
class Sandbox {
  private readonly dir = tempDir('larder-cargo-git-');
  readonly root = this.dir.path;
  readonly home = path.join(this.root, 'home');
  readonly cargoHome = path.join(this.root, 'cargo-home');

  constructor(
    private readonly targetDir: string,
    config: string,
  ) {
    fs.mkdirSync(this.home);
    fs.mkdirSync(this.cargoHome);
    fs.mkdirSync(path.join(this.root, '.cargo'));
    fs.writeFileSync(path.join(this.root, '.cargo', 'config.toml'), config);
  }

  env(): NodeJS.ProcessEnv {
    return {
      ...cleanEnv(),
      HOME: this.home,
      // rustup finds its toolchains under HOME unless told: keep the user's.
      RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(os.homedir(), '.rustup'),
      CARGO_HOME: this.cargoHome,
      CARGO_TARGET_DIR: this.targetDir,
      CARGO_TERM_COLOR: 'never',
      CARGO_TERM_PROGRESS_WHEN: 'never',
      CARGO_NET_RETRY: '0',
      CARGO_INCREMENTAL: '0',
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
    };
  }

  project(name: string, files: Files): string {
    const dir = path.join(this.root, name);
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    }
    return dir;
  }

  cargo(cwd: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<CargoRun> {
    return runCargo(args, { cwd, env: { ...this.env(), ...env }, input });
  }

  /** git's credential helper `store` with the token as password for the server's URL (what a user sets up once). */
  storeGitCredentials(url: string, token: string): void {
    const u = new URL(url);
    fs.writeFileSync(path.join(this.home, '.gitconfig'), '[credential]\n\thelper = store\n');
    fs.writeFileSync(path.join(this.home, '.git-credentials'), `${u.protocol}//larder:${encodeURIComponent(token)}@${u.host}\n`, {
      mode: 0o600,
    });
  }

  remove(): void {
    this.dir.remove();
  }
}

/** Clones the git index and checks it holds exactly the sparse index's files (and config.json), byte for byte. */
async function expectViewsAgree(larder: TestLarder, repoName: string, headers: Record<string, string> = {}): Promise<Map<string, Buffer>> {
  const dir = tempDir('larder-git-view-');
  try {
    const u = new URL(larder.url);
    const auth = headers.authorization ? `larder:${encodeURIComponent(headers.authorization)}@` : '';
    await run('git', ['clone', '-q', `${u.protocol}//${auth}${u.host}/${repoName}/git/index`, dir.path], {
      env: { ...cleanEnv(), GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' },
    });
    const files = new Map<string, Buffer>();
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.name === '.git') continue;
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else files.set(path.relative(dir.path, p), fs.readFileSync(p));
      }
    };
    walk(dir.path);
    const repo = larder.registry.repos.get(repoName)!;
    const docs = await larder.registry.db.selectFrom('index_docs').select('path').where('repo_id', '=', repo.id).execute();
    expect([...files.keys()].sort()).toEqual([...docs.map((d) => d.path), 'config.json'].sort());
    for (const [p, body] of files) {
      const res = await fetch(`${larder.url}/${repoName}/index/${p}`, { headers });
      expect(res.status, p).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(body), `${p} differs between the sparse and git views`).toBe(true);
    }
    return files;
  } finally {
    dir.remove();
  }
}

describe('cargo with the git index', () => {
  let larder: TestLarder;
  const target = tempDir('larder-cargo-git-target-');

  beforeAll(async () => {
    larder = await startTestLarder({
      repos: [
        { name: 'libgit2', format: 'cargo', kind: 'hosted', visibility: 'public', gitBatch: 0, gitSquashAfter: SQUASH_AFTER },
        { name: 'cli', format: 'cargo', kind: 'hosted', visibility: 'public', gitBatch: 0, gitSquashAfter: SQUASH_AFTER },
        { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private', gitBatch: 0 },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await larder?.stop();
    target.remove();
  });

  for (const mode of ['libgit2', 'cli'] as const) {
    it(
      `publishes, builds, yanks and survives a squash (${mode === 'cli' ? 'net.git-fetch-with-cli' : 'libgit2'})`,
      async () => {
        const index = `${larder.url}/${mode}/git/index`;
        const user = new Sandbox(
          target.path,
          // Cargo's documentation, word for word but the URL.
          `[registries.my-registry]\nindex = "${index}"\n${mode === 'cli' ? '\n[net]\ngit-fetch-with-cli = true\n' : ''}`,
        );
        try {
          const crate = `gi_${mode}`;
          expectOk(await user.cargo(user.root, ['login', '--registry', 'my-registry'], `${larder.adminToken}\n`));
          const publish = async (version: string) => {
            const dir = user.project(`${crate}-${version}`, library(crate, version));
            const out = expectOk(await user.cargo(dir, ['publish', '--registry', 'my-registry', '--allow-dirty', '--no-verify']));
            expect(out.output).toContain(`Published ${crate} v${version}`);
          };

          await publish('1.0.0');
          await expectViewsAgree(larder, mode);
          const app = user.project('app', consumer(crate, 'my-registry'));
          const built = expectOk(await user.cargo(app, ['run', '-q']));
          expect(built.stdout).toContain('uses 1.0.0');
          expect(lockOf(app).find((p) => p.name === crate)).toMatchObject({ version: '1.0.0', source: `registry+${index}` });

          // A new version, seen after cargo's next fetch.
          await publish('1.1.0');
          expectOk(await user.cargo(app, ['update']));
          expect(lockOf(app).find((p) => p.name === crate)?.version).toBe('1.1.0');
          await expectViewsAgree(larder, mode);

          // A yanked version is avoided by a fresh resolve.
          expectOk(await user.cargo(user.root, ['yank', '--registry', 'my-registry', '--version', '1.1.0', crate]));
          const repo = larder.registry.repos.get(mode)!;
          const before = await currentGeneration(larder.registry.db, { repoId: repo.id, history: 'index' });
          expectOk(await user.cargo(app, ['generate-lockfile']));
          expect(lockOf(app).find((p) => p.name === crate)?.version).toBe('1.0.0');
          await expectViewsAgree(larder, mode);
          expect(before.n).toBe(0);

          // The unyank's commit passes SQUASH_AFTER: the history becomes one root commit; this client cloned before.
          expectOk(await user.cargo(user.root, ['yank', '--undo', '--registry', 'my-registry', '--version', '1.1.0', crate]));
          expectOk(await user.cargo(app, ['update']));
          expect(lockOf(app).find((p) => p.name === crate)?.version).toBe('1.1.0');
          const after = await currentGeneration(larder.registry.db, { repoId: repo.id, history: 'index' });
          expect(after.n).toBe(1);
          await expectViewsAgree(larder, mode);
          const clone = tempDir('larder-git-squashed-');
          try {
            await run('git', ['clone', '-q', index, clone.path], { env: { ...cleanEnv(), GIT_CONFIG_NOSYSTEM: '1' } });
            const log = await run('git', ['-C', clone.path, 'log', '--format=%s'], { env: cleanEnv() });
            expect(log.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^Squash \d+ commits into one$/)]);
          } finally {
            clone.remove();
          }
          const built2 = expectOk(await user.cargo(app, ['run', '-q']));
          expect(built2.stdout).toContain('uses 1.1.0');
        } finally {
          user.remove();
        }
      },
      TEST_TIMEOUT_MS,
    );
  }

  it(
    'a private git index asks git for credentials: none fail, a credential helper with a token works',
    async () => {
      const index = `${larder.url}/secret/git/index`;
      const user = new Sandbox(target.path, `[registries.secret]\nindex = "${index}"\ncredential-provider = "cargo:token"\n`);
      try {
        // git itself, without credentials: a 401 with a Basic challenge, so git would ask (prompts are off here).
        const res = await fetch(`${index}/info/refs?service=git-upload-pack`);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="Larder secret"/);
        expect(await res.text()).toContain('give git a Larder token as the password');
        const refused = await run('git', ['ls-remote', index], { env: { ...cleanEnv(), GIT_TERMINAL_PROMPT: '0', HOME: user.home } }).then(
          () => null,
          (err: { stderr: string }) => err.stderr,
        );
        expect(refused).toMatch(/Authentication failed|could not read Username|401/);

        // cargo without credentials for git: it cannot fetch the index, and says so.
        const app = user.project('app', consumer('gi_secret', 'secret'));
        const failed = await user.cargo(app, ['generate-lockfile']);
        expect(failed.code).not.toBe(0);
        expect(failed.output).toContain('failed to authenticate when downloading repository');

        // git's credential helper holds the token (libgit2 in cargo asks it); cargo's own token is for the API and downloads.
        user.storeGitCredentials(larder.url, larder.adminToken);
        expectOk(await user.cargo(user.root, ['login', '--registry', 'secret'], `${larder.adminToken}\n`));
        const lib = user.project('gi_secret', library('gi_secret', '1.0.0'));
        const published = expectOk(await user.cargo(lib, ['publish', '--registry', 'secret', '--allow-dirty', '--no-verify']));
        expect(published.output).toContain('Published gi_secret v1.0.0');
        const built = expectOk(await user.cargo(app, ['run', '-q']));
        expect(built.stdout).toContain('uses 1.0.0');
        // The git CLI asks the same helper.
        const lib2 = user.project('gi_secret-1.2.0', library('gi_secret', '1.2.0'));
        expectOk(await user.cargo(lib2, ['publish', '--registry', 'secret', '--allow-dirty', '--no-verify']));
        expectOk(await user.cargo(app, ['update'], undefined, { CARGO_NET_GIT_FETCH_WITH_CLI: 'true' }));
        expect(lockOf(app).find((p) => p.name === 'gi_secret')?.version).toBe('1.2.0');
        const files = await expectViewsAgree(larder, 'secret', { authorization: larder.adminToken });
        expect(JSON.parse(files.get('config.json')!.toString('utf8'))).toMatchObject({ 'auth-required': true });
      } finally {
        user.remove();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
