/** What search records of a MoonBit index file: for hosted writes and for what a proxy fetches (ProxyParts.searchEntry). */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { moonbitProxy } from './proxy.js';
import { moduleSearchEntry } from './search.js';

const line = (o: object) => `${JSON.stringify({ checksum: 'a'.repeat(64), ...o })}\n`;
const searchEntry = (path: string, body: string | Buffer) => moonbitProxy.searchEntry!(path, Buffer.from(body));

describe('ProxyParts.searchEntry for MoonBit', () => {
  it('describes a module by its highest SemVer line: description, keywords and the deps it names', () => {
    const body =
      line({ name: 'alice/json', version: '0.9.0', description: 'old', keywords: ['stale'], deps: { 'alice/old': '1.0.0' } }) +
      line({
        name: 'alice/json',
        version: '0.10.0',
        description: 'Fast JSON',
        keywords: ['json', 7, 'parser'],
        deps: { 'alice/utf8': '0.1.0', 'moonbitlang/core': { version: '0.0.0' }, 'alice/local': { path: '../local' } },
      }) +
      line({ name: 'alice/json', version: '0.10.0-rc.1', description: 'a prerelease below the highest' });
    expect(searchEntry('user/alice/json.index', body)).toEqual({
      package: 'alice/json',
      name: 'alice/json',
      description: 'Fast JSON',
      keywords: ['json', 'parser'],
      latestVersion: '0.10.0',
      dependencies: ['alice/utf8', 'moonbitlang/core', 'alice/local'],
    });
  });

  it('reads lines as moon does: unparsable and non-SemVer lines skipped, the last line of a version wins, deps null tolerated', () => {
    const body =
      line({ name: 'a/b/c', version: '1.0.0', description: 'first' }) +
      '{not json\n' +
      line({ name: 'a/b/c', version: 'latest' }) +
      line({ name: 'a/b/c', version: '1.0.0', description: '', deps: null });
    expect(searchEntry('user/a/b/c.index', body)).toEqual({
      package: 'a/b/c',
      name: 'a/b/c',
      description: null,
      keywords: [],
      latestVersion: '1.0.0',
      dependencies: [],
    });
  });

  it('is null for other paths and for index files without a usable version', () => {
    expect(searchEntry('yanked.json', '{"yankedPackages":[]}')).toBeNull();
    expect(searchEntry('symbols.zip', 'PK')).toBeNull();
    expect(searchEntry('user/alice.index', line({ version: '1.0.0' }))).toBeNull();
    expect(searchEntry('user/alice/json.index', 'nothing here\n')).toBeNull();
    expect(searchEntry('user/alice/json.index', '')).toBeNull();
  });

  it('indexes every module of a real mooncakes.io index slice', () => {
    const dir = '../shared/fixtures/moonbit-sample/user/moonbitlang';
    const body = fs.readFileSync(`${dir}/core.index`);
    const entry = searchEntry('user/moonbitlang/core.index', body)!;
    expect(entry).toMatchObject({ package: 'moonbitlang/core', name: 'moonbitlang/core', keywords: ['core', 'standard library'] });
    expect(entry.latestVersion).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('moduleSearchEntry (hosted writes)', () => {
  const body = line({ version: '1.0.0', description: 'one' }) + line({ version: '1.1.0', description: 'one point one' });

  it('takes the highest version that is not yanked, with that version’s description', () => {
    expect(moduleSearchEntry('alice/x', Buffer.from(body), new Map([['alice/x@1.1.0', 'broken']]))).toMatchObject({
      latestVersion: '1.0.0',
      description: 'one',
    });
  });

  it('is null when every version is yanked (the entry is removed)', () => {
    const yanked = new Map<string, string | null>([
      ['alice/x@1.0.0', null],
      ['alice/x@1.1.0', 'gone'],
    ]);
    expect(moduleSearchEntry('alice/x', Buffer.from(body), yanked)).toBeNull();
  });
});
