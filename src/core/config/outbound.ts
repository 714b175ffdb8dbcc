/**
 * The [outbound] table: what Larder may connect to when a request names a URL (a Bazel source.json
 * archive, a git repository to register), and the CA it trusts there. Self-contained: the schema,
 * defaults, resolved shape and `larder init` text of this one table.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { array, boolean, int, parsed, partial, string, table } from './shape.js';
import { parseDuration } from '../units.js';

/** One allow_private entry: an address or CIDR range, or a host name (`*.example.com` for its subdomains). */
export type Allowance = { kind: 'range'; range: [ipaddr.IPv4 | ipaddr.IPv6, number] } | { kind: 'host'; name: string; subdomains: boolean };

const HOST = /^(\*\.)?((?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*)\.?$/i;

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) stands for the IPv4 address it maps: rules and ranges apply to that. */
export function unmapped(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return addr instanceof ipaddr.IPv6 && addr.isIPv4MappedAddress() ? addr.toIPv4Address() : addr;
}

/** Parses an allow_private entry; throws an Error saying what is expected (the config loader reports it). */
export function parseAllowance(entry: string): Allowance {
  const text = entry.trim().replace(/^\[(.*)\]$/, '$1');
  if (/^[^/]+\/\d+$/.test(text) && isIP(text.split('/')[0]!)) {
    if (!ipaddr.isValidCIDR(text))
      throw new Error(`expected a CIDR range such as "10.1.0.0/16" or "fd00::/8", got ${JSON.stringify(entry)}`);
    const [addr, bits] = ipaddr.parseCIDR(text);
    const plain = unmapped(addr);
    return { kind: 'range', range: [plain, plain === addr ? bits : Math.max(0, bits - 96)] };
  }
  if (isIP(text)) {
    const addr = unmapped(ipaddr.parse(text));
    return { kind: 'range', range: [addr, addr.kind() === 'ipv4' ? 32 : 128] };
  }
  const m = HOST.exec(text);
  if (m && !/^[\d.]+$/.test(text)) return { kind: 'host', name: m[2]!.toLowerCase(), subdomains: Boolean(m[1]) };
  throw new Error(
    `expected an IP address ("10.1.2.3", "::1"), a CIDR range ("10.1.0.0/16") or a host name ("git.internal.example", "*.internal.example"), got ${JSON.stringify(entry)}`,
  );
}

function checkAllowance(v: string): string {
  parseAllowance(v);
  return v;
}

/** [outbound] as written in larder.toml. */
export const OutboundSchema = partial(
  table({
    allow_private: array(parsed(string(), checkAllowance)),
    // An empty path (as `larder init` writes) means unset.
    ca_file: parsed(string(), (v) => v || undefined),
    git_allow_http: boolean(),
    timeout: parsed(string(), parseDuration),
    connect_timeout: parsed(string(), parseDuration),
    headers_timeout: parsed(string(), parseDuration),
    body_timeout: parsed(string(), parseDuration),
    retries: int({ min: 0, max: 10 }),
    concurrency: int({ min: 1, max: 1000 }),
  }),
);

/** [outbound] after defaults, in TOML terms. */
export interface OutboundSettings {
  allow_private: string[];
  ca_file?: string;
  git_allow_http: boolean;
  timeout: number;
  connect_timeout: number;
  headers_timeout: number;
  body_timeout: number;
  retries: number;
  concurrency: number;
}

/** What the server uses. */
export interface OutboundConfig {
  /** Addresses, CIDR ranges and host names that may be fetched although they are not public. */
  allowPrivate: string[];
  /** Absolute path of a PEM file of extra CA certificates (an internal CA), trusted besides the public ones. */
  caFile: string | null;
  /** Git repositories may be registered over plain http (https only otherwise). */
  gitAllowHttp: boolean;
  /** Longest one outbound fetch or clone may take, in milliseconds. */
  timeoutMs: number;
  /** Longest a TCP (and TLS) connection may take to establish. */
  connectTimeoutMs: number;
  /** Longest an upstream may take to answer a request's headers. */
  headersTimeoutMs: number;
  /** Longest an upstream's body may stall between two chunks (a whole download may take longer). */
  bodyTimeoutMs: number;
  /** How many times a failed GET to an upstream is tried again (connection errors, timeouts, 5xx, 429). */
  retries: number;
  /** Requests in flight to one upstream at once; more wait their turn. */
  concurrency: number;
}

export const OUTBOUND_DEFAULTS: OutboundSettings = {
  allow_private: [],
  git_allow_http: false,
  timeout: 120_000,
  connect_timeout: 10_000,
  headers_timeout: 30_000,
  body_timeout: 30_000,
  retries: 2,
  concurrency: 8,
};

/** The resolved [outbound] settings. */
export function resolveOutbound(s: OutboundSettings): OutboundConfig {
  return {
    allowPrivate: [...s.allow_private],
    caFile: s.ca_file ?? null,
    gitAllowHttp: s.git_allow_http,
    timeoutMs: s.timeout,
    connectTimeoutMs: s.connect_timeout,
    headersTimeoutMs: s.headers_timeout,
    bodyTimeoutMs: s.body_timeout,
    retries: s.retries,
    concurrency: s.concurrency,
  };
}

/** The [outbound] block of the larder.toml that `larder init` writes. */
export const OUTBOUND_INIT_TEXT = `[outbound]
# URLs that requests name (Bazel source.json archives, git repositories to register) are fetched
# only from public addresses over http(s): never loopback, private (RFC 1918, fc00::/7), link-local,
# carrier-grade NAT, multicast or unspecified addresses, and redirects are checked the same way.
# List here what may be fetched anyway: addresses, CIDR ranges or host names, e.g.
# allow_private = ["10.1.0.0/16", "127.0.0.1", "git.internal.example", "*.corp.example"]
allow_private = []
# A PEM file of extra CA certificates (an internal CA), trusted besides the public ones, by
# archive downloads and git alike.
ca_file = ""
# Git repositories are registered over https; true also allows plain http.
git_allow_http = false
# Longest one download or git clone a request names may take, or one index document a proxy
# repository fetches from its upstream (archives may take longer while their bytes keep flowing).
timeout = "2m"
# Upstreams of proxy repositories are the URLs written in this file: they are trusted wherever they
# point (127.0.0.1 included) and reached through HTTPS_PROXY / HTTP_PROXY unless NO_PROXY lists
# them. URLs that requests name never go through the proxy and keep the address rules above.
# Establishing a connection (TCP and TLS).
connect_timeout = "10s"
# Waiting for an answer's headers, and for the next chunk of its body (a download that keeps
# flowing is never cut).
headers_timeout = "30s"
body_timeout = "30s"
# A GET that fails to connect, times out or gets 5xx or 429 is tried again this many times, after
# growing pauses (Retry-After is honoured up to 30 s); 404 never is.
retries = 2
# Requests in flight to one upstream at once; more wait their turn.
concurrency = 8
`;
