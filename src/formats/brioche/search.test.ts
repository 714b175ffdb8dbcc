/** Which tag a project is listed under, and what a proxy records for a tag it fetched. */
import { describe, expect, it } from 'vitest';
import { headOf, proxySearchEntry, type CurrentTag } from './search.js';

const H1 = '1'.repeat(64);
const H2 = '2'.repeat(64);
const tag = (t: string, projectHash: string, setAt: number | null): CurrentTag => ({ tag: t, projectHash, setAt });

describe('headOf', () => {
  it('lists a project under `latest`, shown as the version tag set with it (the newest such)', () => {
    expect(headOf([tag('1.0.0', H1, 1), tag('latest', H2, 2), tag('1.1.0', H2, 2), tag('1.1.0-rc.1', H2, 1)])).toEqual({
      head: tag('latest', H2, 2),
      version: '1.1.0',
    });
  });

  it('shows `latest` itself when no other tag names its project, and without `latest` the newest tag', () => {
    expect(headOf([tag('latest', H2, 2), tag('1.0.0', H1, 1)])?.version).toBe('latest');
    expect(headOf([tag('1.0.0', H1, 1), tag('nightly', H2, 5)])).toEqual({ head: tag('nightly', H2, 5), version: 'nightly' });
    expect(headOf([])).toBeNull();
  });

  it('without dates (a proxy), orders version tags by version, highest first', () => {
    expect(headOf([tag('latest', H1, null), tag('1.9.0', H1, null), tag('1.10.0', H1, null)])?.version).toBe('1.10.0');
  });
});

describe('proxySearchEntry', () => {
  const body = (h: unknown) => Buffer.from(JSON.stringify({ projectHash: h }));

  it('records a project under its `latest` tag, as the upstream named it', () => {
    expect(proxySearchEntry('tags/ripgrep/latest', body(H1))).toEqual({ package: 'ripgrep', name: 'ripgrep', latestVersion: 'latest' });
  });

  it('says nothing for other tags, other paths, or a body that names no project', () => {
    expect(proxySearchEntry('tags/ripgrep/14.1.0', body(H1))).toBeNull();
    expect(proxySearchEntry('projects/x/source.json', body(H1))).toBeNull();
    expect(proxySearchEntry('tags/ripgrep/latest', body('not a hash'))).toBeNull();
    expect(proxySearchEntry('tags/ripgrep/latest', Buffer.from('{"error":"not found"}'))).toBeNull();
    expect(proxySearchEntry('tags/ripgrep/latest', Buffer.from('<html>'))).toBeNull();
    expect(proxySearchEntry('tags/../latest', body(H1))).toBeNull();
  });
});
