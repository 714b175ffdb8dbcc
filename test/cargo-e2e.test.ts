/**
 * End to end with the real `cargo` binary, over real sockets, against Larder serving HTTPS +
 * HTTP/2 from its self-signed CA: publish, resolve, build, yank, owners, search, a private repo,
 * a large publish, and proof that cargo spoke HTTP/2. Runs once on SQLite and once on PostgreSQL.
 *
 * Every cargo invocation gets a throw-away CARGO_HOME and a project-local .cargo/config.toml
 * (never the user's ~/.cargo); compiled artifacts share one CARGO_TARGET_DIR per suite.
 * The tests of one suite build on each other in order (the crates published first are used later).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { EventEmitter } from 'node:events';
import { parse as parseToml } from 'smol-toml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, expectOk, runCargo, type CargoRun } from './support/cargo-cli.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { tempDir } from './support/tmp.js';

const TEST_TIMEOUT_MS = 180_000;
const PUBTIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

// ---------------------------------------------------------------------------------------------
// Running cargo

function expectFailure(run: CargoRun): CargoRun {
  if (run.code === 0) throw new Error(`cargo unexpectedly succeeded:\n${run.output}`);
  expect(run.signal).toBeNull();
  return run;
}

// ---------------------------------------------------------------------------------------------
// HTTPS from the test itself (trusting Larder's CA)

interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** GET over https (trusting `ca`) or plain http, without connection reuse. */
function httpGet(url: string, ca?: Buffer, headers: Record<string, string> = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { ca, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** cargo.md §4.1: where cargo looks for a crate's index file. */
function indexPathOf(name: string): string {
  const n = name.toLowerCase();
  return n.length === 1
    ? `1/${n}`
    : n.length === 2
      ? `2/${n}`
      : n.length === 3
        ? `3/${n[0]}/${n}`
        : `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface IndexDep {
  name: string;
  req: string;
  features: string[];
  optional: boolean;
  default_features: boolean;
  target: string | null;
  kind: string | null;
  registry: string | null;
  package: string | null;
}

interface IndexLine {
  name: string;
  vers: string;
  deps: IndexDep[];
  cksum: string;
  features: Record<string, string[]>;
  yanked: boolean;
  links: string | null;
  rust_version: string | null;
  pubtime: string;
  v?: number;
  features2?: Record<string, string[]>;
}

interface LockPackage {
  name: string;
  version: string;
  source?: string;
  checksum?: string;
  dependencies?: string[];
}

function readLock(dir: string): LockPackage[] {
  const lock = parseToml(fs.readFileSync(path.join(dir, 'Cargo.lock'), 'utf8')) as { package?: LockPackage[] };
  return lock.package ?? [];
}

function lockVersion(dir: string, name: string): string | undefined {
  return readLock(dir).find((p) => p.name === name)?.version;
}

// ---------------------------------------------------------------------------------------------
// Crates used by the scenarios (they depend only on each other: there is no internet)

type Files = Record<string, string | Buffer>;

const pkg = (name: string, version: string, extra = '', description = `${name}, a crate for Larder's end-to-end tests`) =>
  `[package]
name = "${name}"
version = "${version}"
edition = "2021"
description = "${description}"
license = "MIT"
${extra}`;

/** `links` needs a build script; this one only proves that it ran. */
const helloReg = (version: string): Files => ({
  'Cargo.toml': `${pkg('hello_reg', version, 'links = "hello"', 'Says hello - a greeting crate for Larder tests')}
[features]
greet = []
`,
  'build.rs': 'fn main() {\n    println!("cargo:rerun-if-changed=build.rs");\n    println!("cargo:rustc-env=HELLO_BUILT=yes");\n}\n',
  'src/lib.rs': `pub fn hello() -> String {
    let who = if cfg!(feature = "greet") { "greeted" } else { "plain" };
    format!("hello {} {} (build script: {})", who, env!("CARGO_PKG_VERSION"), env!("HELLO_BUILT"))
}
`,
});

const ab: Files = {
  'Cargo.toml': pkg('ab', '0.1.0'),
  'src/lib.rs': 'pub const TAG: &str = "unix";\n',
};

const z: Files = {
  'Cargo.toml': pkg('z', '1.0.0'),
  'src/lib.rs': 'pub const VALUE: &str = "from-build-dep-z";\n',
};

/**
 * A renamed optional dependency (`hr`), `dep:` and `hr?/…` features, a target-specific, a build
 * and a dev dependency, and rust-version.
 */
const abc: Files = {
  'Cargo.toml': `${pkg('abc', '0.2.0', 'rust-version = "1.70"\npublish = ["larder"]')}
[dependencies]
hr = { package = "hello_reg", version = "0.1", registry = "larder", optional = true }

[target.'cfg(unix)'.dependencies]
ab = { version = "0.1", registry = "larder" }

[build-dependencies]
z = { version = "1", registry = "larder" }

[dev-dependencies]
hello_reg = { version = "0.1.0", registry = "larder" }

[features]
default = []
fancy = ["dep:hr", "hr?/greet"]
extra = ["hr?/greet"]
`,
  'build.rs':
    'fn main() {\n    // single colon: the `cargo::` syntax needs rust-version >= 1.77\n    println!("cargo:rustc-env=ABC_BUILD_DEP={}", z::VALUE);\n}\n',
  'src/lib.rs': `#[cfg(feature = "fancy")]
pub fn greeting() -> String {
    format!("abc says: {} [{}] [{}]", hr::hello(), env!("ABC_BUILD_DEP"), ab::TAG)
}

#[cfg(not(feature = "fancy"))]
pub fn greeting() -> String {
    String::from("abc without fancy")
}
`,
};

/** A binary crate with the given dependency lines. */
const consumer = (name: string, deps: string, main = 'fn main() {}\n'): Files => ({
  'Cargo.toml': `[package]
name = "${name}"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
${deps}
`,
  'src/main.rs': main,
});

// ---------------------------------------------------------------------------------------------
// A throw-away cargo environment: CARGO_HOME, project-local config, projects

interface ConfigOptions {
  /** Whether the private registry `secret` gets `credential-provider = "cargo:token"`. */
  secretProvider?: boolean;
}

class Sandbox {
  readonly root: string;
  readonly home: string;
  private readonly dir = tempDir('larder-cargo-e2e-');

  constructor(
    private readonly larder: TestLarder,
    private readonly targetDir: string,
    config: ConfigOptions = {},
  ) {
    this.root = this.dir.path;
    this.home = path.join(this.root, 'cargo-home');
    fs.mkdirSync(this.home);
    this.writeConfig(config);
  }

  /** `.cargo/config.toml` at the root of every project in this sandbox. */
  writeConfig({ secretProvider = true }: ConfigOptions): void {
    const base = this.larder.url;
    const text = [
      '[registries.larder]',
      `index = "sparse+${base}/cargo/index/"`,
      '',
      '[registries.secret]',
      `index = "sparse+${base}/secret/index/"`,
      ...(secretProvider ? ['credential-provider = "cargo:token"'] : []),
      '',
    ].join('\n');
    fs.mkdirSync(path.join(this.root, '.cargo'), { recursive: true });
    fs.writeFileSync(path.join(this.root, '.cargo', 'config.toml'), text);
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...cleanEnv(),
      CARGO_HOME: this.home,
      CARGO_TARGET_DIR: this.targetDir,
      ...(this.larder.caCertPath ? { CARGO_HTTP_CAINFO: this.larder.caCertPath } : {}),
      CARGO_TERM_COLOR: 'never',
      CARGO_TERM_PROGRESS_WHEN: 'never',
      CARGO_NET_RETRY: '0',
      CARGO_INCREMENTAL: '0',
      ...extra,
    };
  }

  /** Writes a project (files relative to it) and returns its directory. */
  project(name: string, files: Files): string {
    const dir = path.join(this.root, name);
    for (const [rel, content] of Object.entries(files)) {
      const file = path.join(dir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    return dir;
  }

  cargo(cwd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CargoRun> {
    return runCargo(args, { cwd, env: this.env(opts.env), input: opts.input });
  }

  /** `cargo login` with the token on stdin, as a user pastes it. */
  async login(token: string, registry = 'larder'): Promise<void> {
    const run = expectOk(await this.cargo(this.root, ['login', '--registry', registry], { input: `${token}\n` }));
    expect(run.output).toContain('token for `' + registry + '` saved');
    const creds = fs.readFileSync(path.join(this.home, 'credentials.toml'), 'utf8');
    expect(creds).toContain(token);
  }

  remove(): void {
    this.dir.remove();
  }
}

/** One request as the server received it (recorded from the raw Node server). */
interface SeenRequest {
  method: string;
  url: string;
  httpVersion: string;
  userAgent: string;
  authorization: boolean;
  expect: string | undefined;
  session: object | null;
}

/**
 * Records every request as the raw Node server sees it: HTTP version, HTTP/2 session, headers.
 * HTTP/2 requests are taken from the server's streams (Larder answers cached index reads on the
 * stream itself), HTTP/1.1 requests from its request events.
 */
function recordRequests(larder: TestLarder, into: SeenRequest[]): void {
  const server = larder.app.server as unknown as EventEmitter;
  server.on('stream', (stream: import('node:http2').ServerHttp2Stream, headers: import('node:http2').IncomingHttpHeaders) => {
    into.push({
      method: String(headers[':method'] ?? ''),
      url: String(headers[':path'] ?? ''),
      httpVersion: '2.0',
      userAgent: String(headers['user-agent'] ?? ''),
      authorization: headers.authorization !== undefined,
      expect: headers.expect as string | undefined,
      session: stream.session ?? null,
    });
  });
  server.on('request', (req: import('node:http').IncomingMessage) => {
    if (req.httpVersionMajor === 2) return;
    into.push({
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      userAgent: String(req.headers['user-agent'] ?? ''),
      authorization: req.headers.authorization !== undefined,
      expect: req.headers.expect as string | undefined,
      session: null,
    });
  });
}

// ---------------------------------------------------------------------------------------------

let pg: TestPostgres | undefined;

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

describe.each([{ db: 'sqlite' }, { db: 'postgres' }])('cargo end to end over HTTPS + HTTP/2 on $db', ({ db }) => {
  let larder: TestLarder;
  let ca: Buffer;
  let shared: { path: string; remove(): void };
  let targetDir: string;
  let aliceToken: string;
  let bobToken: string;
  let secretReadToken: string;
  const seen: SeenRequest[] = [];
  const sandboxes: Sandbox[] = [];

  const sandbox = (config?: ConfigOptions): Sandbox => {
    const s = new Sandbox(larder, targetDir, config);
    sandboxes.push(s);
    return s;
  };
  const cargoRequests = () => seen.filter((r) => r.userAgent.startsWith('cargo/'));

  async function indexLines(name: string, repo = 'cargo', headers: Record<string, string> = {}): Promise<IndexLine[]> {
    const res = await httpGet(`${larder.url}/${repo}/index/${indexPathOf(name)}`, ca, headers);
    expect(res.status).toBe(200);
    const text = res.body.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    return text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as IndexLine);
  }

  async function indexLine(name: string, vers: string, repo = 'cargo', headers: Record<string, string> = {}): Promise<IndexLine> {
    const line = (await indexLines(name, repo, headers)).find((l) => l.vers === vers);
    if (!line) throw new Error(`${name} ${vers} is not in the index`);
    return line;
  }

  async function download(name: string, vers: string, repo = 'cargo', headers: Record<string, string> = {}): Promise<Buffer> {
    const res = await httpGet(`${larder.url}/${repo}/api/v1/crates/${name}/${vers}/download`, ca, headers);
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    return res.body;
  }

  /** The .crate that `cargo publish` packaged locally (cargo 1.95 leaves it in target/package/tmp-crate/). */
  function packagedCrate(name: string, vers: string): Buffer {
    const file = [`tmp-crate/${name}-${vers}.crate`, `${name}-${vers}.crate`]
      .map((f) => path.join(targetDir, 'package', f))
      .find((f) => fs.existsSync(f));
    if (!file) throw new Error(`cargo left no ${name}-${vers}.crate under ${targetDir}/package`);
    return fs.readFileSync(file);
  }

  /** Publishes with `cargo publish` and checks that cargo saw it appear without waiting it out. */
  async function publish(
    s: Sandbox,
    dir: string,
    name: string,
    vers: string,
    opts: { verify?: boolean; registry?: string; env?: NodeJS.ProcessEnv; log?: SeenRequest[] } = {},
  ): Promise<CargoRun> {
    const registry = opts.registry ?? 'larder';
    const repo = registry === 'larder' ? 'cargo' : registry;
    const log = opts.log ?? seen;
    const args = ['publish', '--registry', registry, '--allow-dirty', ...(opts.verify ? [] : ['--no-verify'])];
    const before = log.length;
    const run = expectOk(await s.cargo(dir, args, { env: opts.env }));
    expect(run.output).toContain(`Uploaded ${name} v${vers} to registry \`${registry}\``);
    expect(run.output).toContain(`Published ${name} v${vers} at registry \`${registry}\``);
    expect(run.output).not.toMatch(/timed? ?out|timeout/i);
    // The index was updated before the PUT was answered, so cargo's first poll found the version.
    const requests = log.slice(before).map((r) => `${r.method} ${r.url}`);
    const put = requests.indexOf(`PUT /${repo}/api/v1/crates/new`);
    expect(put).toBeGreaterThanOrEqual(0);
    expect(requests.slice(put + 1).filter((r) => r === `GET /${repo}/index/${indexPathOf(name)}`)).toHaveLength(1);
    return run;
  }

  beforeAll(async () => {
    const database = db === 'sqlite' ? 'sqlite' : await pg!.newDatabase();
    larder = await startTestLarder({
      tls: true,
      database,
      repos: [
        { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
        { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private' },
      ],
    });
    expect(larder.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    ca = fs.readFileSync(larder.caCertPath!);
    shared = tempDir('larder-cargo-target-');
    targetDir = path.join(shared.path, 'target');

    recordRequests(larder, seen);

    const { auth } = larder.registry;
    await auth.createUser('alice', { name: 'Alice Liddell' });
    await auth.createUser('bob');
    aliceToken = (await auth.createToken({ login: 'alice', name: 'alice cargo', scopes: ['publish', 'yank', 'owners'] })).token;
    bobToken = (await auth.createToken({ login: 'bob', name: 'bob publish', scopes: ['publish'] })).token;
    secretReadToken = (await auth.createToken({ login: 'bob', name: 'secret reader', scopes: ['read'], repoPattern: 'secret' })).token;
  }, 120_000);

  afterEach(() => {
    for (const s of sandboxes.splice(0)) s.remove();
  });

  afterAll(async () => {
    for (const s of sandboxes.splice(0)) s.remove();
    await larder?.stop();
    shared?.remove();
  });

  it(
    '1. publishes a crate graph with renamed, optional, target, build and dev dependencies',
    async () => {
      const s = sandbox();
      await s.login(aliceToken);

      // hello_reg has a build script (for `links`); this one publish also runs cargo's verify build.
      const hello = s.project('hello_reg', helloReg('0.1.0'));
      const verified = await publish(s, hello, 'hello_reg', '0.1.0', { verify: true });
      expect(verified.output).toContain('Verifying hello_reg v0.1.0');
      expect(verified.output).toContain('Compiling hello_reg v0.1.0');
      await publish(s, s.project('ab', ab), 'ab', '0.1.0');
      await publish(s, s.project('z', z), 'z', '1.0.0');
      const abcDir = s.project('abc', abc);
      await publish(s, abcDir, 'abc', '0.2.0');

      const line = await indexLine('abc', '0.2.0');
      expect(line.name).toBe('abc');
      expect(line.yanked).toBe(false);
      expect(line.links).toBeNull();
      expect(line.rust_version).toBe('1.70');
      expect(line.pubtime).toMatch(PUBTIME);
      expect(Math.abs(Date.parse(line.pubtime) - Date.now())).toBeLessThan(5 * 60_000);
      expect(line.features).toEqual({ default: [], fancy: ['dep:hr', 'hr?/greet'], extra: ['hr?/greet'] });
      const common = { features: [], default_features: true, registry: null };
      const byKey = (name: string, kind: string) => line.deps.find((d) => d.name === name && (d.kind ?? 'normal') === kind);
      expect(line.deps).toHaveLength(4);
      expect(byKey('hr', 'normal')).toEqual({
        ...common,
        name: 'hr',
        package: 'hello_reg',
        req: '^0.1',
        optional: true,
        target: null,
        kind: 'normal',
      });
      expect(byKey('ab', 'normal')).toEqual({
        ...common,
        name: 'ab',
        package: null,
        req: '^0.1',
        optional: false,
        target: 'cfg(unix)',
        kind: 'normal',
      });
      expect(byKey('z', 'build')).toEqual({ ...common, name: 'z', package: null, req: '^1', optional: false, target: null, kind: 'build' });
      expect(byKey('hello_reg', 'dev')).toEqual({
        ...common,
        name: 'hello_reg',
        package: null,
        req: '^0.1.0',
        optional: false,
        target: null,
        kind: 'dev',
      });

      // The bytes served are the bytes cargo packaged, and cksum is their sha256.
      const crate = await download('abc', '0.2.0');
      expect(line.cksum).toBe(sha256(crate));
      expect(sha256(packagedCrate('abc', '0.2.0'))).toBe(line.cksum);

      const helloLine = await indexLine('hello_reg', '0.1.0');
      expect(helloLine.links).toBe('hello');
      expect(helloLine.features).toEqual({ greet: [] });
      expect(helloLine.cksum).toBe(sha256(await download('hello_reg', '0.1.0')));
      expect((await indexLine('ab', '0.1.0')).cksum).toMatch(/^[0-9a-f]{64}$/);
      expect((await indexLine('z', '1.0.0')).cksum).toMatch(/^[0-9a-f]{64}$/);

      // Publishing the same version again is refused by cargo itself, from the index.
      const again = expectFailure(await s.cargo(abcDir, ['publish', '--registry', 'larder', '--no-verify', '--allow-dirty']));
      expect(again.output).toContain('crate abc@0.2.0 already exists on `larder` index');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '2. builds a consumer resolved entirely from Larder, with lockfile checksums from the index',
    async () => {
      const s = sandbox();
      const app = s.project(
        'app',
        consumer(
          'app',
          'abc = { version = "0.2", registry = "larder", features = ["fancy"] }',
          'fn main() {\n    println!("{}", abc::greeting());\n}\n',
        ),
      );
      const run = expectOk(await s.cargo(app, ['run', '--quiet']));
      expect(run.stdout.trim()).toBe('abc says: hello greeted 0.1.0 (build script: yes) [from-build-dep-z] [unix]');

      const source = `sparse+${larder.url}/cargo/index/`;
      const fromRegistry = readLock(app).filter((p) => p.source !== undefined);
      expect(fromRegistry.map((p) => `${p.name} ${p.version}`).sort()).toEqual(['ab 0.1.0', 'abc 0.2.0', 'hello_reg 0.1.0', 'z 1.0.0']);
      for (const p of fromRegistry) {
        expect(p.source).toBe(source);
        expect(p.checksum).toBe((await indexLine(p.name, p.version)).cksum);
      }
      // A public registry never receives tokens on reads (none is configured here anyway).
      expect(cargoRequests().filter((r) => r.url.startsWith('/cargo/index/') && r.authorization)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '3. yank hides a version from fresh resolves, keeps locked builds working, and undo restores it',
    async () => {
      const s = sandbox();
      await s.login(aliceToken);
      await publish(s, s.project('hello_reg', helloReg('0.1.1')), 'hello_reg', '0.1.1');
      const published = await indexLine('hello_reg', '0.1.1');
      expect(published.pubtime).toMatch(PUBTIME);

      // A consumer that locked 0.1.1 while it was available.
      const mainRs = 'fn main() {\n    println!("{}", hello_reg::hello());\n}\n';
      const pinned = s.project('pinned', consumer('pinned', 'hello_reg = { version = "0.1", registry = "larder" }', mainRs));
      expectOk(await s.cargo(pinned, ['generate-lockfile']));
      expect(lockVersion(pinned, 'hello_reg')).toBe('0.1.1');

      const yank = expectOk(await s.cargo(s.root, ['yank', '--registry', 'larder', '--version', '0.1.1', 'hello_reg']));
      expect(yank.output).toContain('Yank hello_reg@0.1.1');
      const yanked = await indexLine('hello_reg', '0.1.1');
      expect(yanked).toEqual({ ...published, yanked: true });

      // A fresh resolve (fresh CARGO_HOME too) skips the yanked version.
      const fresh = sandbox();
      const app = fresh.project('fresh', consumer('fresh', 'hello_reg = { version = "0.1", registry = "larder" }'));
      expectOk(await fresh.cargo(app, ['generate-lockfile']));
      expect(lockVersion(app, 'hello_reg')).toBe('0.1.0');
      // Asking for exactly the yanked version is refused with cargo's message.
      const exact = fresh.project('exact', consumer('exact', 'hello_reg = { version = "=0.1.1", registry = "larder" }'));
      const refused = expectFailure(await fresh.cargo(exact, ['generate-lockfile']));
      expect(refused.output).toMatch(/version 0\.1\.1 is yanked/);

      // The existing lockfile still builds, downloading the yanked crate into another fresh home.
      const other = sandbox();
      const copy = other.project('pinned', {
        'Cargo.toml': fs.readFileSync(path.join(pinned, 'Cargo.toml')),
        'Cargo.lock': fs.readFileSync(path.join(pinned, 'Cargo.lock')),
        'src/main.rs': mainRs,
      });
      const locked = expectOk(await other.cargo(copy, ['run', '--locked', '--quiet']));
      expect(locked.stdout.trim()).toBe('hello plain 0.1.1 (build script: yes)');
      expect(lockVersion(copy, 'hello_reg')).toBe('0.1.1');

      const undo = expectOk(await s.cargo(s.root, ['yank', '--undo', '--registry', 'larder', '--version', '0.1.1', 'hello_reg']));
      expect(undo.output).toContain('Unyank hello_reg@0.1.1');
      expect(await indexLine('hello_reg', '0.1.1')).toEqual(published);
      expectOk(await fresh.cargo(app, ['generate-lockfile']));
      expect(lockVersion(app, 'hello_reg')).toBe('0.1.1');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '4. lists, adds and removes owners; refuses unknown users and non-owners readably',
    async () => {
      const s = sandbox();
      await s.login(aliceToken);
      const owner = (...args: string[]) => s.cargo(s.root, ['owner', '--registry', 'larder', ...args]);

      const list = expectOk(await owner('--list', 'hello_reg'));
      expect(list.stdout.trim().split('\n')).toEqual(['alice (Alice Liddell)']);

      const add = expectOk(await owner('--add', 'bob', 'hello_reg'));
      expect(add.output).toContain('user(s) bob added as owner(s) of crate hello_reg');
      expect(
        expectOk(await owner('--list', 'hello_reg'))
          .stdout.trim()
          .split('\n'),
      ).toEqual(['alice (Alice Liddell)', 'bob']);

      const remove = expectOk(await owner('--remove', 'bob', 'hello_reg'));
      expect(remove.output).toMatch(/Owner\s+removing \["bob"\] from crate hello_reg/);
      expect(
        expectOk(await owner('--list', 'hello_reg'))
          .stdout.trim()
          .split('\n'),
      ).toEqual(['alice (Alice Liddell)']);

      const unknown = expectFailure(await owner('--add', 'nobody', 'hello_reg'));
      expect(unknown.output).toContain(
        'the remote server responded with an error (status 404 Not Found): there is no user `nobody` on this registry',
      );

      // bob holds a publish token but does not own hello_reg.
      const b = sandbox();
      await b.login(bobToken);
      const dir = b.project('hello_reg', helloReg('0.1.2'));
      const denied = expectFailure(await b.cargo(dir, ['publish', '--registry', 'larder', '--no-verify', '--allow-dirty']));
      expect(denied.output).toContain(
        'the remote server responded with an error (status 403 Forbidden): you (bob) are not an owner of crate `hello_reg`',
      );
      expect((await indexLines('hello_reg')).map((l) => l.vers)).toEqual(['0.1.0', '0.1.1']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '5. searches by name and by a description phrase with "-" and spaces',
    async () => {
      const s = sandbox();
      const search = (...q: string[]) => s.cargo(s.root, ['search', '--registry', 'larder', ...q]);

      const byName = expectOk(await search('hello'));
      expect(byName.stdout).toMatch(/^hello_reg = "0\.1\.1"\s+# Says hello - a greeting crate for Larder tests$/m);
      expect(byName.stdout).not.toMatch(/^abc /m);

      const phrase = expectOk(await search('hello - a greeting'));
      expect(phrase.stdout).toMatch(/^hello_reg = "0\.1\.1"/m);
      const hyphen = expectOk(await search('hello-reg'));
      expect(hyphen.stdout).toMatch(/^hello_reg = "0\.1\.1"/m);

      const nothing = expectOk(await search('no such thing here'));
      expect(nothing.stdout.trim()).toBe('');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '6. a private repo needs cargo:token and a valid token for every read',
    async () => {
      // Anonymous HTTPS: 401 with the Cargo challenge, on config.json and on index files alike.
      const anon = await httpGet(`${larder.url}/secret/index/config.json`, ca);
      expect(anon.status).toBe(401);
      expect(anon.headers['www-authenticate']).toBe(`Cargo login_url="${larder.url}/secret/me"`);
      expect((await httpGet(`${larder.url}/secret/index/se/c_/sec_lib`, ca)).status).toBe(401);
      const authed = await httpGet(`${larder.url}/secret/index/config.json`, ca, { authorization: secretReadToken });
      expect(authed.status).toBe(200);
      expect(JSON.parse(authed.body.toString('utf8'))).toEqual({
        dl: `${larder.url}/secret/api/v1/crates`,
        api: `${larder.url}/secret`,
        'auth-required': true,
      });

      // Publish with the provider configured and the token from the environment.
      const s = sandbox();
      const lib = s.project('sec_lib', { 'Cargo.toml': pkg('sec_lib', '1.0.0'), 'src/lib.rs': 'pub fn secret() -> u32 { 42 }\n' });
      await publish(s, lib, 'sec_lib', '1.0.0', { registry: 'secret', env: { CARGO_REGISTRIES_SECRET_TOKEN: aliceToken } });
      expect((await indexLine('sec_lib', '1.0.0', 'secret', { authorization: secretReadToken })).cksum).toMatch(/^[0-9a-f]{64}$/);

      const deps = 'sec_lib = { version = "1", registry = "secret" }';
      const mainRs = 'fn main() {\n    println!("secret is {}", sec_lib::secret());\n}\n';

      // No credential provider configured: a token alone is not enough.
      const noProvider = sandbox({ secretProvider: false });
      const p1 = noProvider.project('app', consumer('app1', deps, mainRs));
      const r1 = expectFailure(
        await noProvider.cargo(p1, ['generate-lockfile'], { env: { CARGO_REGISTRIES_SECRET_TOKEN: secretReadToken } }),
      );
      expect(r1.output).toContain('authenticated registries require a credential-provider to be configured');

      // Provider configured, but no token at all.
      const noToken = sandbox();
      const p2 = noToken.project('app', consumer('app2', deps, mainRs));
      const r2 = expectFailure(await noToken.cargo(p2, ['generate-lockfile']));
      expect(r2.output).toMatch(/no token found for `secret`/);

      // A wrong token.
      const wrong = sandbox();
      const p3 = wrong.project('app', consumer('app3', deps, mainRs));
      const r3 = expectFailure(
        await wrong.cargo(p3, ['generate-lockfile'], { env: { CARGO_REGISTRIES_SECRET_TOKEN: 'larder_not-a-real-token' } }),
      );
      expect(r3.output).toContain('token rejected for `secret`');
      expect(r3.output).toContain('the token is not valid');

      // A read token via `cargo login` (credentials.toml): resolves, downloads and builds.
      const good = sandbox();
      await good.login(secretReadToken, 'secret');
      const p4 = good.project('app', consumer('app4', deps, mainRs));
      const before = seen.length;
      const r4 = expectOk(await good.cargo(p4, ['run', '--quiet']));
      expect(r4.stdout.trim()).toBe('secret is 42');
      const lock = readLock(p4).find((p) => p.name === 'sec_lib')!;
      expect(lock.source).toBe(`sparse+${larder.url}/secret/index/`);
      expect(lock.checksum).toBe(sha256(await download('sec_lib', '1.0.0', 'secret', { authorization: secretReadToken })));
      // Every read cargo made of the private repo carried the token, downloads included.
      const reads = seen.slice(before).filter((r) => r.userAgent.startsWith('cargo/') && r.url.startsWith('/secret/'));
      expect(reads.some((r) => r.url.endsWith('/download'))).toBe(true);
      expect(reads.some((r) => r.url === '/secret/index/se/c_/sec_lib')).toBe(true);
      const unauthenticated = reads.filter((r) => !r.authorization).map((r) => r.url);
      // Cargo's very first config.json of a fresh home goes out without credentials (then the 401 dance).
      expect(unauthenticated.every((u) => u === '/secret/index/config.json')).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '7. publishes a crate larger than 1 MiB, over HTTP/2 and over HTTP/1.1 with Expect: 100-continue',
    async () => {
      const bigCrate = (): Files => ({
        'Cargo.toml': pkg('big_blob', '0.1.0', 'include = ["src/**", "data.bin", "Cargo.toml"]'),
        'src/lib.rs': 'pub const SIZE: usize = include_bytes!("../data.bin").len();\n',
        // Random bytes do not compress: the .crate stays above 1 MiB.
        'data.bin': randomBytes(1536 * 1024),
      });

      const s = sandbox();
      await s.login(aliceToken);
      const before = seen.length;
      await publish(s, s.project('big_blob', bigCrate()), 'big_blob', '0.1.0');
      const put = seen.slice(before).find((r) => r.method === 'PUT' && r.url === '/cargo/api/v1/crates/new');
      // libcurl never sends Expect: 100-continue over HTTP/2 (flow control does that job).
      expect(put).toMatchObject({ httpVersion: '2.0', expect: undefined });
      const crate = await download('big_blob', '0.1.0');
      expect(crate.length).toBeGreaterThan(1024 * 1024);
      expect((await indexLine('big_blob', '0.1.0')).cksum).toBe(sha256(crate));
      expect(sha256(packagedCrate('big_blob', '0.1.0'))).toBe(sha256(crate));

      // Over plain HTTP cargo speaks HTTP/1.1 and announces bodies over 1 MiB with Expect: 100-continue.
      const plain = await startTestLarder({ tls: false, database: db === 'sqlite' ? 'sqlite' : await pg!.newDatabase() });
      try {
        const plainSeen: SeenRequest[] = [];
        recordRequests(plain, plainSeen);
        await plain.registry.auth.createUser('alice');
        const token = (await plain.registry.auth.createToken({ login: 'alice', scopes: ['publish'] })).token;
        const h1 = new Sandbox(plain, targetDir);
        sandboxes.push(h1);
        await h1.login(token);
        await publish(h1, h1.project('big_blob', bigCrate()), 'big_blob', '0.1.0', { log: plainSeen });
        const h1put = plainSeen.find((r) => r.method === 'PUT' && r.url === '/cargo/api/v1/crates/new');
        expect(h1put).toMatchObject({ httpVersion: '1.1', expect: '100-continue' });
        const res = await httpGet(`${plain.url}/cargo/index/bi/g_/big_blob`);
        expect(res.status).toBe(200);
        const line = JSON.parse(res.body.toString('utf8')) as IndexLine;
        expect(line.cksum).toBe(sha256(packagedCrate('big_blob', '0.1.0')));
        const dl = await httpGet(`${plain.url}/cargo/api/v1/crates/big_blob/0.1.0/download`);
        expect(dl.body.length).toBeGreaterThan(1024 * 1024);
        expect(sha256(dl.body)).toBe(line.cksum);
      } finally {
        await plain.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '8. cargo talks HTTP/2 to Larder, multiplexing a resolve on one connection',
    async () => {
      const s = sandbox();
      const app = s.project('h2', consumer('h2', 'abc = { version = "0.2", registry = "larder", features = ["fancy"] }'));
      const before = seen.length;
      expectOk(await s.cargo(app, ['generate-lockfile']));
      const run = seen.slice(before).filter((r) => r.userAgent.startsWith('cargo/'));
      expect(run.map((r) => r.url)).toEqual(
        expect.arrayContaining([
          '/cargo/index/config.json',
          '/cargo/index/3/a/abc',
          '/cargo/index/he/ll/hello_reg',
          '/cargo/index/2/ab',
          '/cargo/index/1/z',
        ]),
      );
      expect(new Set(run.map((r) => r.httpVersion))).toEqual(new Set(['2.0']));
      expect(new Set(run.map((r) => r.session)).size).toBe(1);

      // And so did every other cargo request of this suite: publishes, downloads, API calls.
      const all = cargoRequests();
      expect(all.length).toBeGreaterThan(50);
      expect(all.filter((r) => r.httpVersion !== '2.0').map((r) => `${r.method} ${r.url} HTTP/${r.httpVersion}`)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
