/**
 * `larder verify` of a MoonBit repo: what it reports when index documents and rows disagree
 * (a second line for a version, a changed checksum, a line without a row, yanked.json out of step).
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { inTransaction } from '../../registry/tx.js';
import { importMoonbit } from './import.js';
import type { ImportSource } from './import-source.js';
import { moonbitDb } from './store.js';
import { verifyMoonbitRepo } from './verify.js';

const line = (o: Record<string, unknown>) => `${JSON.stringify(o)}\n`;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

let t: TestApp;
beforeEach(async () => {
  t = await openTestApp();
});
afterEach(async () => {
  await t.stop();
});
const repo = () => t.registry.repos.get('moonbit')!;

/** Imports index files given as path → text. */
async function load(files: Record<string, string>): Promise<void> {
  const source: ImportSource = {
    describe: 'test',
    files: Object.entries(files).map(([path, body]) => ({ path, body: Buffer.from(body) })),
    ignored: [],
    zips: new Map(),
  };
  await importMoonbit(t.registry, repo(), source);
}

/** Overwrites a document the way a broken restore or a hand edit would. */
async function overwrite(path: string, body: string): Promise<void> {
  await inTransaction(t.registry, (uow) => t.registry.docs.put(uow, repo().id, path, Buffer.from(body)).then(() => {}));
}

describe('verify moonbit', () => {
  const json = line({ name: 'alice/json', version: '0.1.0', checksum: A }) + line({ name: 'alice/json', version: '0.2.0', checksum: B });

  it('finds nothing wrong with an import, and names each kind of disagreement', async () => {
    await load({
      'user/alice/json.index': json,
      'yanked.json': JSON.stringify({ yankedPackages: [{ name: 'alice/json', version: '0.1.0', reason: 'old' }] }),
    });
    const clean = await verifyMoonbitRepo(t.registry, repo());
    expect(clean.problems).toEqual([]);
    expect(clean.checked).toEqual({ 'index files': 1, versions: 2, zips: 0 });

    // A second line for 0.2.0 with another checksum, and a line the database never heard of.
    await overwrite(
      'user/alice/json.index',
      json + line({ name: 'alice/json', version: '0.2.0', checksum: A }) + line({ name: 'alice/json', version: '0.3.0', checksum: A }),
    );
    await overwrite('yanked.json', JSON.stringify({ yankedPackages: [{ name: 'alice/json', version: '0.2.0', reason: 'bad' }] }));
    const found = await verifyMoonbitRepo(t.registry, repo());
    expect(found.problems).toEqual([
      expect.stringMatching(/^module alice\/json@0\.2\.0: user\/alice\/json\.index has 2 lines naming this version, 1 with the checksum/),
      'user/alice/json.index has a line for alice/json@0.3.0 that the database does not know; its download would be a 404',
      'yanked.json does not list alice/json@0.1.0, which is yanked',
      'yanked.json lists alice/json@0.2.0, which is not yanked in the database',
    ]);
  });

  it('lists the zips the rows rely on, and reports a missing index file', async () => {
    await load({ 'user/alice/json.index': json });
    const zip = Buffer.from('zip bytes');
    const sha256 = createHash('sha256').update(zip).digest('hex');
    await moonbitDb(t.registry)
      .insertInto('moonbit_versions')
      .values({
        repo_id: repo().id,
        module: 'bob/lost',
        version: '1.0.0',
        checksum: sha256,
        size: zip.length,
        description: null,
        published_at: 0,
        published_by: null,
        yanked: 0,
        yanked_reason: null,
      })
      .execute();
    const v = await verifyMoonbitRepo(t.registry, repo());
    expect(v.references).toEqual([{ sha256, size: zip.length, what: 'module bob/lost@1.0.0' }]);
    expect(v.problems).toEqual([expect.stringContaining('module bob/lost@1.0.0: its index file user/bob/lost.index is missing')]);
  });
});
