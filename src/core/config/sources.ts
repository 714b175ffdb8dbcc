/**
 * Config sources: larder.toml, the LARDER_* environment and command-line overrides.
 * Each parses into a Layer and knows how to word a problem in its own terms (file:line, variable, option).
 *
 * Environment overrides (an empty value counts as unset):
 *   LARDER_LISTEN                      listen
 *   LARDER_DATA                        data
 *   LARDER_DATABASE                    database
 *   LARDER_BLOBS                       blobs
 *   LARDER_PUBLIC_URL                  public_url
 *   LARDER_LOG_LEVEL                   log_level
 *   LARDER_WORKERS                     workers
 *   LARDER_TLS_MODE                    tls.mode
 *   LARDER_TLS_CERT                    tls.cert
 *   LARDER_TLS_KEY                     tls.key
 *   LARDER_TLS_HOSTNAMES               tls.hostnames (comma-separated)
 *   LARDER_LIMITS_MAX_CRATE_SIZE       limits.max_crate_size
 *   LARDER_LIMITS_MAX_UNPACKED_SIZE    limits.max_unpacked_size
 *   LARDER_LIMITS_MAX_ARCHIVE_ENTRIES  limits.max_archive_entries
 *   LARDER_LIMITS_MAX_METADATA_SIZE    limits.max_metadata_size
 *   LARDER_OUTBOUND_ALLOW_PRIVATE      outbound.allow_private (comma-separated)
 *   LARDER_OUTBOUND_CA_FILE            outbound.ca_file
 *   LARDER_TIMEOUTS_DRAIN              timeouts.drain
 *   LARDER_TIMEOUTS_SHUTDOWN           timeouts.shutdown
 *   LARDER_CACHE_INDEX_DOCUMENTS       cache.index_documents
 *   LARDER_HTTP2_MAX_CONCURRENT_STREAMS  http2.max_concurrent_streams
 *   LARDER_HTTP2_WINDOW                http2.window
 * Other LARDER_* variables (LARDER_CONFIG, LARDER_ADMIN_TOKEN, ...) are not config keys and are ignored here.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { LarderError } from '../errors.js';
import { lineOf, locateKeys } from './key-lines.js';
import { fromIssues, showPath, type Path, type Problem } from './problems.js';
import { safeParse } from './shape.js';
import { checkRepos } from './repos-check.js';
import type { ConfigOverrides } from './types.js';
import { SettingsSchema, type Layer } from './values.js';

/** A parsed layer plus how to word a problem in that source's terms, for checks made after merging. */
export interface Source {
  layer: Layer;
  render(p: Problem): string;
}

function parseLayer(raw: unknown): { layer: Layer; problems: Problem[] } {
  const result = safeParse(SettingsSchema, raw);
  return result.success ? { layer: result.data, problems: [] } : { layer: {}, problems: fromIssues(result.issues) };
}

/** Relative paths in a layer are relative to `base`. */
function absolutize(layer: Layer, base: string): Layer {
  if (layer.data !== undefined) layer.data = resolve(base, layer.data);
  if (layer.database?.kind === 'sqlite' && layer.database.path) layer.database.path = resolve(base, layer.database.path);
  if (layer.tls?.cert) layer.tls.cert = resolve(base, layer.tls.cert);
  if (layer.tls?.key) layer.tls.key = resolve(base, layer.tls.key);
  if (layer.outbound?.ca_file) layer.outbound.ca_file = resolve(base, layer.outbound.ca_file);
  for (const r of layer.repos ?? [])
    if (r.static_origin && !r.static_origin.startsWith('s3://')) r.static_origin = resolve(base, r.static_origin);
  return layer;
}

/**
 * Reads larder.toml; problems (appended to `problems`) point at FILE:LINE in file order, as people fix them.
 * Unreadable files and TOML syntax errors throw at once: nothing else can be checked.
 */
export function fileSource(file: string, label: string, problems: string[]): Source {
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

/** The LARDER_* variables listed above, so containers and services can configure without a file. */
export function envSource(env: Record<string, string | undefined>, problems: string[], cwd: string): Source {
  const get = (name: string) => env[name] || undefined;
  return bindingsSource(
    [
      ['LARDER_LISTEN', ['listen'], get('LARDER_LISTEN')],
      ['LARDER_DATA', ['data'], get('LARDER_DATA')],
      ['LARDER_DATABASE', ['database'], get('LARDER_DATABASE')],
      ['LARDER_BLOBS', ['blobs'], get('LARDER_BLOBS')],
      ['LARDER_PUBLIC_URL', ['public_url'], get('LARDER_PUBLIC_URL')],
      ['LARDER_LOG_LEVEL', ['log_level'], get('LARDER_LOG_LEVEL')],
      ['LARDER_WORKERS', ['workers'], integerValue(get('LARDER_WORKERS'))],
      ['LARDER_TLS_MODE', ['tls', 'mode'], get('LARDER_TLS_MODE')],
      ['LARDER_TLS_CERT', ['tls', 'cert'], get('LARDER_TLS_CERT')],
      ['LARDER_TLS_KEY', ['tls', 'key'], get('LARDER_TLS_KEY')],
      [
        'LARDER_TLS_HOSTNAMES',
        ['tls', 'hostnames'],
        get('LARDER_TLS_HOSTNAMES')
          ?.split(',')
          .map((h) => h.trim())
          .filter(Boolean),
      ],
      ['LARDER_LIMITS_MAX_CRATE_SIZE', ['limits', 'max_crate_size'], get('LARDER_LIMITS_MAX_CRATE_SIZE')],
      ['LARDER_LIMITS_MAX_UNPACKED_SIZE', ['limits', 'max_unpacked_size'], get('LARDER_LIMITS_MAX_UNPACKED_SIZE')],
      // Environment values are strings; the schema wants an integer here.
      ['LARDER_LIMITS_MAX_ARCHIVE_ENTRIES', ['limits', 'max_archive_entries'], integerValue(get('LARDER_LIMITS_MAX_ARCHIVE_ENTRIES'))],
      ['LARDER_LIMITS_MAX_METADATA_SIZE', ['limits', 'max_metadata_size'], get('LARDER_LIMITS_MAX_METADATA_SIZE')],
      ['LARDER_LIMITS_MAX_ARCHIVE_SIZE', ['limits', 'max_archive_size'], get('LARDER_LIMITS_MAX_ARCHIVE_SIZE')],
      [
        'LARDER_OUTBOUND_ALLOW_PRIVATE',
        ['outbound', 'allow_private'],
        get('LARDER_OUTBOUND_ALLOW_PRIVATE')
          ?.split(',')
          .map((h) => h.trim())
          .filter(Boolean),
      ],
      ['LARDER_OUTBOUND_CA_FILE', ['outbound', 'ca_file'], get('LARDER_OUTBOUND_CA_FILE')],
      ['LARDER_TIMEOUTS_DRAIN', ['timeouts', 'drain'], get('LARDER_TIMEOUTS_DRAIN')],
      ['LARDER_TIMEOUTS_SHUTDOWN', ['timeouts', 'shutdown'], get('LARDER_TIMEOUTS_SHUTDOWN')],
      ['LARDER_CACHE_INDEX_DOCUMENTS', ['cache', 'index_documents'], get('LARDER_CACHE_INDEX_DOCUMENTS')],
      [
        'LARDER_HTTP2_MAX_CONCURRENT_STREAMS',
        ['http2', 'max_concurrent_streams'],
        integerValue(get('LARDER_HTTP2_MAX_CONCURRENT_STREAMS')),
      ],
      ['LARDER_HTTP2_WINDOW', ['http2', 'window'], get('LARDER_HTTP2_WINDOW')],
    ],
    problems,
    cwd,
  );
}

/** Command-line overrides, which win over everything; problems name the option that was given. */
export function cliSource(o: ConfigOverrides, problems: string[], cwd: string): Source {
  // --tls-cert/--tls-key imply mode "files" unless --tls says otherwise.
  const tlsMode = o.tls ?? (o.tlsCert !== undefined || o.tlsKey !== undefined ? 'files' : undefined);
  return bindingsSource(
    [
      ['--listen', ['listen'], o.listen],
      ['--data', ['data'], o.data],
      ['--database', ['database'], o.database],
      ['--public-url', ['public_url'], o.publicUrl],
      ['--log-level', ['log_level'], o.logLevel],
      ['--workers', ['workers'], integerValue(o.workers)],
      [o.tls !== undefined ? '--tls' : '--tls-cert/--tls-key', ['tls', 'mode'], tlsMode],
      ['--tls-cert', ['tls', 'cert'], o.tlsCert],
      ['--tls-key', ['tls', 'key'], o.tlsKey],
    ],
    problems,
    cwd,
  );
}

/** Strings from the environment or a flag: digits become the integer the schema wants. */
function integerValue(v: string | undefined): number | string | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : v;
}
