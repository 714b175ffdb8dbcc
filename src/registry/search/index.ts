/**
 * The search service every format shares (issue 12): one `search_entries` row per package a repo holds, kept
 * current inside the publish/yank transaction, and one ranked query over them for the web UI and the formats'
 * own search APIs (`cargo search`, …).
 *
 * Ranking: the exact name first (case-insensitive, `-` = `_`), then names starting with the query, then
 * full-text matches over name, keywords and description (bm25 on SQLite's FTS5, ts_rank on PostgreSQL);
 * ties by name. A blank query lists every entry by name.
 *
 * Visibility is the caller's job: `repoIds` must hold only repositories the viewer may read.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Dialect } from '../../storage/db.js';
import { prepared } from '../../storage/prepared.js';
import type { Database } from '../../storage/schema.js';
import { fts5Query, nameKey, parseQuery, prefixPattern, tsQuery } from './query.js';

export { MAX_QUERY_LENGTH, parseQuery } from './query.js';

/** What a format says about one of its packages. */
export interface SearchEntry {
  repoId: number;
  format: string;
  /** The format's canonical package id (the one package_owners uses). */
  package: string;
  /** The display name. */
  name: string;
  description?: string | null;
  keywords?: readonly string[];
  latestVersion: string | null;
  /** Milliseconds since the epoch; now by default. */
  updatedAt?: number;
  /**
   * Names the latest version depends on (for "packages here that depend on it"); replaces the recorded list.
   * Absent: the recorded list is kept.
   */
  dependencies?: readonly string[];
}

export interface SearchOptions {
  /** User text, taken as is: cleaned and escaped here. */
  query: string;
  /** The repositories the caller may read (visibility is filtered by the caller, not here). Empty: no hits. */
  repoIds: readonly number[];
  /** Only these formats (all when absent or empty). */
  formats?: readonly string[];
  /**
   * Repo ids in the order a group looks a package up (hosted members first): a package (format and canonical id)
   * that several of them hold is listed once, from the first, as the group serves it. Absent: every repo's entry.
   */
  onePerPackage?: readonly number[];
  limit: number;
  offset?: number;
}

export interface SearchHit {
  repoId: number;
  format: string;
  package: string;
  name: string;
  description: string | null;
  keywords: string[];
  latestVersion: string | null;
  updatedAt: number;
  /** How the hit matched: the whole name, the start of the name, the text; `listed` for a blank query. */
  match: 'exact' | 'prefix' | 'text' | 'listed';
}

export interface SearchResult {
  hits: SearchHit[];
  /** Every match, not just this page. */
  total: number;
}

/** Most hits one call returns. */
export const MAX_LIMIT = 200;

type AnyDb = Kysely<Database>;

/** Records or replaces a package's entry; call it inside the transaction that publishes or changes the package. */
export async function upsertSearchEntry(trx: AnyDb, _dialect: Dialect, entry: SearchEntry): Promise<void> {
  const row = {
    format: entry.format,
    name: entry.name,
    name_key: nameKey(entry.name),
    description: entry.description ?? null,
    keywords: (entry.keywords ?? []).join(' '),
    latest_version: entry.latestVersion,
    updated_at: entry.updatedAt ?? Date.now(),
  };
  const ref = { repoId: entry.repoId, package: entry.package };
  await upsertEntry.all(trx, { ...ref, ...row });
  if (entry.dependencies === undefined) return;
  await deleteDependencies.all(trx, ref);
  const keys = [...new Set(entry.dependencies.map(nameKey))].filter((k) => k !== '');
  if (keys.length === 1) return void (await insertDependency.all(trx, { ...ref, key: keys[0] }));
  if (keys.length === 0) return;
  await trx
    .insertInto('search_dependencies')
    .values(keys.map((dependency_key) => ({ repo_id: entry.repoId, package: entry.package, dependency_key })))
    .execute();
}

// Prepared (storage/prepared.ts): every publish and yank runs them.
const upsertEntry = prepared(
  'search entry upsert',
  (
    db: AnyDb,
    p: {
      repoId: number;
      package: string;
      format: string;
      name: string;
      name_key: string;
      description: string | null;
      keywords: string;
      latest_version: string | null;
      updated_at: number;
    },
  ) => {
    const row = {
      format: p.format,
      name: p.name,
      name_key: p.name_key,
      description: p.description,
      keywords: p.keywords,
      latest_version: p.latest_version,
      updated_at: p.updated_at,
    };
    return db
      .insertInto('search_entries')
      .values({ repo_id: p.repoId, package: p.package, ...row })
      .onConflict((oc) => oc.columns(['repo_id', 'package']).doUpdateSet(row));
  },
);
const deleteDependencies = prepared('search dependencies delete', (db: AnyDb, p: { repoId: number; package: string }) =>
  db.deleteFrom('search_dependencies').where('repo_id', '=', p.repoId).where('package', '=', p.package),
);
const insertDependency = prepared('search dependency insert', (db: AnyDb, p: { repoId: number; package: string; key: string }) =>
  db.insertInto('search_dependencies').values({ repo_id: p.repoId, package: p.package, dependency_key: p.key }),
);

/** Drops a package's entry (nothing left to install: every version yanked or deleted); inside the writing transaction. */
export async function removeSearchEntry(trx: AnyDb, _dialect: Dialect, ref: { repoId: number; package: string }): Promise<void> {
  await trx.deleteFrom('search_entries').where('repo_id', '=', ref.repoId).where('package', '=', ref.package).execute();
  await trx.deleteFrom('search_dependencies').where('repo_id', '=', ref.repoId).where('package', '=', ref.package).execute();
}

/** A package as the UI lists it (search_entries without the ranking). */
export type ListedEntry = Omit<SearchHit, 'match'>;

function listed(r: Omit<Row, 'tier'>): ListedEntry {
  return {
    repoId: Number(r.repo_id),
    format: r.format,
    package: r.package,
    name: r.name,
    description: r.description,
    keywords: r.keywords === '' ? [] : r.keywords.split(' '),
    latestVersion: r.latest_version,
    updatedAt: Number(r.updated_at),
  };
}

/** The packages among `repoIds` whose latest version depends on a package called `name`, by name. */
export async function dependentsOf(
  db: AnyDb,
  options: { name: string; repoIds: readonly number[]; limit: number },
): Promise<ListedEntry[]> {
  if (options.repoIds.length === 0) return [];
  const rows = await db
    .selectFrom('search_dependencies as d')
    .innerJoin('search_entries as e', (j) => j.onRef('e.repo_id', '=', 'd.repo_id').onRef('e.package', '=', 'd.package'))
    .select(['e.repo_id', 'e.format', 'e.package', 'e.name', 'e.description', 'e.keywords', 'e.latest_version', 'e.updated_at'])
    .where('d.dependency_key', '=', nameKey(options.name))
    .where('d.repo_id', 'in', [...options.repoIds])
    .orderBy('e.name_key')
    .limit(clampInt(options.limit, 0, MAX_LIMIT))
    .execute();
  return rows.map(listed);
}

/** The most recently changed packages among `repoIds`, newest first. */
export async function recentEntries(db: AnyDb, options: { repoIds: readonly number[]; limit: number }): Promise<ListedEntry[]> {
  if (options.repoIds.length === 0) return [];
  const rows = await db
    .selectFrom('search_entries as e')
    .select(['e.repo_id', 'e.format', 'e.package', 'e.name', 'e.description', 'e.keywords', 'e.latest_version', 'e.updated_at'])
    .where('e.repo_id', 'in', [...options.repoIds])
    .orderBy('e.updated_at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(clampInt(options.limit, 0, MAX_LIMIT))
    .execute();
  return rows.map(listed);
}

/** How many packages each repo holds (repos without any are absent). */
export async function entryCounts(db: AnyDb, repoIds: readonly number[]): Promise<Map<number, number>> {
  if (repoIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('search_entries')
    .select(['repo_id', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('repo_id', 'in', [...repoIds])
    .groupBy('repo_id')
    .execute();
  return new Map(rows.map((r) => [Number(r.repo_id), Number(r.n)]));
}

interface Row {
  repo_id: number;
  format: string;
  package: string;
  name: string;
  description: string | null;
  keywords: string;
  latest_version: string | null;
  updated_at: number;
  tier: number;
}

const MATCHES = ['exact', 'prefix', 'text', 'listed'] as const;

/** Ranked hits for user text among the given repositories; never fails on what the text contains. */
export async function searchPackages(db: AnyDb, dialect: Dialect, options: SearchOptions): Promise<SearchResult> {
  const repoIds = [...new Set(options.repoIds)].filter((id) => Number.isSafeInteger(id));
  const limit = clampInt(options.limit, 0, MAX_LIMIT);
  const offset = clampInt(options.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
  if (repoIds.length === 0) return { hits: [], total: 0 };

  const { key, tokens } = parseQuery(options.query);
  const scope = [sql`e.repo_id in (${sql.join(repoIds)})`];
  if (options.formats?.length) scope.push(sql`e.format in (${sql.join([...options.formats])})`);
  const order = [...new Set(options.onePerPackage ?? [])].filter((id) => Number.isSafeInteger(id));
  if (order.length > 1) {
    // An entry is shadowed by the same package in a repo earlier in the order (one indexed probe per candidate).
    const rank = (col: RawBuilder<unknown>) =>
      sql`case ${col} ${sql.join(
        order.map((id, i) => sql`when ${id} then ${sql.lit(i)}`),
        sql` `,
      )} end`;
    scope.push(sql`not exists (select 1 from search_entries o where o.package = e.package and o.format = e.format
      and o.repo_id in (${sql.join(order)}) and ${rank(sql`o.repo_id`)} < ${rank(sql`e.repo_id`)})`);
  }

  const inScope = sql.join(scope, sql` and `);
  let prelude: RawBuilder<unknown> = sql``;
  /** A cheaper statement for the total, when one gives the same count. */
  let counting: RawBuilder<{ total: number | string }> | null = null;
  let from: RawBuilder<unknown> = sql`search_entries e`;
  let tier: RawBuilder<unknown> = sql`3`;
  let score: RawBuilder<unknown> = sql`0`;
  if (key !== '') {
    const prefix = prefixPattern(key);
    tier = sql`case when e.name_key = ${key} then 0 when e.name_key like ${prefix} escape '\\' then 1 else 2 end`;
    const conditions = [sql`e.name_key = ${key}`, sql`e.name_key like ${prefix} escape '\\'`];
    const text = dialect === 'postgres' ? tsQuery(tokens) : fts5Query(tokens);
    if (text !== null && dialect === 'postgres') {
      from = sql`search_entries e cross join to_tsquery('simple', ${text}) q`;
      conditions.push(sql`e.search_vector @@ q`);
      // ts_rank: higher is better.
      score = sql`case when e.search_vector @@ q then -ts_rank(e.search_vector, q) else 0 end`;
    } else if (dialect !== 'postgres') {
      // Candidates first, each through an index: names from the key up (search_entries_name_key; the bound after
      // U+10FFFF only misses names continuing with that non-character), and the full-text matches computed once
      // (a materialised CTE; bm25: lower is better, weights name 10, description 1, keywords 4). Filtering every
      // entry in scope, with the MATCH run again per entry, cost about a second per search over 10,000 packages
      // (bench/web.ts). The conditions below still decide, so the candidates only narrow what is read; CROSS JOIN
      // keeps the candidates the outer loop (without ANALYZE statistics SQLite would walk the repo's entries).
      // The total needs no ranking: the candidates in scope are exactly the matches.
      const names = sql`select id from search_entries where name_key >= ${key} and name_key < ${`${key}\u{10FFFF}`}`;
      if (text === null) prelude = sql`with c as (${names}) `;
      else {
        prelude = sql`with f as materialized (select rowid as id, bm25(search_fts, 10.0, 1.0, 4.0) as score
          from search_fts where search_fts match ${text}), c as (${names} union select id from f) `;
        conditions.push(sql`f.id is not null`);
        score = sql`coalesce(f.score, 0)`;
      }
      const candidates = text === null ? names : sql`${names} union select rowid from search_fts where search_fts match ${text}`;
      counting = sql`with c as (${candidates}) select count(*) as total from c cross join search_entries e on e.id = c.id where ${inScope}`;
      from =
        text === null
          ? sql`c cross join search_entries e on e.id = c.id`
          : sql`c cross join search_entries e on e.id = c.id left join f on f.id = e.id`;
    }
    scope.push(sql`(${sql.join(conditions, sql` or `)})`);
  }
  const where = sql.join(scope, sql` and `);

  const count = await (counting ?? sql<{ total: number | string }>`${prelude}select count(*) as total from ${from} where ${where}`).execute(
    db,
  );
  const total = Number(count.rows[0]?.total ?? 0);
  if (limit === 0 || offset >= total) return { hits: [], total };
  // Within a tier: the same name in several repos by repo; prefixes shortest first; text by relevance.
  const rows = await sql<Row>`${prelude}select * from (select e.repo_id, e.format, e.package, e.name, e.description, e.keywords,
      e.latest_version, e.updated_at, e.name_key, ${tier} as tier, ${score} as score from ${from} where ${where}) s
    order by tier, case when tier = 1 then length(name_key) else 0 end, case when tier = 2 then score else 0 end, name_key, repo_id
    limit ${limit} offset ${offset}`.execute(db);
  return {
    hits: rows.rows.map((r) => ({ ...listed(r), match: MATCHES[Number(r.tier)] ?? 'text' })),
    total,
  };
}

function clampInt(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.floor(n))) : min;
}
