import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_REPOS,
  initConfigText,
  loadConfig,
  locateKeys,
  unpackedLimit,
  type ConfigOverrides,
  type LarderConfig,
} from '../config.js';
import { LarderError } from '../errors.js';

const MiB = 1024 * 1024;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'larder-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes <dir>/larder.toml from lines (so line N of the file is lines[N-1]) and loads it. */
function load(lines: string[] | null, env: Record<string, string> = {}, overrides?: ConfigOverrides): LarderConfig {
  if (lines) writeFileSync(join(dir, 'larder.toml'), lines.join('\n') + '\n');
  return loadConfig({ cwd: dir, env, overrides });
}

/** The CONFIG_INVALID message the load fails with. */
function failure(lines: string[] | null, env: Record<string, string> = {}, overrides?: ConfigOverrides): string {
  try {
    load(lines, env, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    expect((err as LarderError).code).toBe('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('loadConfig', () => {
  it('uses the defaults when there is no file', () => {
    expect(load(null)).toEqual({
      listen: { host: '127.0.0.1', port: 8080 },
      data: join(dir, 'larder-data'),
      database: { kind: 'sqlite', path: join(dir, 'larder-data', 'larder.db') },
      blobs: 'fs',
      publicUrl: null,
      logLevel: 'info',
      workers: 1,
      tls: { mode: 'off' },
      limits: {
        maxCrateSize: 10 * MiB,
        maxUnpackedSize: 512 * MiB,
        maxArchiveEntries: 20000,
        maxMetadataSize: MiB,
        maxArchiveSize: 100 * MiB,
      },
      unpackedLimits: { crate: null, juliaPackage: null, juliaArtifact: null, bazelSource: null, moonbitModule: null },
      repos: DEFAULT_REPOS,
      outbound: {
        allowPrivate: [],
        caFile: null,
        gitAllowHttp: false,
        timeoutMs: 120_000,
        connectTimeoutMs: 10_000,
        headersTimeoutMs: 30_000,
        bodyTimeoutMs: 30_000,
        retries: 2,
        concurrency: 8,
      },
      timeouts: { idleMs: 60_000, headersMs: 30_000, bodyIdleMs: 30_000, requestMs: 300_000, drainMs: 5_000, shutdownMs: 30_000 },
      http2: { maxConcurrentStreams: 128, windowBytes: MiB },
      uploads: { memory: 256 * MiB, waitMs: 10_000 },
      cache: { indexDocuments: 64 * MiB },
      file: null,
    });
  });

  it('reads per-format unpacked limits; a format without one uses limits.max_unpacked_size', () => {
    const config = load([
      '[limits]',
      'max_unpacked_size = "256MiB"',
      '[unpacked_limits]',
      'julia_artifact = "2GiB"',
      'bazel_source = 1048576',
    ]);
    expect(config.unpackedLimits).toEqual({
      crate: null,
      juliaPackage: null,
      juliaArtifact: 2 * 1024 * MiB,
      bazelSource: MiB,
      moonbitModule: null,
    });
    expect(unpackedLimit(config, 'juliaArtifact')).toBe(2 * 1024 * MiB);
    expect(unpackedLimit(config, 'juliaPackage')).toBe(256 * MiB);
    expect(failure(['[unpacked_limits]', 'julia_pakage = "1MiB"'])).toBe(
      'larder.toml:2: unknown key "unpacked_limits.julia_pakage" (did you mean "julia_package"?)',
    );
    expect(failure(['[unpacked_limits]', 'crate = "lots"'])).toMatch(/^larder\.toml:2: unpacked_limits\.crate: invalid size "lots"/);
  });

  it('reads a full file', () => {
    const config = load([
      'listen = "[::1]:9000"',
      'data = "store"',
      'database = "postgresql://larder:pw@db:5432/larder"',
      'public_url = "https://larder.example/"',
      'log_level = "debug"',
      'workers = 3',
      '[tls]',
      'mode = "files"',
      'cert = "tls/cert.pem"',
      'key = "/etc/larder/key.pem"',
      '[limits]',
      'max_crate_size = "20MB"',
      'max_unpacked_size = 1048576',
      'max_archive_entries = 500',
      'max_metadata_size = "64KiB"',
      '[outbound]',
      'allow_private = ["10.1.0.0/16", "127.0.0.1", "git.internal.example"]',
      'ca_file = "tls/internal-ca.pem"',
      'git_allow_http = true',
      'timeout = "5m"',
      '[[repos]]',
      'name = "internal"',
      'format = "cargo"',
      'kind = "hosted"',
      'visibility = "private"',
      '[[repos]]',
      'name = "crates-io"',
      'format = "cargo"',
      'kind = "proxy"',
      'upstream = "https://index.crates.io/"',
      '[[repos]]',
      'name = "all"',
      'format = "cargo"',
      'kind = "group"',
      'members = ["internal", "crates-io"]',
    ]);
    expect(config).toEqual({
      listen: { host: '::1', port: 9000 },
      data: join(dir, 'store'),
      database: { kind: 'postgres', url: 'postgresql://larder:pw@db:5432/larder' },
      blobs: 'fs',
      publicUrl: 'https://larder.example',
      logLevel: 'debug',
      workers: 3,
      tls: { mode: 'files', cert: join(dir, 'tls/cert.pem'), key: '/etc/larder/key.pem' },
      limits: {
        maxCrateSize: 20_000_000,
        maxUnpackedSize: MiB,
        maxArchiveEntries: 500,
        maxMetadataSize: 64 * 1024,
        maxArchiveSize: 100 * MiB,
      },
      unpackedLimits: { crate: null, juliaPackage: null, juliaArtifact: null, bazelSource: null, moonbitModule: null },
      repos: [
        { name: 'internal', format: 'cargo', kind: 'hosted', visibility: 'private' },
        { name: 'crates-io', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: 'https://index.crates.io/' },
        { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['internal', 'crates-io'] },
      ],
      outbound: {
        allowPrivate: ['10.1.0.0/16', '127.0.0.1', 'git.internal.example'],
        caFile: join(dir, 'tls/internal-ca.pem'),
        gitAllowHttp: true,
        timeoutMs: 300_000,
        connectTimeoutMs: 10_000,
        headersTimeoutMs: 30_000,
        bodyTimeoutMs: 30_000,
        retries: 2,
        concurrency: 8,
      },
      timeouts: { idleMs: 60_000, headersMs: 30_000, bodyIdleMs: 30_000, requestMs: 300_000, drainMs: 5_000, shutdownMs: 30_000 },
      http2: { maxConcurrentStreams: 128, windowBytes: MiB },
      uploads: { memory: 256 * MiB, waitMs: 10_000 },
      cache: { indexDocuments: 64 * MiB },
      file: join(dir, 'larder.toml'),
    });
  });

  it('loads the text of `larder init` back to the defaults', () => {
    writeFileSync(join(dir, 'larder.toml'), initConfigText());
    const fromInit = loadConfig({ cwd: dir, env: {} });
    rmSync(join(dir, 'larder.toml'));
    expect({ ...fromInit, file: null }).toEqual(loadConfig({ cwd: dir, env: {} }));
  });

  it('resolves relative paths against the config file directory', () => {
    mkdirSync(join(dir, 'etc'));
    writeFileSync(
      join(dir, 'etc', 'larder.toml'),
      'data = "../var"\ndatabase = "sqlite:db/larder.sqlite"\n[tls]\nmode = "files"\ncert = "c.pem"\nkey = "k.pem"\n',
    );
    const config = loadConfig({ cwd: dir, file: 'etc/larder.toml', env: {} });
    expect(config.file).toBe(join(dir, 'etc', 'larder.toml'));
    expect(config.data).toBe(join(dir, 'var'));
    expect(config.database).toEqual({ kind: 'sqlite', path: join(dir, 'etc', 'db', 'larder.sqlite') });
    expect(config.tls).toEqual({ mode: 'files', cert: join(dir, 'etc', 'c.pem'), key: join(dir, 'etc', 'k.pem') });
    // With no data key, the default data directory sits next to the file too.
    writeFileSync(join(dir, 'etc', 'larder.toml'), '');
    expect(loadConfig({ cwd: dir, env: { LARDER_CONFIG: 'etc/larder.toml' } }).data).toBe(join(dir, 'etc', 'larder-data'));
  });

  it('fails when a named config file is missing', () => {
    expect(() => loadConfig({ cwd: dir, file: 'nope.toml', env: {} })).toThrow(`config file ${join(dir, 'nope.toml')} not found`);
    expect(() => loadConfig({ cwd: dir, env: { LARDER_CONFIG: '/no/such/larder.toml' } })).toThrow(
      'config file /no/such/larder.toml not found',
    );
  });

  it('lets the environment beat the file, and the command line beat the environment', () => {
    const file = ['listen = "127.0.0.1:1000"', 'log_level = "warn"', '[limits]', 'max_crate_size = "1MiB"'];
    const env = {
      LARDER_LISTEN: '0.0.0.0:2000',
      LARDER_DATA: 'env-data',
      LARDER_LOG_LEVEL: 'debug',
      LARDER_TLS_MODE: 'self-signed',
      LARDER_TLS_HOSTNAMES: 'larder.lan, 10.0.0.5',
      LARDER_LIMITS_MAX_CRATE_SIZE: '2MiB',
      LARDER_LIMITS_MAX_ARCHIVE_ENTRIES: '10',
      LARDER_ADMIN_TOKEN: 'not a config key',
      LARDER_SOMETHING_ELSE: 'ignored',
    };
    const fromEnv = load(file, env);
    expect(fromEnv.listen).toEqual({ host: '0.0.0.0', port: 2000 });
    expect(fromEnv.data).toBe(join(dir, 'env-data'));
    expect(fromEnv.logLevel).toBe('debug');
    expect(fromEnv.tls).toEqual({ mode: 'self-signed', hostnames: ['larder.lan', '10.0.0.5'] });
    expect(fromEnv.limits).toMatchObject({ maxCrateSize: 2 * MiB, maxArchiveEntries: 10 });

    const fromCli = load(file, env, {
      listen: '127.0.0.1:3000',
      logLevel: 'error',
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      publicUrl: 'http://x.test/',
    });
    expect(fromCli.listen).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(fromCli.logLevel).toBe('error');
    expect(fromCli.tls).toEqual({ mode: 'files', cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') });
    expect(fromCli.publicUrl).toBe('http://x.test');
    expect(fromCli.limits.maxCrateSize).toBe(2 * MiB);
    expect(load(file, env, { tls: 'off' }).tls).toEqual({ mode: 'off' });
  });

  it('puts the database under an overridden data directory', () => {
    expect(load(['database = "sqlite"'], {}, { data: '/srv/larder' }).database).toEqual({ kind: 'sqlite', path: '/srv/larder/larder.db' });
  });
});

describe('loadConfig errors', () => {
  it('reports TOML syntax errors with line and column', () => {
    expect(failure(['listen = "127.0.0.1:8080"', 'data = ', 'log_level = "info"'])).toBe('larder.toml:2:8: invalid value');
  });

  it('names an unknown key and suggests the right one', () => {
    expect(failure(['# comment', '', 'lisen = "0.0.0.0:80"'])).toBe('larder.toml:3: unknown key "lisen" (did you mean "listen"?)');
    expect(failure(['[limits]', 'max_crate_sise = "1MiB"'])).toBe(
      'larder.toml:2: unknown key "limits.max_crate_sise" (did you mean "max_crate_size"?)',
    );
  });

  it('points at a wrong value in the second [[repos]]', () => {
    const message = failure([
      '[[repos]]',
      'name = "a"',
      'format = "cargo"',
      'kind = "hosted"',
      '',
      '[[repos]]',
      'name = "b"',
      'format = "cargo"',
      'kind = "hosted"',
      'visibility = "secret"',
    ]);
    expect(message).toBe('larder.toml:10: repos[1].visibility: expected "public" or "private", got "secret"');
  });

  it('rejects a bad size', () => {
    expect(failure(['[limits]', 'max_unpacked_size = "lots"'])).toMatch(
      /^larder\.toml:2: limits\.max_unpacked_size: invalid size "lots": expected a number of bytes/,
    );
  });

  it('rejects duplicate repository names at the second one', () => {
    const repos = ['[[repos]]', 'name = "cargo"', 'format = "cargo"', 'kind = "hosted"'];
    expect(failure([...repos, ...repos])).toBe('larder.toml:6: repos[1].name: duplicate repository name "cargo" (also repos[0])');
  });

  it('refuses proxy settings on a hosted repo, pointing at the line', () => {
    expect(failure(['[[repos]]', 'name = "a"', 'format = "cargo"', 'kind = "hosted"', 'cooldown = "3d"'])).toBe(
      'larder.toml:5: repos[0].cooldown: only proxy repositories take cooldown (this one is hosted)',
    );
  });

  it('reads a proxy with the sparse+ prefix, ttl, cooldown and offline', () => {
    const config = load(
      [
        '[[repos]]',
        'name = "m"',
        'format = "cargo"',
        'kind = "proxy"',
        'upstream = "sparse+https://index.crates.io/"',
        'ttl = "5m"',
        'cooldown = "3d"',
        'offline = true',
      ],
      {},
    );
    expect(config.repos[0]).toMatchObject({
      upstream: 'sparse+https://index.crates.io/',
      ttl: 300_000,
      cooldown: 3 * 86_400_000,
      offline: true,
    });
  });

  it('reads the git index settings of a Cargo repo and refuses them on other formats', () => {
    const config = load(
      ['[[repos]]', 'name = "c"', 'format = "cargo"', 'kind = "hosted"', 'git_squash_after = 50', 'git_batch = "5s"'],
      {},
    );
    expect(config.repos[0]).toMatchObject({ gitSquashAfter: 50, gitBatch: 5000 });
    expect(failure(['[[repos]]', 'name = "b"', 'format = "bazel"', 'kind = "hosted"', 'git_batch = "5s"'])).toBe(
      'larder.toml:5: repos[0].git_batch: only cargo repositories take git_batch (their git index; this one is bazel)',
    );
    expect(failure(['[[repos]]', 'name = "c"', 'format = "cargo"', 'kind = "hosted"', 'git_squash_after = 0'])).toMatch(
      /^larder\.toml:5: repos\[0\]\.git_squash_after: /,
    );
  });

  it('rejects a group member of another format', () => {
    const message = failure([
      '[[repos]]',
      'name = "crates"',
      'format = "cargo"',
      'kind = "hosted"',
      '[[repos]]',
      'name = "jl"',
      'format = "julia"',
      'kind = "hosted"',
      '[[repos]]',
      'name = "all"',
      'format = "cargo"',
      'kind = "group"',
      'members = ["crates", "jl"]',
    ]);
    expect(message).toBe(
      'larder.toml:13: repos[2].members[1]: "jl" is a julia repository; members of a cargo group must be cargo repositories',
    );
  });

  it('reports every problem at once, in file order', () => {
    const message = failure([
      'listen = "localhost"',
      '[tls]',
      'mode = "on"',
      '[[repos]]',
      'name = "Bad Name"',
      'format = "cargo"',
      'kind = "hosted"',
    ]);
    expect(message.split('\n')).toEqual([
      'larder.toml:1: listen: expected HOST:PORT with a port from 0 to 65535 (e.g. "127.0.0.1:8080" or "[::1]:8080"), got "localhost"',
      'larder.toml:3: tls.mode: expected "off", "self-signed" or "files", got "on"',
      'larder.toml:5: repos[0].name: expected 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, got "Bad Name"',
    ]);
  });

  it('checks the kinds that take upstream and members, and group membership', () => {
    const message = failure([
      '[[repos]]',
      'name = "h"',
      'format = "cargo"',
      'kind = "hosted"',
      'upstream = "https://example.test/"',
      '[[repos]]',
      'name = "g"',
      'format = "cargo"',
      'kind = "group"',
      'members = ["g", "nope"]',
    ]);
    expect(message.split('\n')).toEqual([
      'larder.toml:5: repos[0].upstream: only proxy repositories take upstream (this one is hosted)',
      'larder.toml:10: repos[1].members[0]: a group cannot contain itself',
      'larder.toml:10: repos[1].members[1]: no repository named "nope"',
    ]);
  });

  it('rejects groups that contain each other', () => {
    const group = (name: string, member: string) => [
      '[[repos]]',
      `name = "${name}"`,
      'format = "cargo"',
      'kind = "group"',
      `members = ["${member}"]`,
    ];
    expect(failure([...group('a', 'b'), ...group('b', 'a')]).split('\n')).toEqual([
      'larder.toml:5: repos[0].members: groups contain each other: a → b → a',
      'larder.toml:10: repos[1].members: groups contain each other: b → a → b',
    ]);
  });

  it('requires cert and key for tls mode "files"', () => {
    expect(failure(['[tls]', 'mode = "files"', 'cert = "c.pem"'])).toBe(
      'larder.toml:2: tls.mode: "files" needs both tls.cert and tls.key (PEM file paths)',
    );
    // The key may come from elsewhere.
    expect(load(['[tls]', 'mode = "files"', 'cert = "c.pem"'], { LARDER_TLS_KEY: '/k.pem' }).tls).toEqual({
      mode: 'files',
      cert: join(dir, 'c.pem'),
      key: '/k.pem',
    });
  });

  it('names the environment variable or option with a bad value', () => {
    expect(failure(null, { LARDER_LISTEN: 'localhost:99999', LARDER_LIMITS_MAX_METADATA_SIZE: '1 lot' }).split('\n')).toEqual([
      'LARDER_LISTEN: expected HOST:PORT with a port from 0 to 65535 (e.g. "127.0.0.1:8080" or "[::1]:8080"), got "localhost:99999"',
      'LARDER_LIMITS_MAX_METADATA_SIZE: invalid size "1 lot": expected a number of bytes or a number with a unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB), e.g. "10MiB"',
    ]);
    expect(failure(null, { LARDER_LOG_LEVEL: 'loud' })).toMatch(/^LARDER_LOG_LEVEL: expected "fatal", .* or "silent", got "loud"$/);
    expect(failure(null, { LARDER_DATABASE: 'mysql://u:secret@h/db' })).toBe(
      'LARDER_DATABASE: expected "sqlite", "sqlite:PATH" or "postgres://user:pass@host:5432/db", got "mysql://u:***@h/db"',
    );
    expect(failure(null, {}, { publicUrl: 'larder.example' })).toBe('--public-url: expected an http(s) URL, got "larder.example"');
    expect(failure(null, {}, { tlsCert: 'c.pem' })).toBe('--tls-cert/--tls-key: "files" needs both tls.cert and tls.key (PEM file paths)');
  });
});

describe('locateKeys', () => {
  it('finds top-level, table, array-table, dotted and quoted keys', () => {
    const lines = locateKeys(
      [
        'listen = "x"', // 1
        'tls.mode = "off"', // 2
        '"public_url" = """', // 3
        'fake = 1', // 4: inside a multi-line string
        '"""', // 5
        '[limits]', // 6
        "  'max_crate_size' = 1", // 7
        '[[repos]]', // 8
        'name = "a"', // 9
        '[[ repos ]]', // 10
        'name = "b"', // 11
        '[repos.extra]', // 12
        'x = 1', // 13
      ].join('\n'),
    );
    const at = (...path: (string | number)[]) => lines.get(path.join('\0'));
    expect([at('listen'), at('tls'), at('tls', 'mode'), at('public_url'), at('fake')]).toEqual([1, 2, 2, 3, undefined]);
    expect([at('limits'), at('limits', 'max_crate_size')]).toEqual([6, 7]);
    expect([at('repos', 0), at('repos', 0, 'name'), at('repos', 1), at('repos', 1, 'name'), at('repos', 1, 'extra', 'x')]).toEqual([
      8, 9, 10, 11, 13,
    ]);
  });
});

describe('workers', () => {
  it('takes a count or "auto" from the file, LARDER_WORKERS and --workers, and refuses anything else', () => {
    expect(load(['workers = "auto"']).workers).toBe(availableParallelism());
    expect(load(null, { LARDER_WORKERS: '2' }).workers).toBe(2);
    expect(load(null, {}, { workers: '4' }).workers).toBe(4);
    expect(failure(['log_level = "info"', 'workers = 0'])).toMatch(/^larder\.toml:2: workers/);
    expect(() => load(null, { LARDER_WORKERS: 'many' })).toThrow(/LARDER_WORKERS/);
  });
});

describe('blobs', () => {
  it('takes "fs" or an s3:// URL and says what else it could be', () => {
    expect(load(['blobs = "s3://larder-blobs/prod?endpoint=http://127.0.0.1:9000&path_style=true"']).blobs).toBe(
      's3://larder-blobs/prod?endpoint=http://127.0.0.1:9000&path_style=true',
    );
    expect(load(null, { LARDER_BLOBS: 's3://bucket-x' }).blobs).toBe('s3://bucket-x');
    expect(failure(['blobs = "ftp://x"'])).toMatch(/^larder\.toml:1: blobs: expected "fs"/);
  });
});

describe('outbound', () => {
  it('takes addresses, ranges and host names in allow_private, from the file or LARDER_OUTBOUND_ALLOW_PRIVATE', () => {
    expect(
      load(['[outbound]', 'allow_private = ["::1", "fd00::/8", "*.corp.example", "::ffff:10.0.0.0/104"]']).outbound.allowPrivate,
    ).toEqual(['::1', 'fd00::/8', '*.corp.example', '::ffff:10.0.0.0/104']);
    expect(
      load(null, { LARDER_OUTBOUND_ALLOW_PRIVATE: '127.0.0.1, git.internal.example', LARDER_OUTBOUND_CA_FILE: 'ca.pem' }).outbound,
    ).toMatchObject({ allowPrivate: ['127.0.0.1', 'git.internal.example'], caFile: join(dir, 'ca.pem') });
  });

  it('reads the timeouts, retries and concurrency proxy repositories use for their upstreams', () => {
    const lines = [
      '[outbound]',
      'connect_timeout = "3s"',
      'headers_timeout = "1m"',
      'body_timeout = "45s"',
      'retries = 0',
      'concurrency = 2',
    ];
    expect(load(lines).outbound).toMatchObject({
      connectTimeoutMs: 3000,
      headersTimeoutMs: 60_000,
      bodyTimeoutMs: 45_000,
      retries: 0,
      concurrency: 2,
    });
  });

  it('refuses entries that are neither, naming the line and what is expected', () => {
    expect(failure(['[outbound]', 'allow_private = ["10.0.0.0/33"]'])).toMatch(
      /^larder\.toml:2: outbound\.allow_private\[0\]: expected a CIDR range such as "10\.1\.0\.0\/16"/,
    );
    expect(failure(['[outbound]', 'allow_private = ["http://10.0.0.1/"]'])).toMatch(
      /^larder\.toml:2: .*expected an IP address .*got "http:\/\/10\.0\.0\.1\/"/,
    );
    expect(failure(['[outbound]', 'allow_privat = []'])).toMatch(/unknown key "outbound\.allow_privat" \(did you mean "allow_private"\?\)/);
    expect(failure(['[outbound]', 'timeout = "soon"'])).toMatch(/outbound\.timeout: invalid duration "soon"/);
    expect(failure(['[outbound]', 'retries = -1'])).toMatch(/^larder\.toml:2: outbound\.retries: /);
    expect(failure(['[outbound]', 'concurrency = 0'])).toMatch(/^larder\.toml:2: outbound\.concurrency: /);
    rmSync(join(dir, 'larder.toml'));
    expect(failure(null, { LARDER_OUTBOUND_ALLOW_PRIVATE: '10.0.0.0/40' })).toMatch(
      /^LARDER_OUTBOUND_ALLOW_PRIVATE: expected a CIDR range/,
    );
  });
});

describe('[timeouts]', () => {
  it('reads durations and seconds, 0 turning one off, keeping the other defaults', () => {
    const config = load(['[timeouts]', 'idle = "2m"', 'body_idle = 10', 'request = 0']);
    expect(config.timeouts).toEqual({
      idleMs: 120_000,
      headersMs: 30_000,
      bodyIdleMs: 10_000,
      requestMs: 0,
      drainMs: 5_000,
      shutdownMs: 30_000,
    });
  });

  it('takes the shutdown drain from the file or from LARDER_TIMEOUTS_DRAIN / LARDER_TIMEOUTS_SHUTDOWN', () => {
    expect(load(['[timeouts]', 'drain = "10s"', 'shutdown = "1m"']).timeouts).toMatchObject({ drainMs: 10_000, shutdownMs: 60_000 });
    expect(load(['[timeouts]', 'drain = "10s"'], { LARDER_TIMEOUTS_DRAIN: '0', LARDER_TIMEOUTS_SHUTDOWN: '2s' }).timeouts).toMatchObject({
      drainMs: 0,
      shutdownMs: 2_000,
    });
    expect(failure(null, { LARDER_TIMEOUTS_DRAIN: 'later' })).toMatch(/^LARDER_TIMEOUTS_DRAIN: invalid duration "later"/);
  });

  it('says which key is wrong and what it expects', () => {
    expect(failure(['[timeouts]', 'body_idle = "soon"'])).toMatch(
      /^larder\.toml:2: timeouts\.body_idle: invalid duration "soon": expected a number with a unit/,
    );
    expect(failure(['[timeouts]', 'idle = -1'])).toMatch(/^larder\.toml:2: timeouts\.idle: expected a duration such as "30s"/);
    expect(failure(['[timeouts]', 'body_idel = "1m"'])).toBe('larder.toml:2: unknown key "timeouts.body_idel" (did you mean "body_idle"?)');
  });
});
