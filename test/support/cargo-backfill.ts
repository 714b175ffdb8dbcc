/**
 * cargo_0004 on a database made before it: crates, versions and search entries written the way older Larders wrote
 * them (no dependencies, no READMEs, the highest version as latest), then the migration run again, then what search
 * and the README table say. Shared by the SQLite and PostgreSQL tests.
 */
import { sql } from 'kysely';
import { expect } from 'vitest';
import { cargoMigrations } from '../../src/formats/cargo/migrations.js';
import type { CargoTables } from '../../src/formats/cargo/schema.js';
import { readReadme } from '../../src/registry/readmes.js';
import { dependentsOf, searchPackages } from '../../src/registry/search/index.js';
import { openDatabase, type DatabaseTarget } from '../../src/storage/db.js';

const line = (name: string, vers: string, deps: object[] = [], yanked = false) =>
  JSON.stringify({
    name,
    vers,
    deps,
    cksum: 'a'.repeat(64),
    features: {},
    yanked,
    links: null,
    rust_version: null,
    pubtime: '2024-01-01T00:00:00Z',
  });
const dep = (name: string, kind: string, extra: object = {}) => ({
  name,
  req: '^1',
  features: [],
  optional: false,
  default_features: true,
  target: null,
  kind,
  registry: null,
  package: null,
  ...extra,
});

/** Runs the scenario against `target` (a fresh database). */
export async function checkCargoBackfill(target: DatabaseTarget): Promise<void> {
  const first = await openDatabase(target, cargoMigrations);
  let repoId: number;
  try {
    const db = first.db.withTables<CargoTables>();
    ({ id: repoId } = await db
      .insertInto('repos')
      .values({ name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public', created_at: 0 })
      .returning('id')
      .executeTakeFirstOrThrow());
    const crate = async (
      name: string,
      max: string | null,
      versions: Array<{ vers: string; line: string; yanked?: boolean; meta?: object }>,
    ) => {
      const norm = name.toLowerCase().replace(/-/g, '_');
      const { id } = await db
        .insertInto('cargo_crates')
        .values({
          repo_id: repoId,
          name,
          norm_name: norm,
          description: `${name} does things`,
          max_version: max,
          created_at: 1,
          updated_at: 2,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const v of versions) {
        await db
          .insertInto('cargo_versions')
          .values({
            crate_id: id,
            vers: v.vers,
            vers_key: v.vers,
            line: v.line,
            yanked: v.yanked ? 1 : 0,
            cksum: 'a'.repeat(64),
            size: 1,
            pubtime: 1,
            published_by: null,
            metadata: JSON.stringify(v.meta ?? {}),
          })
          .execute();
      }
      if (max !== null) {
        // What 0003 (or a publish before 0004) recorded: the highest version, no dependencies.
        await db
          .insertInto('search_entries')
          .values({
            repo_id: repoId,
            format: 'cargo',
            package: norm,
            name,
            name_key: norm,
            description: null,
            keywords: '',
            latest_version: max,
            updated_at: 2,
          })
          .execute();
      }
    };
    await crate('Base-Crate', '2.0.0-beta.1', [
      { vers: '1.0.0', line: line('Base-Crate', '1.0.0'), meta: { readme: '# Base 1.0.0\n', keywords: ['old'] } },
      { vers: '2.0.0-beta.1', line: line('Base-Crate', '2.0.0-beta.1'), meta: { readme: '# Base 2 beta\n', keywords: ['kept'] } },
    ]);
    await crate('app-tool', '0.1.0', [
      {
        vers: '0.1.0',
        line: line('app-tool', '0.1.0', [
          dep('Base-Crate', 'normal'),
          dep('gen', 'build'),
          dep('tester', 'dev'),
          dep('alias', 'normal', { package: 'Real-Name' }),
        ]),
        meta: { readme: '   ' },
      },
    ]);
    await crate('gone', null, [
      { vers: '1.0.0', line: line('gone', '1.0.0', [dep('Base-Crate', 'normal')], true), yanked: true, meta: { readme: 'kept anyway' } },
    ]);
    await sql`delete from kysely_migration where name = 'cargo_0004_dependencies_readmes'`.execute(db);
  } finally {
    await first.close();
  }

  const second = await openDatabase(target, cargoMigrations);
  try {
    const all = await searchPackages(second.db, second.dialect, { query: '', repoIds: [repoId], limit: 10 });
    // A release before a newer pre-release; 0003's fields (keywords, description) are left as they were.
    expect(all.hits.map((h) => [h.name, h.latestVersion, h.keywords])).toEqual([
      ['app-tool', '0.1.0', []],
      ['Base-Crate', '1.0.0', []],
    ]);
    const dependents = (name: string) => dependentsOf(second.db, { name, repoIds: [repoId], limit: 10 }).then((d) => d.map((e) => e.name));
    expect(await dependents('base_crate')).toEqual(['app-tool']);
    expect(await dependents('gen')).toEqual(['app-tool']);
    expect(await dependents('real-name')).toEqual(['app-tool']);
    expect(await dependents('tester')).toEqual([]);
    expect(await dependents('alias')).toEqual([]);
    const readme = (pkg: string, version: string) => readReadme(second.db, { repoId, package: pkg, version });
    expect(await readme('base_crate', '1.0.0')).toBe('# Base 1.0.0\n');
    expect(await readme('base_crate', '2.0.0-beta.1')).toBe('# Base 2 beta\n');
    expect(await readme('app_tool', '0.1.0')).toBeNull();
    // Yanked versions keep their README (their pages still show); the crate has no search entry.
    expect(await readme('gone', '1.0.0')).toBe('kept anyway');
  } finally {
    await second.close();
  }
}
