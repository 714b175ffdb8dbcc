import { describe, expect, it, vi } from 'vitest';
import { RequestStats } from '../registry/request-stats.js';
import type { Source, SourceDoc } from '../registry/source.js';
import { fastIndexAnswerer } from './fast-index.js';
import type { FastIndexRoute } from './format-plugin.js';

const doc = (text: string): SourceDoc => ({
  body: Buffer.from(text),
  etag: `"${text}"`,
  updatedAt: 0,
  lastModified: new Date(0).toUTCString(),
  stale: false,
});

/** A repo whose cached documents are `docs` (changed by the test as a publish or yank would) and whose docPath is counted. */
function repo(name: string, docs: Map<string, SourceDoc | null>) {
  const docPath = vi.fn((rest: string) => (rest.startsWith('doc/') ? rest : null));
  const source = { peek: (p: string) => docs.get(p) } as unknown as Source;
  const route: FastIndexRoute = {
    repo: name,
    format: 'cargo',
    prefix: `/${name}/index/`,
    docPath,
    source,
    contentType: 'text/plain',
    cacheControl: 'no-cache',
  };
  return { route, docPath };
}

function answerer(...routes: FastIndexRoute[]) {
  return fastIndexAnswerer(routes, new RequestStats(), () => {});
}

const body = (a: { doc: { body: Buffer } } | null) => a?.doc.body.toString() ?? null;

describe('fastIndexAnswerer', () => {
  it('answers the document each read finds now: a publish or a yank shows at once, whatever the URL memo holds', () => {
    const docs = new Map<string, SourceDoc | null>([['doc/a', doc('v1')]]);
    const { route, docPath } = repo('cargo', docs);
    const fast = answerer(route);
    expect(body(fast.find('GET', '/cargo/index/doc/a', {}))).toBe('v1');
    docs.set('doc/a', doc('v2'));
    expect(body(fast.find('GET', '/cargo/index/doc/a', {}))).toBe('v2');
    // Gone from the cache (evicted, or changed and not yet re-read): the route answers.
    docs.delete('doc/a');
    expect(fast.find('GET', '/cargo/index/doc/a', {})).toBeNull();
    // A cached absence (a yanked-away file, a crate never published): the route answers its 404.
    docs.set('doc/a', null);
    expect(fast.find('GET', '/cargo/index/doc/a', {})).toBeNull();
    docs.set('doc/a', doc('v3'));
    expect(body(fast.find('HEAD', '/cargo/index/doc/a', {}))).toBe('v3');
    // The URL was parsed once.
    expect(docPath).toHaveBeenCalledTimes(1);
  });

  it("reads through the source's peeker, made once per remembered URL, and sees each change", () => {
    const docs = new Map<string, SourceDoc | null>([['doc/a', doc('v1')]]);
    const { route } = repo('cargo', docs);
    const peeker = vi.fn((p: string) => () => docs.get(p));
    const peek = vi.fn(() => {
      throw new Error('peek is not called when there is a peeker');
    });
    route.source = { peek, peeker } as unknown as Source;
    const fast = answerer(route);
    expect(body(fast.find('GET', '/cargo/index/doc/a', {}))).toBe('v1');
    docs.set('doc/a', doc('v2'));
    expect(body(fast.find('GET', '/cargo/index/doc/a', {}))).toBe('v2');
    docs.delete('doc/a');
    expect(fast.find('GET', '/cargo/index/doc/a', {})).toBeNull();
    expect(peeker).toHaveBeenCalledTimes(1);
    expect(peeker).toHaveBeenCalledWith('doc/a');
    expect(peek).not.toHaveBeenCalled();
  });

  it("answers each repo's URL from that repo's documents", () => {
    const one = repo('one', new Map([['doc/x', doc('one')]]));
    const two = repo('two', new Map([['doc/x', doc('two')]]));
    const fast = answerer(one.route, two.route);
    for (let i = 0; i < 3; i++) {
      expect(body(fast.find('GET', '/one/index/doc/x', {}))).toBe('one');
      expect(body(fast.find('GET', '/two/index/doc/x', {}))).toBe('two');
    }
    expect(fast.find('GET', '/three/index/doc/x', {})).toBeNull();
    expect(fast.find('GET', '/one/index/other', {})).toBeNull();
    expect(fast.find('PUT', '/one/index/doc/x', {})).toBeNull();
    expect(fast.find('GET', '/one/index/doc/x?q', {})).toBeNull();
  });

  it('remembers a bounded number of URLs, and none longer than 256 characters', () => {
    const docs = new Map<string, SourceDoc | null>([['doc/0', doc('zero')]]);
    const { route, docPath } = repo('cargo', docs);
    const fast = answerer(route);
    const long = `/cargo/index/doc/${'x'.repeat(300)}`;
    fast.find('GET', long, {});
    fast.find('GET', long, {});
    expect(docPath).toHaveBeenCalledTimes(2);
    docPath.mockClear();
    fast.find('GET', '/cargo/index/doc/0', {});
    fast.find('GET', '/cargo/index/doc/0', {});
    expect(docPath).toHaveBeenCalledTimes(1);
    // Many other URLs (hits and misses alike) push it out: the memo was emptied rather than grown.
    for (let i = 1; i <= 20_000; i++) fast.find('GET', `/cargo/index/${i % 2 ? 'doc/' : 'no/'}${i}`, {});
    docPath.mockClear();
    expect(body(fast.find('GET', '/cargo/index/doc/0', {}))).toBe('zero');
    expect(docPath).toHaveBeenCalledTimes(1);
  });

  it('loads a first read itself only when the source reads local storage and holds nothing for the path yet', () => {
    const docs = new Map<string, SourceDoc | null>([['doc/a', doc('v1')]]);
    const local = repo('cargo', docs);
    (local.route.source as { readsLocally?: boolean }).readsLocally = true;
    const upstream = repo('proxy', docs);
    const fast = answerer(local.route, upstream.route);
    // Cached, or a cached absence: nothing to load (a miss of the latter goes to the route's 404).
    expect(fast.loadsFirst('GET', '/cargo/index/doc/a')).toBe(false);
    docs.set('doc/a', null);
    expect(fast.loadsFirst('GET', '/cargo/index/doc/a')).toBe(false);
    // Not cached: a local source's first read is loaded by the fast path; a proxy's goes to its route (one upstream ask).
    expect(fast.loadsFirst('GET', '/cargo/index/doc/b')).toBe(true);
    expect(fast.loadsFirst('HEAD', '/cargo/index/doc/b')).toBe(true);
    expect(fast.loadsFirst('GET', '/proxy/index/doc/b')).toBe(false);
    // Not an index read at all.
    expect(fast.loadsFirst('POST', '/cargo/index/doc/b')).toBe(false);
    expect(fast.loadsFirst('GET', '/cargo/api/v1/crates')).toBe(false);
  });
});
