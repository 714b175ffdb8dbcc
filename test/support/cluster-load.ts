/**
 * A mixed load for scale-out tests: readers GET index files through the load balancer while
 * publishers PUT Cargo publishes (the body `cargo publish` sends), and checks of what every node
 * then serves directly. Everything a user would see is recorded: each failed read, each publish's
 * answer.
 */
import { indexPath } from '../../src/formats/cargo/names.js';
import { sha256Hex, simplePublishBody } from './cargo.js';
import { TEST_ADMIN_TOKEN } from './larder.js';

/** One publish: the exact bytes sent, so a retry is byte-identical. */
export interface Publish {
  name: string;
  vers: string;
  body: Buffer;
  /** SHA-256 of the .crate inside `body`: the index line's `cksum`. */
  cksum: string;
}

/** What a publish got: a status (0 = no HTTP answer at all) and the start of the body or the error. */
export interface PublishOutcome {
  publish: Publish;
  status: number;
  message: string;
}

/**
 * Whether a request's connection was closed before any answer: HAProxy does that to a keep-alive client
 * connection (instead of a 503) when a retry finds no server left, so that the client may retry.
 */
export function closedWithoutAnswer(o: PublishOutcome): boolean {
  return o.status === 0 && o.message.includes('other side closed');
}

/** `count` small publishes of `crates` crate names `{prefix}_{n}`, versions 1.0.0, 1.0.1, … per round. */
export async function makePublishes(prefix: string, crates: number, count: number, start = 0): Promise<Publish[]> {
  const out: Publish[] = [];
  for (let i = start; i < start + count; i++) {
    const name = `${prefix}_${i % crates}`;
    const vers = `1.0.${Math.floor(i / crates)}`;
    const { body, crate } = await simplePublishBody(name, vers);
    out.push({ name, vers, body, cksum: sha256Hex(crate) });
  }
  return out;
}

/** PUTs one publish to `url` (a node or the load balancer) as cargo does; never throws. */
export async function sendPublish(url: string, p: Publish): Promise<PublishOutcome> {
  try {
    const res = await fetch(`${url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      body: new Uint8Array(p.body),
      headers: { authorization: TEST_ADMIN_TOKEN, 'content-type': 'application/octet-stream' },
    });
    const text = await res.text();
    return { publish: p, status: res.status, message: text.slice(0, 300) };
  } catch (err) {
    return { publish: p, status: 0, message: String((err as Error).cause ?? err) };
  }
}

/** The sparse-index URL path of a crate (`/cargo/index/…`). */
export function indexUrlPath(name: string): string {
  return `/cargo/index/${indexPath(name)}`;
}

export interface LoadSummary {
  reads: number;
  /** Reads not answered 200 with the crate's lines (connection errors included), with what was seen. */
  failedReads: string[];
  /** Reads whose connection was closed without an answer and that succeeded or failed on their one retry. */
  retriedReads: number;
  outcomes: PublishOutcome[];
}

export interface RunningLoad {
  /** Reads and publish outcomes so far (live). */
  summary: LoadSummary;
  /** Waits until at least `n` more publishes were answered; throws if the publishes ran out first. */
  publishesAnswered(n: number): Promise<void>;
  /** Stops the readers and publishers after their requests in flight and returns the summary. */
  stop(): Promise<LoadSummary>;
}

/**
 * Starts `readers` loops GETting the index files of `readCrates` through `url` (each must answer 200
 * and name the crate) and `publishers` loops sending `publishes` in order, until stopped or the
 * publishes run out.
 */
export function startLoad(opts: {
  url: string;
  readCrates: string[];
  publishes: Publish[];
  readers?: number;
  publishers?: number;
  /** Retry once a read whose connection was closed without an answer (while no node is ready, HAProxy does that). */
  retryClosedReads?: boolean;
}): RunningLoad {
  const summary: LoadSummary = { reads: 0, failedReads: [], retriedReads: 0, outcomes: [] };
  let stopped = false;
  let nextRead = 0;
  let nextPublish = 0;
  const reader = async () => {
    while (!stopped) {
      const name = opts.readCrates[nextRead++ % opts.readCrates.length];
      const url = `${opts.url}${indexUrlPath(name)}`;
      // With retryClosedReads, a keep-alive connection HAProxy closed without an answer is retried once, as cargo
      // retries it (net.retry): HAProxy closes it so that the client may retry when its own retry found no server.
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await fetch(url);
          const text = await res.text();
          if (res.status !== 200 || !text.includes(`"name":"${name}"`))
            summary.failedReads.push(`${res.status} ${url}: ${text.slice(0, 200)}`);
        } catch (err) {
          const message = String((err as Error).cause ?? err);
          if (opts.retryClosedReads && attempt === 0 && message.includes('other side closed')) {
            summary.retriedReads++;
            continue;
          }
          summary.failedReads.push(`${url}: ${message}`);
        }
        break;
      }
      summary.reads++;
    }
  };
  const publisher = async () => {
    while (!stopped && nextPublish < opts.publishes.length)
      summary.outcomes.push(await sendPublish(opts.url, opts.publishes[nextPublish++]));
  };
  const loops = [...Array.from({ length: opts.readers ?? 4 }, reader), ...Array.from({ length: opts.publishers ?? 2 }, publisher)];
  const done = Promise.all(loops);
  return {
    summary,
    async publishesAnswered(n) {
      const target = summary.outcomes.length + n;
      while (summary.outcomes.length < target) {
        if (nextPublish >= opts.publishes.length && summary.outcomes.length === nextPublish)
          throw new Error(`the publishes ran out after ${summary.outcomes.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      stopped = true;
      await done;
      return summary;
    },
  };
}

/** GET `url`: status and body bytes (no connection reuse concerns: the nodes are local). */
async function getBytes(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/**
 * What node `nodeUrl` serves wrong about `published` (the publishes that were acknowledged) and
 * `attempted` (every publish sent): an acknowledged version missing from its index file or with
 * another checksum, an index line whose .crate does not download with that sha256 (a line without its
 * crate), a version not in the index whose .crate downloads (a crate without its line). Empty = all good.
 */
export async function servingProblems(nodeUrl: string, published: Publish[], attempted: Publish[]): Promise<string[]> {
  const problems: string[] = [];
  const names = [...new Set(attempted.map((p) => p.name))];
  const lines = new Map<string, Map<string, string>>();
  for (const name of names) {
    const res = await getBytes(`${nodeUrl}${indexUrlPath(name)}`);
    const byVers = new Map<string, string>();
    if (res.status === 200)
      for (const l of res.body.toString('utf8').trim().split('\n')) {
        const line = JSON.parse(l) as { vers: string; cksum: string };
        byVers.set(line.vers, line.cksum);
      }
    else if (res.status !== 404) problems.push(`${name}: index file answered ${res.status}`);
    lines.set(name, byVers);
  }
  for (const p of published) {
    const cksum = lines.get(p.name)!.get(p.vers);
    if (cksum === undefined) problems.push(`${p.name}@${p.vers} acknowledged but not in the index`);
    else if (cksum !== p.cksum) problems.push(`${p.name}@${p.vers} has cksum ${cksum}, expected ${p.cksum}`);
  }
  for (const [name, byVers] of lines)
    for (const [vers, cksum] of byVers) {
      const dl = await getBytes(`${nodeUrl}/cargo/api/v1/crates/${name}/${vers}/download`);
      if (dl.status !== 200) problems.push(`${name}@${vers} is in the index but its .crate answers ${dl.status}`);
      else if (sha256Hex(dl.body) !== cksum) problems.push(`${name}@${vers}: the .crate's sha256 is not the line's cksum`);
    }
  for (const p of attempted) {
    if (lines.get(p.name)!.has(p.vers)) continue;
    const dl = await getBytes(`${nodeUrl}/cargo/api/v1/crates/${p.name}/${p.vers}/download`);
    if (dl.status !== 404) problems.push(`${p.name}@${p.vers} is not in the index but its .crate answers ${dl.status}`);
  }
  return problems;
}
