/**
 * larder.toml: schema, loading, validation and overrides.
 *
 * Precedence: defaults < larder.toml < LARDER_* environment < command-line overrides.
 * The file is the one named by the caller (--config) or LARDER_CONFIG, else ./larder.toml if present.
 * Relative paths in the file are resolved against its directory; those from the
 * environment or the command line against the working directory.
 *
 * Environment overrides (an empty value counts as unset):
 *   LARDER_LISTEN                      listen
 *   LARDER_DATA                        data
 *   LARDER_DATABASE                    database
 *   LARDER_PUBLIC_URL                  public_url
 *   LARDER_LOG_LEVEL                   log_level
 *   LARDER_TLS_MODE                    tls.mode
 *   LARDER_TLS_CERT                    tls.cert
 *   LARDER_TLS_KEY                     tls.key
 *   LARDER_TLS_HOSTNAMES               tls.hostnames (comma-separated)
 *   LARDER_LIMITS_MAX_CRATE_SIZE       limits.max_crate_size
 *   LARDER_LIMITS_MAX_UNPACKED_SIZE    limits.max_unpacked_size
 *   LARDER_LIMITS_MAX_ARCHIVE_ENTRIES  limits.max_archive_entries
 *   LARDER_LIMITS_MAX_METADATA_SIZE    limits.max_metadata_size
 * Other LARDER_* variables (LARDER_CONFIG, LARDER_ADMIN_TOKEN, ...) are not config keys and are ignored here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { LarderError } from './errors.js';
import { parseSize } from './units.js';

export type Format = 'cargo' | 'bazel' | 'julia' | 'moonbit' | 'brioche';
export interface RepoConfig {
  name: string;
  format: Format;
  kind: 'hosted' | 'proxy' | 'group';
  visibility: 'public' | 'private';
  upstream?: string;
  members?: string[];
}
export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
export type TlsConfig = { mode: 'off' } | { mode: 'self-signed'; hostnames: string[] } | { mode: 'files'; cert: string; key: string };
export interface LarderConfig {
  listen: { host: string; port: number };
  /** Absolute. */
  data: string;
  /** A sqlite path is absolute. */
  database: DatabaseConfig;
  /** External base URL without a trailing slash; null = derive it from each request. */
  publicUrl: string | null;
  logLevel: string;
  /** File paths are absolute. */
  tls: TlsConfig;
  limits: { maxCrateSize: number; maxUnpackedSize: number; maxArchiveEntries: number; maxMetadataSize: number };
  repos: RepoConfig[];
  /** Absolute path of the larder.toml that was read, or null. */
  file: string | null;
}
export interface ConfigOverrides {
  listen?: string;
  data?: string;
  database?: string;
  publicUrl?: string;
  /** "off" | "self-signed" */
  tls?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
}

/** Used when larder.toml defines no [[repos]]: a hosted repo per implemented format. */
export const DEFAULT_REPOS: RepoConfig[] = [{ name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' }];

const FORMATS = ['cargo', 'bazel', 'julia', 'moonbit', 'brioche'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// ---------------------------------------------------------------------------
// Field parsers. They throw an Error whose message says what was expected.

/** Quotes strings, names other values by kind: for "got ..." in messages. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined || v === null) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date'; // smol-toml's TomlDate
  if (typeof v === 'object') return 'a table';
  return String(v);
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v.trim());
  if (!m || Number(m[3]) > 65535) {
    throw new Error(`expected HOST:PORT with a port from 0 to 65535 (e.g. "127.0.0.1:8080" or "[::1]:8080"), got ${show(v)}`);
  }
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/** sqlite with a null path means DATA/larder.db, decided once `data` is known. */
type DatabaseSetting = { kind: 'sqlite'; path: string | null } | { kind: 'postgres'; url: string };

function parseDatabase(v: string): DatabaseSetting {
  if (v === 'sqlite') return { kind: 'sqlite', path: null };
  if (v.startsWith('sqlite:') && v.length > 'sqlite:'.length) return { kind: 'sqlite', path: v.slice('sqlite:'.length) };
  if (/^postgres(ql)?:\/\//.test(v) && URL.canParse(v)) return { kind: 'postgres', url: v };
  // Hide a password that may sit in a mistyped URL.
  const safe = v.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  throw new Error(`expected "sqlite", "sqlite:PATH" or "postgres://user:pass@host:5432/db", got ${show(safe)}`);
}

function parseHttpUrl(v: string): string {
  const url = URL.canParse(v) ? new URL(v) : null;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new Error(`expected an http(s) URL, got ${show(v)}`);
  return v;
}

function parsePublicUrl(v: string): string | null {
  return v === '' ? null : parseHttpUrl(v).replace(/\/+$/, '');
}

function parseRepoName(v: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(v)) {
    throw new Error(`expected 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, got ${show(v)}`);
  }
  return v;
}

function nonEmpty(v: string): string {
  if (v === '') throw new Error('expected a path, got ""');
  return v;
}

/** Runs a throwing parser inside a zod transform, so its message becomes the validation error. */
function via<I, O>(parse: (v: I) => O) {
  return (v: I, ctx: z.RefinementCtx<I>): O => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  };
}

// ---------------------------------------------------------------------------
// Schema: the TOML shape. Strict objects, so a typo is an error rather than a silently ignored key.

const size = z.unknown().transform(via((v) => parseSize(v as string | number)));
// An empty cert/key (as `larder init` writes) means unset.
const optionalPath = z.string().transform((v) => v || undefined);

const RepoSchema = z.strictObject({
  name: z.string().transform(via(parseRepoName)),
  format: z.enum(FORMATS),
  kind: z.enum(['hosted', 'proxy', 'group']),
  visibility: z.enum(['public', 'private']).default('public'),
  upstream: z.string().transform(via(parseHttpUrl)).optional(),
  members: z.array(z.string()).optional(),
});
const TlsSchema = z.strictObject({
  mode: z.enum(['off', 'self-signed', 'files']),
  cert: optionalPath,
  key: optionalPath,
  hostnames: z.array(z.string()),
}).partial();
const LimitsSchema = z.strictObject({
  max_crate_size: size,
  max_unpacked_size: size,
  max_archive_entries: z.int().min(1),
  max_metadata_size: size,
}).partial();
const SettingsSchema = z.strictObject({
  listen: z.string().transform(via(parseListen)),
  data: z.string().transform(via(nonEmpty)),
  database: z.string().transform(via(parseDatabase)),
  public_url: z.string().transform(via(parsePublicUrl)),
  log_level: z.enum(LOG_LEVELS),
  tls: TlsSchema,
  limits: LimitsSchema,
  repos: z.array(RepoSchema),
}).partial();

/** What one source (file, environment, command line) sets. */
type Layer = z.output<typeof SettingsSchema>;

/** The merged settings, still in TOML terms. */
interface Settings {
  listen: { host: string; port: number };
  data: string;
  database: DatabaseSetting;
  public_url: string | null;
  log_level: string;
  tls: { mode: TlsConfig['mode']; cert?: string; key?: string; hostnames: string[] };
  limits: { max_crate_size: number; max_unpacked_size: number; max_archive_entries: number; max_metadata_size: number };
  repos: RepoConfig[];
}

function defaults(baseDir: string): Settings {
  return {
    listen: { host: '127.0.0.1', port: 8080 },
    data: resolve(baseDir, 'larder-data'),
    database: { kind: 'sqlite', path: null },
    public_url: null,
    log_level: 'info',
    tls: { mode: 'off', hostnames: [] },
    limits: { max_crate_size: 10 * 2 ** 20, max_unpacked_size: 512 * 2 ** 20, max_archive_entries: 20000, max_metadata_size: 2 ** 20 },
    repos: DEFAULT_REPOS,
  };
}

const KNOWN_KEYS: Record<string, string[]> = {
  '': Object.keys(SettingsSchema.shape),
  tls: Object.keys(TlsSchema.shape),
  limits: Object.keys(LimitsSchema.shape),
  repos: Object.keys(RepoSchema.shape),
};

// ---------------------------------------------------------------------------
// Problems: validation errors with a key path, rendered by the source they came from.

type Path = (string | number)[];
interface Problem {
  path: Path;
  message: string;
  /** The message already names the key ("unknown key ..."). */
  named?: boolean;
}

/** ["repos", 1, "visibility"] → "repos[1].visibility" */
function showPath(path: Path): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : (i ? '.' : '') + (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))))
    .join('');
}

function orList(items: string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest candidate within a few typos, if any. */
function suggest(word: string, candidates: string[]): string | undefined {
  const scored = candidates.map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) }));
  const best = scored.sort((x, y) => x.d - y.d)[0];
  return best && best.d < word.length && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.c : undefined;
}

function unknownKey(parent: Path, key: string): Problem {
  const known = KNOWN_KEYS[parent.filter((p) => typeof p === 'string').join('.')] ?? [];
  const guess = suggest(key, known);
  let message = `unknown key "${showPath([...parent, key])}"`;
  if (guess) message += ` (did you mean "${guess}"?)`;
  // A top-level key written below a [table] header lands in that table.
  else if (parent.length && KNOWN_KEYS['']!.includes(key)) message += ' (top-level keys must come before the first [table])';
  return { path: [...parent, key], message, named: true };
}

const NOUNS: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'an integer', array: 'an array', object: 'a table', boolean: 'true or false',
};

function fromZod(issues: readonly z.core.$ZodIssue[]): Problem[] {
  return issues.flatMap((issue): Problem[] => {
    const path = issue.path as Path;
    switch (issue.code) {
      case 'unrecognized_keys':
        return issue.keys.map((key) => unknownKey(path, key));
      case 'invalid_type':
        return [{ path, message: expected(NOUNS[issue.expected] ?? issue.expected, issue.input) }];
      case 'invalid_value':
        return [{ path, message: expected(orList(issue.values.map((v) => JSON.stringify(v))), issue.input) }];
      case 'too_small':
        return [{ path, message: expected(`at least ${issue.minimum}`, issue.input) }];
      default:
        return [{ path, message: issue.message }];
    }
  });
}

function expected(what: string, got: unknown): string {
  return got === undefined ? `missing (expected ${what})` : `expected ${what}, got ${show(got)}`;
}

// ---------------------------------------------------------------------------
// Locating keys in the TOML source. smol-toml keeps no positions, so a light scan maps
// key paths to lines; it only has to be right for files smol-toml accepted.

const KEY_PART = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*/y;

/** Reads a dotted key (bare, "basic" or 'literal' parts) at `pos`. */
function readKey(s: string, pos: number): { parts: string[]; end: number } | null {
  const parts: string[] = [];
  for (;;) {
    KEY_PART.lastIndex = pos;
    const m = KEY_PART.exec(s);
    if (!m) return null;
    if (m[1] !== undefined) parts.push(m[1]);
    else if (m[2] !== undefined) parts.push(unescapeBasic(m[2]));
    else parts.push(m[3]!);
    pos = KEY_PART.lastIndex;
    if (s[pos] !== '.') return { parts, end: pos };
    pos++;
  }
}

function unescapeBasic(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}

const pathKey = (path: Path) => path.join('\0');

/** Maps each key path (and array-table entry, e.g. ["repos", 1]) to the 1-based line that defines it. */
export function locateKeys(source: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayIndex = new Map<string, number>(); // resolved array-table path → current entry
  const note = (path: Path, line: number) => {
    if (!lines.has(pathKey(path))) lines.set(pathKey(path), line); // the first definition wins
  };
  let table: Path = [];
  let multiline: string | null = null;

  source.split(/\r?\n/).forEach((text, i) => {
    const line = i + 1;
    if (multiline) {
      if (text.split(multiline).length % 2 === 0) multiline = null;
      return;
    }
    const t = text.trimStart();
    if (t.startsWith('[')) {
      const isArray = t.startsWith('[[');
      const key = readKey(t, isArray ? 2 : 1);
      if (!key || !t.startsWith(isArray ? ']]' : ']', key.end)) return;
      // [repos.x] after [[repos]] means the last repos entry: thread the current indexes through.
      table = [];
      key.parts.forEach((part, j) => {
        table.push(part);
        note(table, line); // [a.b] defines a too, if nothing did before
        const k = pathKey(table);
        if (isArray && j === key.parts.length - 1) arrayIndex.set(k, (arrayIndex.get(k) ?? -1) + 1);
        if (arrayIndex.has(k)) table.push(arrayIndex.get(k)!);
      });
      note(table, line);
      return;
    }
    const key = readKey(t, 0);
    if (!key || t[key.end] !== '=') return;
    const full = [...table, ...key.parts];
    for (let n = table.length + 1; n <= full.length; n++) note(full.slice(0, n), line);
    // A multi-line string opened here hides key-like lines until it closes.
    for (const quotes of ['"""', "'''"]) if (t.slice(key.end).split(quotes).length % 2 === 0) multiline = quotes;
  });
  return lines;
}

/** The line of the key, else of its nearest enclosing key or table header. */
function lineOf(lines: Map<string, number>, path: Path): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(pathKey(path.slice(0, n)));
    if (line !== undefined) return line;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Sources.

interface Source {
  layer: Layer;
  render(p: Problem): string;
}

function parseLayer(raw: unknown): { layer: Layer; problems: Problem[] } {
  const result = SettingsSchema.safeParse(raw, { reportInput: true });
  return result.success ? { layer: result.data, problems: [] } : { layer: {}, problems: fromZod(result.error.issues) };
}

/** Relative paths in a layer are relative to `base`. */
function absolutize(layer: Layer, base: string): Layer {
  if (layer.data !== undefined) layer.data = resolve(base, layer.data);
  if (layer.database?.kind === 'sqlite' && layer.database.path) layer.database.path = resolve(base, layer.database.path);
  if (layer.tls?.cert) layer.tls.cert = resolve(base, layer.tls.cert);
  if (layer.tls?.key) layer.tls.key = resolve(base, layer.tls.key);
  return layer;
}

function fileSource(file: string, label: string, problems: string[]): Source {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new LarderError('CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // smol-toml appends a code excerpt after the first line; the position says enough.
    const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new LarderError('CONFIG_INVALID', `${label}:${err.line}:${err.column}: ${reason}`);
  }
  const lines = locateKeys(text);
  const render = (p: Problem) => {
    const line = lineOf(lines, p.path);
    const at = line === undefined ? label : `${label}:${line}`;
    return p.named ? `${at}: ${p.message}` : `${at}: ${showPath(p.path)}: ${p.message}`;
  };
  const parsed = parseLayer(raw);
  const layer = absolutize(parsed.layer, dirname(file));
  if (layer.repos?.length === 0) delete layer.repos;
  const found = [...parsed.problems, ...(layer.repos ? checkRepos(layer.repos) : [])];
  // In file order, which is how people fix them.
  const lineNo = (p: Problem) => lineOf(lines, p.path) ?? Infinity;
  problems.push(...found.sort((a, b) => lineNo(a) - lineNo(b)).map(render));
  return { layer, render };
}

/** A source whose values each come from one named setting (an environment variable or an option). */
function bindingsSource(bindings: [label: string, path: Path, value: unknown][], problems: string[], cwd: string): Source {
  const raw: Record<string, unknown> = {};
  for (const [, path, value] of bindings) {
    if (value === undefined) continue;
    if (path.length === 1) raw[path[0]!] = value;
    else ((raw[path[0]!] ??= {}) as Record<string, unknown>)[path[1]!] = value;
  }
  const render = (p: Problem) => {
    const binding = bindings.find(([, path]) => path.every((part, i) => p.path[i] === part));
    return `${binding?.[0] ?? showPath(p.path)}: ${p.message}`;
  };
  const parsed = parseLayer(raw);
  problems.push(...parsed.problems.map(render));
  return { layer: absolutize(parsed.layer, cwd), render };
}

function envSource(env: Record<string, string | undefined>, problems: string[], cwd: string): Source {
  const get = (name: string) => env[name] || undefined;
  const entries = get('LARDER_LIMITS_MAX_ARCHIVE_ENTRIES');
  return bindingsSource(
    [
      ['LARDER_LISTEN', ['listen'], get('LARDER_LISTEN')],
      ['LARDER_DATA', ['data'], get('LARDER_DATA')],
      ['LARDER_DATABASE', ['database'], get('LARDER_DATABASE')],
      ['LARDER_PUBLIC_URL', ['public_url'], get('LARDER_PUBLIC_URL')],
      ['LARDER_LOG_LEVEL', ['log_level'], get('LARDER_LOG_LEVEL')],
      ['LARDER_TLS_MODE', ['tls', 'mode'], get('LARDER_TLS_MODE')],
      ['LARDER_TLS_CERT', ['tls', 'cert'], get('LARDER_TLS_CERT')],
      ['LARDER_TLS_KEY', ['tls', 'key'], get('LARDER_TLS_KEY')],
      ['LARDER_TLS_HOSTNAMES', ['tls', 'hostnames'], get('LARDER_TLS_HOSTNAMES')?.split(',').map((h) => h.trim()).filter(Boolean)],
      ['LARDER_LIMITS_MAX_CRATE_SIZE', ['limits', 'max_crate_size'], get('LARDER_LIMITS_MAX_CRATE_SIZE')],
      ['LARDER_LIMITS_MAX_UNPACKED_SIZE', ['limits', 'max_unpacked_size'], get('LARDER_LIMITS_MAX_UNPACKED_SIZE')],
      // Environment values are strings; the schema wants an integer here.
      ['LARDER_LIMITS_MAX_ARCHIVE_ENTRIES', ['limits', 'max_archive_entries'], entries && /^\d+$/.test(entries) ? Number(entries) : entries],
      ['LARDER_LIMITS_MAX_METADATA_SIZE', ['limits', 'max_metadata_size'], get('LARDER_LIMITS_MAX_METADATA_SIZE')],
    ],
    problems,
    cwd,
  );
}

function cliSource(o: ConfigOverrides, problems: string[], cwd: string): Source {
  // --tls-cert/--tls-key imply mode "files" unless --tls says otherwise.
  const tlsMode = o.tls ?? (o.tlsCert !== undefined || o.tlsKey !== undefined ? 'files' : undefined);
  return bindingsSource(
    [
      ['--listen', ['listen'], o.listen],
      ['--data', ['data'], o.data],
      ['--database', ['database'], o.database],
      ['--public-url', ['public_url'], o.publicUrl],
      ['--log-level', ['log_level'], o.logLevel],
      [o.tls !== undefined ? '--tls' : '--tls-cert/--tls-key', ['tls', 'mode'], tlsMode],
      ['--tls-cert', ['tls', 'cert'], o.tlsCert],
      ['--tls-key', ['tls', 'key'], o.tlsKey],
    ],
    problems,
    cwd,
  );
}

// ---------------------------------------------------------------------------
// Cross checks.

function checkRepos(repos: RepoConfig[]): Problem[] {
  const problems: Problem[] = [];
  const byName = new Map<string, RepoConfig>();
  repos.forEach((r, i) => {
    const first = repos.findIndex((other) => other.name === r.name);
    if (first < i) problems.push({ path: ['repos', i, 'name'], message: `duplicate repository name "${r.name}" (also repos[${first}])` });
    else byName.set(r.name, r);
  });
  repos.forEach((r, i) => {
    const at = (...rest: Path): Path => ['repos', i, ...rest];
    if (r.kind === 'proxy' && r.upstream === undefined) {
      problems.push({ path: at('upstream'), message: 'missing (a proxy repository needs upstream, the http(s) URL it mirrors)' });
    }
    if (r.kind !== 'proxy' && r.upstream !== undefined) {
      problems.push({ path: at('upstream'), message: `only proxy repositories take upstream (this one is ${r.kind})` });
    }
    if (r.kind !== 'group') {
      if (r.members !== undefined) problems.push({ path: at('members'), message: `only group repositories take members (this one is ${r.kind})` });
      return;
    }
    if (!r.members?.length) {
      problems.push({ path: at('members'), message: 'missing (a group repository needs members, a list of repository names)' });
      return;
    }
    r.members.forEach((m, j) => {
      const member = byName.get(m);
      const guess = member ? undefined : suggest(m, [...byName.keys()]);
      if (m === r.name) problems.push({ path: at('members', j), message: `a group cannot contain itself` });
      else if (!member) problems.push({ path: at('members', j), message: `no repository named "${m}"${guess ? ` (did you mean "${guess}"?)` : ''}` });
      else if (member.format !== r.format) {
        problems.push({ path: at('members', j), message: `"${m}" is a ${member.format} repository; members of a ${r.format} group must be ${r.format} repositories` });
      }
    });
    const cycle = r.members.includes(r.name) ? null : groupCycle(r, byName);
    if (cycle) problems.push({ path: at('members'), message: `groups contain each other: ${cycle.join(' → ')}` });
  });
  return problems;
}

/** A chain of group memberships leading from `start` back to itself, if there is one. */
function groupCycle(start: RepoConfig, byName: Map<string, RepoConfig>): string[] | null {
  const visit = (r: RepoConfig, trail: string[]): string[] | null => {
    for (const m of r.kind === 'group' ? (r.members ?? []) : []) {
      if (m === start.name) return [...trail, m];
      const next = byName.get(m);
      const found = next && !trail.includes(m) ? visit(next, [...trail, m]) : null;
      if (found) return found;
    }
    return null;
  };
  return visit(start, [start.name]);
}

// ---------------------------------------------------------------------------

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function overlay(s: Settings, layer: Layer): Settings {
  return {
    ...s,
    ...defined(layer),
    tls: { ...s.tls, ...defined(layer.tls ?? {}) },
    limits: { ...s.limits, ...defined(layer.limits ?? {}) },
  };
}

function fail(problems: string[]): void {
  if (problems.length) throw new LarderError('CONFIG_INVALID', problems.join('\n'));
}

/** Loads the config: defaults < larder.toml < LARDER_* environment < command-line overrides. Throws CONFIG_INVALID listing every problem. */
export function loadConfig(opts: {
  file?: string;
  cwd: string;
  env: Record<string, string | undefined>;
  overrides?: ConfigOverrides;
}): LarderConfig {
  const { cwd, env } = opts;
  const named = opts.file ?? (env.LARDER_CONFIG || undefined);
  const implicit = join(cwd, 'larder.toml');
  const file = named !== undefined ? resolve(cwd, named) : existsSync(implicit) ? resolve(implicit) : null;
  if (file && !existsSync(file)) throw new LarderError('CONFIG_INVALID', `config file ${file} not found`);

  const problems: string[] = [];
  const sources: Source[] = [];
  if (file) {
    const rel = relative(cwd, file);
    sources.push(fileSource(file, rel.startsWith('..') || isAbsolute(rel) ? file : rel, problems));
  }
  sources.push(envSource(env, problems, cwd), cliSource(opts.overrides ?? {}, problems, cwd));
  fail(problems);

  const s = sources.reduce((acc, src) => overlay(acc, src.layer), defaults(file ? dirname(file) : cwd));
  if (s.tls.mode === 'files' && (!s.tls.cert || !s.tls.key)) {
    const setter = [...sources].reverse().find((src) => src.layer.tls?.mode !== undefined)!;
    problems.push(setter.render({ path: ['tls', 'mode'], message: '"files" needs both tls.cert and tls.key (PEM file paths)' }));
  }
  fail(problems);

  const tls: TlsConfig =
    s.tls.mode === 'files' ? { mode: 'files', cert: s.tls.cert!, key: s.tls.key! }
    : s.tls.mode === 'self-signed' ? { mode: 'self-signed', hostnames: s.tls.hostnames }
    : { mode: 'off' };
  return {
    listen: s.listen,
    data: s.data,
    database: s.database.kind === 'sqlite' ? { kind: 'sqlite', path: s.database.path ?? join(s.data, 'larder.db') } : s.database,
    publicUrl: s.public_url,
    logLevel: s.log_level,
    tls,
    limits: {
      maxCrateSize: s.limits.max_crate_size,
      maxUnpackedSize: s.limits.max_unpacked_size,
      maxArchiveEntries: s.limits.max_archive_entries,
      maxMetadataSize: s.limits.max_metadata_size,
    },
    // Copies, so no caller can change DEFAULT_REPOS through the result.
    repos: s.repos.map((r) => defined({ ...r, members: r.members && [...r.members] })),
    file,
  };
}

/** The commented larder.toml that `larder init` writes; it loads back to the defaults. */
export function initConfigText(): string {
  return `# Larder configuration. Every key is optional; the values below are the defaults.
# Relative paths are resolved against this file's directory.
# LARDER_* environment variables (LARDER_LISTEN, LARDER_DATA, LARDER_TLS_MODE, ...)
# and command-line options override what is set here.

# Address to listen on, HOST:PORT ("[::1]:8080" for IPv6, "0.0.0.0:8080" for every interface).
listen = "127.0.0.1:8080"

# Where packages and the sqlite database are stored.
data = "./larder-data"

# "sqlite" (DATA/larder.db), "sqlite:PATH", or "postgres://user:pass@host:5432/db".
database = "sqlite"

# External base URL, e.g. "https://larder.example" when behind a reverse proxy.
# Empty: derived from each request's Host header.
public_url = ""

# fatal, error, warn, info, debug, trace or silent.
log_level = "info"

[tls]
# "off", "self-signed" (a certificate generated for you) or "files" (cert and key below).
mode = "off"
# PEM files, required with mode = "files".
cert = ""
key = ""
# Extra host names for the self-signed certificate.
hostnames = []

[limits]
# Sizes are a number of bytes or a number with a unit: KB, KiB, MB, MiB, GB, GiB.
max_crate_size = "10MiB"
max_unpacked_size = "512MiB"
max_archive_entries = 20000
max_metadata_size = "1MiB"

# Repositories, each served under its name.
#   name:       lowercase letters, digits, ".", "_" and "-"
#   format:     "cargo", "bazel", "julia", "moonbit" or "brioche"
#   kind:       "hosted" (published to), "proxy" (mirrors upstream) or "group" (serves its members as one)
#   visibility: "public" (the default: anyone may read) or "private" (reading needs a token)
# Without any [[repos]], Larder serves one hosted "cargo" repository, as below.
[[repos]]
name = "cargo"
format = "cargo"
kind = "hosted"
visibility = "public"

# A caching mirror of crates.io:
# [[repos]]
# name = "crates-io"
# format = "cargo"
# kind = "proxy"
# visibility = "public"
# upstream = "https://index.crates.io/"

# Both of the above behind one name:
# [[repos]]
# name = "all"
# format = "cargo"
# kind = "group"
# visibility = "public"
# members = ["cargo", "crates-io"]
`;
}
