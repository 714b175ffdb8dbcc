import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { loadConfig } from '../src/core/config.js';
import { FORMATS } from '../src/cli/context.js';
import { AccessBatch } from '../src/http/access-batch.js';
import { accessLineFormatter } from '../src/http/access-line.js';
import { answerHttp1, answerHttp2, fastIndexAnswerer } from '../src/http/fast-index.js';
import { LineChunks } from '../src/http/log-chunks.js';
import { requestRecorder } from '../src/http/observe.js';
import { openRegistry } from '../src/registry/registry.js';
import { bareHandlers, type BareEntry } from './lib/bare-node.js';
import type { BenchReport } from './lib/results.js';
import { indexFile, seedCargoIndex, versionCount, type IndexFile } from './lib/seed.js';
import { median, zipfSampler } from './lib/stats.js';

const CRATES = 10_000;
const READS = 200_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);

/**
 * fast-path (issue 14): Larder's own work per cached index read, without sockets or Node's HTTP code: the real
 * fast path (`answerHttp1` and `answerHttp2` over the cargo route of a registry seeded with 10,000 crates: URL memo,
 * the cache's peeker, headers, request id, metrics, the access log encoded into its chunks) against bare Node's
 * handlers from index-read (a Map lookup, a request id, a header object per read), in one process, alternating
 * rounds. index-read measures both through Node's HTTP stack, where the machine moves a read's cost by ±30 % between
 * processes; the difference here is the part of that cost that is Larder's code.
 */
export async function fastPath(dir: string): Promise<BenchReport> {
  const files: IndexFile[] = [];
  for (let i = 0; i < CRATES; i++) files.push(indexFile(`bench-crate-${i.toString(36)}`, versionCount(i)));
  const data = path.join(dir, 'larder');
  await seedCargoIndex(data, files, null);
  const registry = await openRegistry(loadConfig({ cwd: data, env: {}, overrides: { data } }), FORMATS);
  try {
    const cargo = FORMATS.find((f) => f.format === 'cargo')!;
    const repo = registry.repos.get('cargo')!;
    const route = cargo.fastIndex?.({ registry, repo, source: registry.sources.get('cargo')! });
    if (!route) throw new Error('the cargo format has no fast-index route');
    const routes = [route];
    let logged = 0;
    const batch = new AccessBatch(
      accessLineFormatter({ pid: process.pid, hostname: 'bench' }),
      new LineChunks((b) => {
        // Written at once, as into a log file (the chunk is then reused).
        logged += b.length;
        return true;
      }),
    );
    const larder = fastIndexAnswerer(
      routes,
      registry.metrics.requests,
      requestRecorder((reqId, method, url, status, ms, repo) => batch.add(reqId, method, url, status, ms, repo)),
    );
    const unlogged = fastIndexAnswerer(routes, registry.metrics.requests, requestRecorder(null));

    // The reads of index-read: a Zipf sample over a random order of the crates, every document loaded first.
    const next = zipfSampler(CRATES, 1.0);
    const order = files.map((_, i) => i).sort((a, b) => ((a * 7919) % CRATES) - ((b * 7919) % CRATES));
    const urls = Array.from({ length: READS }, () => `/cargo/index/${files[order[next()]].path}`);
    for (const url of new Set(urls)) if (!(await larder.load('GET', url))) throw new Error(`not a fast-path read: ${url}`);
    const hot = urls[0];
    const hotDoc = larder.find('GET', hot, {})!.doc;

    // Bare Node's handlers (bench/lib/bare-node.ts) over the same bytes and header set.
    const bareFiles = new Map<string, BareEntry>();
    for (const url of new Set(urls)) {
      const { doc } = larder.find('GET', url, {})!;
      const common = { etag: doc.etag, 'last-modified': doc.lastModified, 'cache-control': 'no-cache' };
      bareFiles.set(url, {
        body: doc.body,
        etag: doc.etag,
        full: { ...common, 'content-type': 'text/plain', 'content-length': doc.body.length },
        notModified: common,
      });
    }
    const bare = bareHandlers(bareFiles);

    let written = 0;
    const res = {
      writeHead: (status: number, headers: unknown) => (written += status + (headers === null ? 1 : 0)),
      end: (body?: Buffer) => (written += body ? body.length : 0),
    } as unknown as ServerResponse;
    const stream = {
      respond: (headers: unknown, options: { endStream: boolean }) => (written += options.endStream ? 1 : 2),
      end: (body?: Buffer) => (written += body ? body.length : 0),
    } as unknown as ServerHttp2Stream;

    // Each read's URL a new string, as Node's HTTP parser makes it, and its request (or stream headers) a new object:
    // the same cost for every contender.
    const raw = urls.map((u) => Buffer.from(u, 'latin1'));
    const hotRaw = Buffer.from(hot, 'latin1');
    const etag = hotDoc.etag;
    /** Answers one read of `url` (with If-None-Match `inm` or none). */
    type Contender = (url: string, inm: string | undefined) => void;
    const conditional = { 'if-none-match': etag };
    const http1 =
      (handle: (req: IncomingMessage, res: ServerResponse) => unknown): Contender =>
      (url, inm) =>
        handle({ method: 'GET', url, headers: inm ? conditional : {} } as unknown as IncomingMessage, res);
    const http2 =
      (handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => unknown): Contender =>
      (url, inm) =>
        handle(stream, inm ? { ':method': 'GET', ':path': url, 'if-none-match': inm } : { ':method': 'GET', ':path': url });
    const contenders: Array<[string, Contender]> = [
      ['HTTP/1.1, bare Node', http1(bare.request)],
      ['HTTP/1.1, Larder', http1((req, r) => answerHttp1(larder, req, r))],
      ['HTTP/1.1, Larder, no access log', http1((req, r) => answerHttp1(unlogged, req, r))],
      ['HTTP/2, bare Node', http2(bare.stream)],
      ['HTTP/2, Larder', http2((st, h) => answerHttp2(larder, st, h))],
      ['HTTP/2, Larder, no access log', http2((st, h) => answerHttp2(unlogged, st, h))],
    ];
    const time = (answer: Contender, notModified: boolean): number => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < READS; i++) answer((notModified ? hotRaw : raw[i]).toString('latin1'), notModified ? etag : undefined);
      return Number(process.hrtime.bigint() - start) / READS;
    };
    const ns: Record<string, { full: number[]; notModified: number[] }> = {};
    for (let round = 0; round < ROUNDS; round++)
      for (let i = 0; i < contenders.length; i++) {
        const [name, answer] = contenders[(i + round) % contenders.length];
        (ns[name] ??= { full: [], notModified: [] }).full.push(time(answer, false));
        ns[name].notModified.push(time(answer, true));
      }
    batch.drain();
    if (written === 0 || logged === 0) throw new Error('nothing was answered or logged');

    const rows: string[][] = [['reads', 'transport, code', 'ns per read (median)', 'rounds, ns', 'over bare Node, ns']];
    for (const kind of ['full', 'notModified'] as const)
      for (const [name] of contenders) {
        const m = median(ns[name][kind]);
        const base = median(ns[`${name.split(',')[0]}, bare Node`][kind]);
        rows.push([
          kind === 'full' ? '200s (Zipf over 8,548 documents)' : '304s (one document)',
          name,
          m.toFixed(0),
          ns[name][kind].map((v) => v.toFixed(0)).join(' / '),
          name.endsWith('bare Node') ? '' : `${m >= base ? '+' : '−'}${Math.abs(m - base).toFixed(0)}`,
        ]);
      }
    return {
      name: 'fast-path',
      table: rows,
      targets: [],
      notes: [
        `${ROUNDS} alternating rounds of ${READS.toLocaleString('en')} reads each; the code in one process, no sockets: a stub response (HTTP/1.1) or stream (HTTP/2) takes the headers and body.`,
        "Larder: src/http/fast-index.ts answerHttp1 / answerHttp2 over the cargo repo's fast-index route, with its request metrics and the access log formatted and encoded into its byte chunks (not written to a file). bare Node: the handlers of bench/lib/bare-node.ts (the request handler; the raw stream for HTTP/2).",
        'What a read costs through Node and the kernel besides (index-read: 25–40 µs of CPU per HTTP/1.1 read and 35–60 µs per HTTP/2 read for bare Node on this machine) is the same for both and not here.',
      ],
    };
  } finally {
    await registry.close();
  }
}
