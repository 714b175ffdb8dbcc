/**
 * The one outbound HTTP client: every fetch the server makes goes through it (undici, pooled). For URLs
 * a request names it enforces the address rules at connect time, on the address actually connected to
 * (so DNS rebinding cannot slip past), follows redirects by hand re-checking every hop, bounds time and
 * size, and words failures without echoing anything the far side answered (no body, hash or status).
 * Upstreams the operator configured are reached through `upstream()` (upstream-client.ts): trusted
 * wherever they point, through HTTPS_PROXY/HTTP_PROXY unless NO_PROXY lists them.
 */
import { readFileSync } from 'node:fs';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import type { Agent, buildConnector, Dispatcher, EnvHttpProxyAgent } from 'undici';
import type { OutboundConfig } from '../core/config.js';
import { fail, LarderError, type ErrorCode } from '../core/errors.js';
import { formatSize } from '../core/units.js';
import { USER_AGENT } from '../core/version.js';
import { AddressRules, type Refusal } from './address-rules.js';
import { UpstreamClient, type UpstreamOptions } from './upstream-client.js';
import { importCjs } from '../core/cjs.js';

/** Thrown at connect time when the address is refused; carries the rule for the message. */
class AddressRefused extends Error {
  constructor(readonly refusal: Refusal) {
    super(`address refused: ${refusal.rule}`);
  }
}

/** A refusal and whether the host was a name (it "resolves to") or an address literal (it "is"). */
export type Refused = Refusal & { named: boolean };

let undiciModule: Promise<typeof import('undici')> | null = null;

/** undici, loaded with the first outbound request rather than at every start (issue 14): most servers never make one. */
export function loadUndici(): Promise<typeof import('undici')> {
  return (undiciModule ??= importCjs(import('undici')));
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export interface DownloadOptions {
  /** Refuse (ARCHIVE_TOO_LARGE) past this many bytes. */
  maxSize: number;
  /** Called with each chunk as it arrives (hash while streaming). */
  onChunk?: (chunk: Buffer) => void;
  /** The error code for a download that fails (unreachable, not 2xx, too many redirects). */
  failCode?: ErrorCode;
  /** What the URL is, for messages ("source.json url"). */
  what?: string;
}

/** The setting that would allow a refused URL, for messages. */
export const ALLOW_HINT = 'an operator can allow it in larder.toml: [outbound] allow_private = ["<address, CIDR range or host name>"]';

/** The CA certificates outbound TLS trusts: the public roots plus [outbound] ca_file. */
export function trustedCas(caFile: string | null): string[] | undefined {
  if (!caFile) return undefined;
  let extra: string;
  try {
    extra = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new LarderError('CONFIG_INVALID', `[outbound] ca_file ${caFile} cannot be read: ${(err as Error).message}`);
  }
  // node:tls (and node:dns below) are loaded when first needed, not by every start (cold start, issue 14).
  return [...process.getBuiltinModule('node:tls').rootCertificates, extra];
}

/** Proxy settings, as the environment gives them (lower-case names win, as with curl). */
function proxyEnv(env: NodeJS.ProcessEnv): { httpProxy: string; httpsProxy: string; noProxy: string } {
  // Empty strings (not undefined) so undici does not read process.env behind our back.
  return {
    httpProxy: env.http_proxy ?? env.HTTP_PROXY ?? '',
    httpsProxy: env.https_proxy ?? env.HTTPS_PROXY ?? '',
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
  };
}

/** The outbound HTTP client of one server, built from [outbound]. */
export class OutboundClient {
  readonly rules: AddressRules;
  readonly config: OutboundConfig;
  private agent: Agent | null = null;
  private readonly env: NodeJS.ProcessEnv;
  private trustedAgent: Dispatcher | null = null;
  private readonly upstreams = new Map<string, UpstreamClient>();

  /** `env` is where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read (process.env unless a test says otherwise). */
  constructor(config: OutboundConfig, opts: { env?: NodeJS.ProcessEnv } = {}) {
    this.config = config;
    this.env = opts.env ?? process.env;
    this.rules = new AddressRules(config.allowPrivate);
  }

  /** The agent for URLs from requests: every address it connects to passes the address rules. */
  private async checkedAgent(): Promise<Agent> {
    const undici = await loadUndici();
    if (this.agent) return this.agent;
    return (this.agent = this.buildAgent(undici));
  }

  private buildAgent(undici: typeof import('undici')): Agent {
    const { rules, config } = this;
    // Names resolve here, and every address they resolve to must pass: the socket connects to what this returns.
    const lookup = (
      hostname: string,
      options: LookupOptions,
      callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
    ) => {
      process.getBuiltinModule('node:dns').lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, []);
        for (const a of addresses) {
          const refused = rules.refusal(a.address, hostname);
          if (refused) return callback(new AddressRefused(refused), []);
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
    const connect = undici.buildConnector({
      ca: trustedCas(config.caFile),
      timeout: config.connectTimeoutMs,
      lookup,
    } as buildConnector.BuildOptions);
    return new undici.Agent({
      headersTimeout: config.headersTimeoutMs,
      bodyTimeout: config.bodyTimeoutMs,
      connect: (options, callback) => {
        const host = options.hostname.replace(/^\[(.*)\]$/, '$1');
        // Address literals never reach the lookup: check them here.
        const literal = isIP(host) ? rules.refusal(host) : null;
        if (literal) return callback(new AddressRefused(literal), null);
        connect(options, (err, socket) => {
          if (err || !socket) return callback(err ?? new Error('no socket'), null);
          // What was actually connected to, whatever resolved it.
          const refused = rules.refusal((socket as Socket).remoteAddress ?? '', options.hostname);
          if (refused) {
            socket.destroy();
            return callback(new AddressRefused(refused), null);
          }
          callback(null, socket);
        });
      },
    });
  }

  /** Closes pooled connections (at server shutdown). */
  async close(): Promise<void> {
    await Promise.all([this.agent?.close(), this.trustedAgent?.close()]);
  }

  /**
   * The dispatcher for a kind of URL: operator-configured upstreams (`trusted`) connect anywhere, through
   * the environment's proxy; URLs from requests connect directly, only where the address rules allow
   * (a proxy would resolve the host itself, out of reach of the rules).
   */
  async dispatcher(trusted: boolean): Promise<Dispatcher> {
    if (!trusted) return this.checkedAgent();
    const undici = await loadUndici();
    if (!this.trustedAgent) {
      const tls = { ca: trustedCas(this.config.caFile), timeout: this.config.connectTimeoutMs };
      this.trustedAgent = new undici.EnvHttpProxyAgent({
        ...proxyEnv(this.env),
        headersTimeout: this.config.headersTimeoutMs,
        bodyTimeout: this.config.bodyTimeoutMs,
        connect: tls,
        requestTls: tls,
        proxyTls: tls,
      } as EnvHttpProxyAgent.Options);
    }
    return this.trustedAgent;
  }

  /**
   * The client of one upstream (a proxy repository's base URL): one per base URL (with or without its
   * trailing slash) and trust, so every repository reading the same upstream shares its concurrency
   * limit. Options of later calls for the same upstream are ignored.
   */
  upstream(baseUrl: string, opts: UpstreamOptions): UpstreamClient {
    const base = URL.canParse(baseUrl) ? new URL(baseUrl).href.replace(/\/?$/, '/') : baseUrl;
    const key = `${opts.trusted ? 'trusted' : 'checked'} ${base}`;
    let client = this.upstreams.get(key);
    if (!client) {
      client = new UpstreamClient(this, baseUrl, opts);
      this.upstreams.set(key, client);
    }
    return client;
  }

  /**
   * GETs a URL a request named and returns its body, following redirects (each hop checked), within
   * the size and time bounds. Refusals are URL_NOT_ALLOWED; every other failure says only what to check.
   */
  async download(url: string, opts: DownloadOptions): Promise<Buffer> {
    const what = opts.what ?? 'the URL';
    const failed: (why: string) => never = (why) => fail(opts.failCode ?? 'UNAVAILABLE', `could not download ${what} ${url}: ${why}`);
    const deadline = AbortSignal.timeout(this.config.timeoutMs);
    let current = url;
    for (let hop = 0; ; hop++) {
      const target = this.checkUrl(current, url, hop, what);
      let res: Dispatcher.ResponseData;
      try {
        const [{ request }, dispatcher] = await Promise.all([loadUndici(), this.checkedAgent()]);
        res = await request(target, { method: 'GET', dispatcher, signal: deadline, headers: { 'user-agent': USER_AGENT } });
      } catch (err) {
        const refused = findRefusal(err);
        if (refused) refuse(url, hop, refused, what);
        if (deadline.aborted) failed(`it took longer than [outbound] timeout (${Math.round(this.config.timeoutMs / 1000)} s)`);
        failed('the connection failed, timed out or its TLS certificate is not trusted (an internal CA goes in [outbound] ca_file)');
      }
      if (REDIRECTS.has(res.statusCode)) {
        const location = res.headers.location;
        await res.body.dump().catch(() => {});
        if (typeof location !== 'string' || !URL.canParse(location, target)) failed('it answered a redirect without a usable Location');
        if (hop >= MAX_REDIRECTS) failed(`it redirects more than ${MAX_REDIRECTS} times`);
        current = new URL(location, target).href;
        continue;
      }
      if (res.statusCode < 200 || res.statusCode > 299) {
        await res.body.dump().catch(() => {});
        failed('the server did not answer with the file (check that the URL downloads, e.g. with curl)');
      }
      return await this.readBody(res, url, what, opts, deadline, failed);
    }
  }

  /** The URL of one hop, if its scheme is allowed and its host is not a refused address literal. */
  checkUrl(current: string, original: string, hop: number, what: string): URL {
    const u = URL.canParse(current) ? new URL(current) : null;
    if (!u) fail('METADATA_INVALID', `${what} ${original} is not a URL`);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      fail(
        'URL_NOT_ALLOWED',
        hop === 0
          ? `${what} ${original} is refused: only http and https URLs are fetched`
          : `${what} ${original} is refused: it redirects to a URL that is not http or https`,
      );
    }
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const refused = isIP(host) ? this.rules.refusal(host) : null;
    if (refused) refuse(original, hop, { ...refused, named: false }, what);
    return u;
  }

  private async readBody(
    res: Dispatcher.ResponseData,
    url: string,
    what: string,
    opts: DownloadOptions,
    deadline: AbortSignal,
    failed: (why: string) => never,
  ): Promise<Buffer> {
    const tooLarge: () => never = () =>
      fail('ARCHIVE_TOO_LARGE', `${what} ${url} is larger than this registry's ${formatSize(opts.maxSize)} limit`);
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxSize) {
      res.body.destroy();
      tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        size += b.length;
        if (size > opts.maxSize) {
          res.body.destroy();
          tooLarge();
        }
        opts.onChunk?.(b);
        chunks.push(b);
      }
    } catch (err) {
      if (err instanceof LarderError) throw err;
      if (deadline.aborted) failed(`it took longer than [outbound] timeout (${Math.round(this.config.timeoutMs / 1000)} s)`);
      failed('the connection broke off while downloading');
    }
    return Buffer.concat(chunks);
  }
}

/** The address refusal behind an undici error, if that is what it is. */
export function findRefusal(err: unknown): Refused | null {
  for (let e = err as { cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e instanceof AddressRefused) return { ...e.refusal, named: true };
  }
  return null;
}

/** Fails with URL_NOT_ALLOWED, naming the rule (and whether a redirect led there) and the setting that would allow it. */
export function refuse(url: string, hop: number, refused: Refused, what: string): never {
  const is = refused.named ? 'resolves to' : 'is';
  const where = hop === 0 ? `its host ${is} ${refused.rule}` : `it redirects to a host that ${is} ${refused.rule}`;
  fail('URL_NOT_ALLOWED', `${what} ${url} is refused: ${where}. Larder fetches only public addresses; ${ALLOW_HINT}`);
}
