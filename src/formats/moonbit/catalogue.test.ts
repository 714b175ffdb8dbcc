import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gitBlobId, type HistoryTip } from '../../registry/git-history/state.js';
import { buildCatalogue, parseYanked, searchCatalogue } from './catalogue.js';

const tip = (files: Record<string, string>): HistoryTip => ({
  head: 7,
  message: '',
  files: new Map(
    Object.entries(files).map(([p, body]) => [p, { mode: '100644' as const, data: Buffer.from(body), blob: gitBlobId(Buffer.from(body)) }]),
  ),
});
const line = (o: object) => `${JSON.stringify({ checksum: 'a'.repeat(64), ...o })}\n`;

describe('catalogue', () => {
  it('keeps versions with build metadata, as the real moonbitlang/core index has them', () => {
    const core = fs.readFileSync('../shared/fixtures/moonbit-sample/user/moonbitlang/core.index');
    const c = buildCatalogue({
      head: 1,
      message: '',
      files: new Map([['user/moonbitlang/core.index', { mode: '100644', data: core, blob: gitBlobId(core) }]]),
    });
    const versions = c.modules.get('moonbitlang/core')!.versions.map((v) => v.version);
    const lines = core.toString().trim().split('\n').length;
    expect(versions.length).toBe(lines);
    expect(versions.some((v) => v.includes('+'))).toBe(true);
  });

  it('reads modules as moon does: bad lines skipped, the last line of a version wins, nested names side by side', () => {
    const c = buildCatalogue(
      tip({
        'user/moonbitlang/lex.index': line({ name: 'moonbitlang/lex', version: '0.1.0', description: 'old' }) + '{not json\n',
        'user/moonbitlang/lex/runtime.index':
          line({ name: 'moonbitlang/lex/runtime', version: '1.0.0', description: 'first' }) +
          line({ name: 'moonbitlang/lex/runtime', version: '1.0.0', description: 'second' }) +
          line({ name: 'moonbitlang/lex/runtime', version: 'latest' }),
        'user/moonbitlang/broken.index': 'nothing here\n',
        'README.md': '# index\n',
        'yanked.json': '{"yankedPackages":[{"name":"moonbitlang/lex","version":"0.1.0","reason":""}]}',
      }),
    );
    expect([...c.modules.keys()].sort()).toEqual(['moonbitlang/lex', 'moonbitlang/lex/runtime']);
    const runtime = c.modules.get('moonbitlang/lex/runtime')!;
    expect(runtime.versions.map((v) => v.version)).toEqual(['1.0.0']);
    expect(runtime.description).toBe('second');
    expect(c.modules.get('moonbitlang/lex')!.latest).toMatchObject({ version: '0.1.0', yanked: true, yankedReason: null });
    expect(c.byUser.get('moonbitlang')!.map((m) => m.name)).toEqual(['moonbitlang/lex', 'moonbitlang/lex/runtime']);
    expect(searchCatalogue(c, 'lex', 20).map((m) => m.name)).toEqual(['moonbitlang/lex', 'moonbitlang/lex/runtime']);
  });

  it('takes the highest SemVer as latest, a prerelease only when it is highest', () => {
    const c = buildCatalogue(
      tip({
        'user/a/x.index': line({ version: '1.10.0' }) + line({ version: '1.9.0' }) + line({ version: '1.10.0-rc.1' }),
        'user/a/y.index': line({ version: '1.0.0' }) + line({ version: '2.0.0-alpha.1' }),
      }),
    );
    expect(c.modules.get('a/x')!.latest.version).toBe('1.10.0');
    expect(c.modules.get('a/x')!.versions.map((v) => v.version)).toEqual(['1.9.0', '1.10.0-rc.1', '1.10.0']);
    expect(c.modules.get('a/y')!.latest.version).toBe('2.0.0-alpha.1');
  });

  it('reads an unreadable yanked.json as nothing yanked', () => {
    expect(parseYanked(Buffer.from('{'))).toEqual(new Map());
    expect(parseYanked(Buffer.from('{"yankedPackages":[1,{"name":"a/b"},{"name":"a/b","version":"1.0.0","reason":"r"}]}'))).toEqual(
      new Map([['a/b@1.0.0', 'r']]),
    );
  });
});
