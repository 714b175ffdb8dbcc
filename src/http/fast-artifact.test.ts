/**
 * What the artifact fast path holds (src/http/fast-artifact.ts): small artifacts once answered, large ones only when
 * hot, each kind within its own budget. A plain HTTP server with a stand-in route; the answers themselves are compared
 * with Julia's real route in src/formats/julia/fast-artifact.test.ts.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { RequestStats } from '../registry/request-stats.js';
import type { SourceArtifact } from '../registry/source.js';
import {
  FAST_ARTIFACT_BUDGET,
  FAST_ARTIFACT_LARGE_BUDGET,
  FAST_ARTIFACT_LARGE_MAX_SIZE,
  FAST_ARTIFACT_LARGE_WINDOW_MS,
  FAST_ARTIFACT_MAX_SIZE,
  fastArtifactAnswerer,
  type FastArtifactRoute,
} from './fast-artifact.js';

const MiB = 1024 * 1024;
/** Artifact bodies by key (`a/<name>`), made on first use: `<size>-<n>` is `size` bytes. */
const bodies = new Map<string, Buffer>();
function body(key: string): Buffer | null {
  const m = /^a\/(\d+)-\d+$/.exec(key);
  if (!m) return null;
  let b = bodies.get(key);
  if (!b) {
    b = Buffer.alloc(Number(m[1]), key);
    bodies.set(key, b);
  }
  return b;
}

/** Blob reads (`stream()` calls) by key: what the fast path must stop doing once it holds an artifact. */
const reads = new Map<string, number>();
const source = {
  async artifact(key: string): Promise<SourceArtifact | null> {
    const b = body(key);
    if (!b) return null;
    return {
      sha256: createHash('sha256').update(b).digest('hex'),
      size: b.length,
      blob: {
        size: b.length,
        stream: () => {
          reads.set(key, (reads.get(key) ?? 0) + 1);
          const chunks: Buffer[] = [];
          for (let i = 0; i < b.length; i += 64 * 1024) chunks.push(b.subarray(i, i + 64 * 1024));
          return Readable.from(chunks);
        },
        copyTo: () => Promise.reject(new Error('not used')),
      },
    };
  },
};
const route: FastArtifactRoute = {
  repo: 'r',
  format: 'f',
  prefix: '/r/',
  artifactKey: (rest) => `a/${rest}`,
  source: source as never,
  contentType: 'application/octet-stream',
  cacheControl: 'public, max-age=31536000, immutable',
};

const answerer = fastArtifactAnswerer([route], new RequestStats(), () => undefined);
/** Requests the stand-in route answered (the fast path did not). */
let routed = 0;
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (answerer.http1(req, res)) return;
    routed++;
    const b = body(`a/${req.url!.slice('/r/'.length)}`);
    if (!b) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': b.length });
    res.end(req.method === 'HEAD' ? undefined : b);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** GETs `name` (`<size>-<n>`) and returns its body's length and whether the fast path answered it. */
async function get(name: string, method = 'GET'): Promise<{ status: number; length: number; fast: boolean }> {
  const before = routed;
  const res = await fetch(`${base}/r/${name}`, { method });
  const length = (await res.arrayBuffer()).byteLength;
  return { status: res.status, length, fast: routed === before };
}

/** Waits until the background read the last answer started (if any) has ended: nothing is loading. */
async function settled(): Promise<void> {
  // A read is a handful of awaited chunks; a few macrotask turns let every started one finish.
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

it('holds a small artifact once the route answered it', async () => {
  const name = `${16 * 1024}-1`;
  expect((await get(name)).fast).toBe(false);
  await vi.waitFor(() => expect(reads.get(`a/${name}`)).toBe(1));
  await settled();
  const again = await get(name);
  expect(again).toEqual({ status: 200, length: 16 * 1024, fast: true });
  expect(reads.get(`a/${name}`)).toBe(1);
});

it('holds a large artifact only once the route answered it again within the window, then never reads it again', async () => {
  const name = `${2 * MiB}-1`;
  expect(await get(name)).toEqual({ status: 200, length: 2 * MiB, fast: false });
  await settled();
  // Cold: answered once, nothing is read into memory.
  expect(answerer.held().large.entries).toBe(0);
  expect(reads.get(`a/${name}`)).toBeUndefined();

  expect((await get(name)).fast).toBe(false);
  await vi.waitFor(() => expect(answerer.held().large.entries).toBe(1));
  expect(reads.get(`a/${name}`)).toBe(1);
  const asked = vi.spyOn(source, 'artifact');
  for (let i = 0; i < 3; i++) expect(await get(name)).toEqual({ status: 200, length: 2 * MiB, fast: true });
  expect(await get(name, 'HEAD')).toEqual({ status: 200, length: 0, fast: true });
  expect(asked).not.toHaveBeenCalled();
  expect(reads.get(`a/${name}`)).toBe(1);
  // Held apart: the small budget did not pay for it.
  expect(answerer.held().small.bytes).toBeLessThan(FAST_ARTIFACT_MAX_SIZE);
});

it('forgets a large artifact answered longer ago than the window', async () => {
  const name = `${1 * MiB}-2`;
  const now = Date.now();
  const clock = vi.spyOn(Date, 'now').mockReturnValue(now);
  expect((await get(name)).fast).toBe(false);
  clock.mockReturnValue(now + FAST_ARTIFACT_LARGE_WINDOW_MS + 1);
  expect((await get(name)).fast).toBe(false);
  await settled();
  expect(reads.get(`a/${name}`)).toBeUndefined();
  clock.mockReturnValue(now + FAST_ARTIFACT_LARGE_WINDOW_MS + 2);
  expect((await get(name)).fast).toBe(false);
  await vi.waitFor(() => expect(reads.get(`a/${name}`)).toBe(1));
  await vi.waitFor(async () => expect((await get(name)).fast).toBe(true));
});

it('never holds an artifact above the large maximum', async () => {
  const name = `${FAST_ARTIFACT_LARGE_MAX_SIZE + 1}-1`;
  const before = answerer.held();
  for (let i = 0; i < 3; i++) expect((await get(name)).fast).toBe(false);
  await settled();
  expect(answerer.held()).toEqual(before);
  expect(reads.get(`a/${name}`)).toBeUndefined();
});

it('keeps each budget with many large artifacts hot, and large ones never push out small ones', async () => {
  const smallNames = Array.from({ length: 20 }, (_, i) => `${100 * 1024}-${100 + i}`);
  for (const name of smallNames) await get(name);
  await vi.waitFor(() => expect(smallNames.every((n) => reads.get(`a/${n}`) === 1)).toBe(true));
  await settled();
  const smallHeld = answerer.held().small;
  for (const name of smallNames) expect((await get(name)).fast).toBe(true);

  const largeNames = Array.from({ length: 24 }, (_, i) => `${(3 + (i % 4)) * MiB}-${100 + i}`);
  for (const name of largeNames) {
    await get(name);
    await get(name);
    await vi.waitFor(() => expect(reads.get(`a/${name}`)).toBe(1));
    await settled();
    const held = answerer.held();
    expect(held.large.bytes).toBeLessThanOrEqual(FAST_ARTIFACT_LARGE_BUDGET);
    expect(held.small.bytes).toBeLessThanOrEqual(FAST_ARTIFACT_BUDGET);
    expect(held.small).toEqual(smallHeld);
  }
  // The budget is in use (several held), the most recent one is answered from memory, the oldest were dropped.
  expect(answerer.held().large.entries).toBeGreaterThanOrEqual(4);
  expect((await get(largeNames.at(-1)!)).fast).toBe(true);
  expect((await get(largeNames[0])).fast).toBe(false);
  for (const name of smallNames) expect((await get(name)).fast).toBe(true);
});
