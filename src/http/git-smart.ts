import { spawn } from 'node:child_process';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../core/errors.js';
import { isCloneRequest, packCache, PACK_REQUEST_LIMIT, type CachedPack } from '../registry/git-history/pack-cache.js';

/** The smart HTTP paths of a clone or fetch (protocol v0, v1 and v2 alike). */
const SMART_PATHS = /^(info\/refs|git-upload-pack)$/;
/** The paths of git's dumb HTTP protocol, for histories first served with it. */
const DUMB_PATHS =
  /^(HEAD|objects\/info\/(packs|alternates|http-alternates)|objects\/[0-9a-f]{2}\/[0-9a-f]{38}|objects\/pack\/pack-[0-9a-f]{40}\.(pack|idx))$/;
/** What a client may send in `Git-Protocol` (`version=2`, and `key=value` pairs joined by `:`). */
const GIT_PROTOCOL = /^[A-Za-z0-9._=:-]{1,200}$/;

export interface UploadPackOptions {
  /** The path below `{name}.git/` that the client asked for. */
  rest: string;
  /** Brings the bare repository up to date and returns its directory; called only for a path that will be served. */
  repository: () => Promise<string>;
  /** Why pushes are refused, in the format's words (e.g. "registries change through registration"). */
  refusal: string;
  /** Also serve the dumb protocol's files (HEAD, objects/…); off unless a history was first served with it. */
  dumb?: boolean;
  /** Names the repository in messages. */
  name: string;
}

/** Lets a git plugin's POST bodies through to `git http-backend` unparsed. */
export function acceptGitBodies(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-git-upload-pack-request', (_req, payload, done) => done(null, payload));
}

/**
 * Serves a bare repository for clone and fetch over smart HTTP (shallow clones and protocol v2
 * through the `Git-Protocol` header) with git's own `git http-backend`. Pushes are refused with
 * 405 and `refusal`; any other path, such as `objects/../../config`, never reaches git.
 */
export async function serveUploadPack(req: FastifyRequest, reply: FastifyReply, opts: UploadPackOptions): Promise<void> {
  const { rest } = opts;
  const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  const service = new URLSearchParams(query).get('service');
  if (rest === 'git-receive-pack' || (rest === 'info/refs' && service === 'git-receive-pack'))
    throw new LarderError('METHOD_NOT_ALLOWED', `${opts.name}.git cannot be pushed to: ${opts.refusal}`);
  if (!SMART_PATHS.test(rest) && !(opts.dumb && DUMB_PATHS.test(rest)))
    throw new LarderError(
      'NOT_FOUND',
      `${opts.name}.git has no ${JSON.stringify(rest)}; only git's HTTP paths for clone and fetch are served (info/refs, git-upload-pack)`,
    );
  if (rest === 'info/refs' && service !== 'git-upload-pack' && !opts.dumb)
    throw new LarderError('NOT_FOUND', `${opts.name}.git speaks git's smart HTTP protocol only: ask for info/refs?service=git-upload-pack`);
  if (rest === 'git-upload-pack' && req.method !== 'POST') throw new LarderError('METHOD_NOT_ALLOWED', 'git-upload-pack takes a POST');
  const dir = await opts.repository();
  const protocol = String(req.headers['git-protocol'] ?? '');
  const gitProtocol = GIT_PROTOCOL.test(protocol) ? protocol : '';
  const encoding = String(req.headers['content-encoding'] ?? '');
  // A clone's request is read first (it is small): its answer may already be here (git-history/pack-cache.ts).
  let body: Buffer[] | null = null;
  let cacheKey: string | null = null;
  if (req.method === 'POST') {
    body = await readUpTo(req.raw, PACK_REQUEST_LIMIT);
    const whole = body.length === 1 ? body[0] : null;
    if (whole && isCloneRequest(whole, encoding)) {
      cacheKey = packCache.key(dir, gitProtocol, encoding, whole);
      const hit = packCache.get(cacheKey);
      if (hit) {
        reply.hijack();
        reply.raw.writeHead(hit.status, { ...hit.headers, 'x-request-id': req.id }).end(hit.body);
        return;
      }
    }
  }
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_PROJECT_ROOT: path.dirname(dir),
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${path.basename(dir)}/${rest}`,
      QUERY_STRING: query,
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: encoding,
      GIT_PROTOCOL: gitProtocol,
      REMOTE_ADDR: req.ip,
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  reply.hijack();
  const res = reply.raw;
  // git may stop reading early (a bad request); that must not become an unhandled EPIPE.
  child.stdin.on('error', () => {});
  child.on('error', (err) => req.log.error({ reqId: req.id, err }, 'git http-backend could not run'));
  if (body) {
    // The part read already, then whatever is left of a body too large to have been read whole.
    for (const chunk of body.length === 1 ? body : body.slice(0, -1)) child.stdin.write(chunk);
    if (body.length === 1) child.stdin.end();
    else req.raw.pipe(child.stdin);
  } else child.stdin.end();
  // A clone's answer is kept while it stays small enough to be worth holding.
  let kept: CachedPack | null = null;
  let keptChunks: Buffer[] = [];
  let keptBytes = 0;
  const keep = (chunk: Buffer) => {
    if (!kept) return;
    keptBytes += chunk.length;
    if (packCache.fits(keptBytes)) keptChunks.push(chunk);
    else {
      kept = null;
      keptChunks = [];
    }
  };
  // CGI: headers (with an optional Status line), a blank line, then the body.
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      keep(chunk);
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') : head.indexOf('\n\n');
    if (end < 0) return;
    const sep = head[end] === 0x0d ? 4 : 2;
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === 'status') status = Number.parseInt(value, 10) || 200;
      else if (key) headers[key] = value;
    }
    headersDone = true;
    if (cacheKey) kept = { status, headers, body: Buffer.alloc(0) };
    res.writeHead(status, { ...headers, 'x-request-id': req.id });
    const rest = head.subarray(end + sep);
    keep(rest);
    res.write(rest);
  });
  await new Promise<void>((resolve) => {
    child.on('close', (code) => {
      if (!headersDone) res.writeHead(502, { 'content-type': 'text/plain' }).end('git http-backend failed\n');
      else res.end();
      // Only an answer git finished without an error is given to anyone else.
      if (kept && cacheKey && code === 0) packCache.set(cacheKey, { ...kept, body: Buffer.concat(keptChunks) });
      resolve();
    });
  });
}

/**
 * Reads a request body up to `limit` bytes: `[whole body]` when it ended within the limit, else the chunks read so far
 * followed by a last element that marks the body as unfinished (the caller pipes the rest of the stream).
 */
async function readUpTo(stream: NodeJS.ReadableStream & { pause(): void }, limit: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  return new Promise<Buffer[]>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > limit) {
        cleanup();
        stream.pause();
        resolve([...chunks, Buffer.alloc(0)]);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve([Buffer.concat(chunks)]);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
