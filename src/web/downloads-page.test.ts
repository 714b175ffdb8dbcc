/**
 * Download counts on a package page: per version and in total, for the hosted repo and for a group over it
 * (whose downloads count for the member that sent them). Cargo's own web part is another helper's: this runs a
 * variant of the format with a stand-in that reads the index file through the source.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS } from '../cli/context.js';
import { cargoFormat } from '../formats/cargo/index.js';
import { indexPath } from '../formats/cargo/names.js';
import type { FormatPlugin } from '../http/format-plugin.js';
import type { WebParts } from '../registry/package-view.js';
import { simplePublishBody } from '../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../test/support/larder.js';

const standIn: WebParts = {
  async packageView({ source }, pkg, version) {
    const doc = await source.doc(indexPath(pkg));
    if (!doc) return null;
    const lines = doc.body
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { name: string; vers: string });
    const latest = lines.at(-1)!.vers;
    return {
      package: pkg,
      name: lines[0]!.name,
      version: version ?? latest,
      latest,
      description: null,
      license: null,
      keywords: [],
      links: [],
      versions: lines.reverse().map((l) => ({ version: l.vers, publishedAt: null, yanked: false, yankReason: null })),
      dependencies: [],
      facts: [],
    };
  },
  usage: () => [],
};
const cargoWithWeb: FormatPlugin = { ...cargoFormat, web: async () => standIn };

let t: TestApp;
const get = (url: string) => t.app.inject({ method: 'GET', url });

beforeAll(async () => {
  t = await openTestApp({
    repos: [
      { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['crates'] },
    ],
    formats: FORMATS.map((f) => (f.format === 'cargo' ? cargoWithWeb : f)),
  });
  for (const vers of ['1.0.0', '1.1.0']) {
    const { body } = await simplePublishBody('tally', vers);
    const res = await t.app.inject({
      method: 'PUT',
      url: '/crates/api/v1/crates/new',
      headers: { authorization: t.adminToken },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
  }
});
afterAll(() => t.stop());

/** The Downloads cell of each version row (version → count), and the total in the About list. */
function shown(page: string): { rows: Record<string, string>; total: string | undefined } {
  const rows: Record<string, string> = {};
  for (const row of page.matchAll(/<tr><td><a [^>]*>([^<]+)<\/a><\/td><td>.*?<\/td><td>(\d+)<\/td>/g)) rows[row[1]!] = row[2]!;
  return { rows, total: /<dt>Downloads<\/dt><dd>(\d+)<\/dd>/.exec(page)?.[1] };
}

describe('downloads on a package page', () => {
  it('shows each version’s downloads and their sum, once flushed; a group’s page shows its member’s', async () => {
    expect(shown((await get('/-/packages/crates/tally')).body)).toEqual({ rows: { '1.1.0': '0', '1.0.0': '0' }, total: '0' });
    for (const url of [
      '/crates/api/v1/crates/tally/1.0.0/download',
      '/all/api/v1/crates/tally/1.0.0/download',
      '/crates/api/v1/crates/tally/1.1.0/download',
    ])
      expect((await get(url)).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'HEAD', url: '/crates/api/v1/crates/tally/1.1.0/download' })).statusCode).toBe(200);
    // Counted in memory until the flush.
    expect(shown((await get('/-/packages/crates/tally')).body).total).toBe('0');
    await t.registry.downloads.flush();
    expect(shown((await get('/-/packages/crates/tally')).body)).toEqual({ rows: { '1.1.0': '1', '1.0.0': '2' }, total: '3' });
    expect(shown((await get('/-/packages/all/tally')).body)).toEqual({ rows: { '1.1.0': '1', '1.0.0': '2' }, total: '3' });
  });
});
