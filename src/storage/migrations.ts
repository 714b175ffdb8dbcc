import { sql, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely } from 'kysely';
import type { Dialect, DialectMigration } from './db.js';

/** Adds an auto-increment integer primary key named `id`, in the dialect's own spelling. */
export function withId<T extends string>(table: CreateTableBuilder<T, never>, dialect: Dialect): CreateTableBuilder<T, 'id'> {
  return dialect === 'postgres'
    ? table.addColumn('id', 'serial', (c) => c.primaryKey())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/** Milliseconds since the epoch: bigint in PostgreSQL (integers are 64-bit in SQLite anyway). */
export const millis = 'bigint' as const;

/** The binary column type of each dialect. */
export function blobType(dialect: Dialect) {
  return dialect === 'postgres' ? sql`bytea` : sql`blob`;
}

const notNull = (c: ColumnDefinitionBuilder) => c.notNull();

export const coreMigrations: DialectMigration[] = [
  {
    name: '0001_core',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      await withId(db.schema.createTable('repos'), dialect)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('format', 'text', notNull)
        .addColumn('kind', 'text', notNull)
        .addColumn('visibility', 'text', notNull)
        .addColumn('created_at', millis, notNull)
        .execute();

      await withId(db.schema.createTable('users'), dialect)
        .addColumn('login', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text')
        .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', millis, notNull)
        .execute();

      await withId(db.schema.createTable('tokens'), dialect)
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('name', 'text', notNull)
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', notNull)
        .addColumn('scopes', 'text', notNull)
        .addColumn('repo_pattern', 'text')
        .addColumn('package_pattern', 'text')
        .addColumn('expires_at', millis)
        .addColumn('last_used_at', millis)
        .addColumn('created_at', millis, notNull)
        .addColumn('revoked_at', millis)
        .execute();
      await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();

      await db.schema
        .createTable('blobs')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('size', millis, notNull)
        .addColumn('created_at', millis, notNull)
        .execute();

      await db.schema
        .createTable('index_docs')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('path', 'text', notNull)
        .addColumn('body', blobType(dialect), notNull)
        .addColumn('etag', 'text', notNull)
        .addColumn('updated_at', millis, notNull)
        .addPrimaryKeyConstraint('index_docs_pk', ['repo_id', 'path'])
        .execute();

      await withId(db.schema.createTable('audit_log'), dialect)
        .addColumn('at', millis, notNull)
        .addColumn('user_id', 'integer')
        .addColumn('repo_id', 'integer')
        .addColumn('action', 'text', notNull)
        .addColumn('subject', 'text', notNull)
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
    },
  },
  {
    // Appended by IndexDocs.put/remove in the writing transaction; read by every other process on
    // the same SQLite file, whose caches would otherwise serve what it changed forever.
    name: '0002_index_changes',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      await withId(db.schema.createTable('index_changes'), dialect)
        .addColumn('repo_id', 'integer', notNull)
        .addColumn('path', 'text', notNull)
        .addColumn('at', millis, notNull)
        .addColumn('origin', 'text', notNull)
        .execute();
      await db.schema.createIndex('index_changes_at').on('index_changes').column('at').execute();
    },
  },
  {
    name: '0003_package_owners',
    async up(db: Kysely<unknown>) {
      // Owners of every format's packages, keyed by the format's canonical package id.
      await db.schema
        .createTable('package_owners')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('package', 'text', notNull)
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', millis, notNull)
        .addPrimaryKeyConstraint('package_owners_pk', ['repo_id', 'package', 'user_id'])
        .execute();
    },
  },
  {
    // Proxy repositories (issue 9): documents live in index_docs like hosted ones; these say what the upstream said.
    name: '0005_proxy_cache',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('proxy_docs')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('path', 'text', notNull)
        .addColumn('status', 'integer', notNull)
        .addColumn('upstream_etag', 'text')
        .addColumn('fetched_at', millis, notNull)
        .addPrimaryKeyConstraint('proxy_docs_pk', ['repo_id', 'path'])
        .execute();
      await db.schema
        .createTable('proxy_artifacts')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('key', 'text', notNull)
        .addColumn('sha256', 'text', notNull)
        .addColumn('size', millis, notNull)
        .addColumn('fetched_at', millis, notNull)
        .addPrimaryKeyConstraint('proxy_artifacts_pk', ['repo_id', 'key'])
        .execute();
      await db.schema
        .createTable('proxy_versions')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('path', 'text', notNull)
        .addColumn('version', 'text', notNull)
        .addColumn('first_seen', millis, notNull)
        .addPrimaryKeyConstraint('proxy_versions_pk', ['repo_id', 'path', 'version'])
        .execute();
      await db.schema
        .createTable('proxy_promises')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('key', 'text', notNull)
        .addColumn('url', 'text', notNull)
        .addColumn('sha256', 'text')
        .addColumn('sri', 'text')
        .addPrimaryKeyConstraint('proxy_promises_pk', ['repo_id', 'key'])
        .execute();
    },
  },
  {
    // Deterministic git histories (Julia's registry view, MoonBit's index): commits by (repo, history).
    name: '0004_git_history',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      await withId(db.schema.createTable('git_history'), dialect)
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('history', 'text', notNull)
        .addColumn('tree', 'text')
        .addColumn('message', 'text', notNull)
        .addColumn('at', millis, notNull)
        .execute();
      await db.schema.createIndex('git_history_by_name').on('git_history').columns(['repo_id', 'history', 'id']).execute();
      await db.schema
        .createTable('git_history_files')
        .addColumn('commit_id', 'integer', (c) => c.notNull().references('git_history.id'))
        .addColumn('path', 'text', notNull)
        .addColumn('mode', 'text', notNull)
        .addColumn('body', blobType(dialect))
        .addPrimaryKeyConstraint('git_history_files_pk', ['commit_id', 'path'])
        .execute();
    },
  },
  {
    // S3 access keys (Brioche's cache writes): each bound to one token. SigV4 needs the secret itself
    // (an HMAC key), so unlike a token it is kept as is; see registry/s3-keys.ts.
    name: '0006_s3_keys',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('s3_keys')
        .addColumn('access_key_id', 'text', (c) => c.primaryKey())
        .addColumn('token_id', 'integer', (c) => c.notNull().references('tokens.id'))
        .addColumn('secret', 'text', notNull)
        .addColumn('created_at', millis, notNull)
        .execute();
      await db.schema.createIndex('s3_keys_token').on('s3_keys').column('token_id').execute();
    },
  },
  {
    // The format-independent search service (registry/search): one row per package a repo holds, written in the
    // publish/yank transaction; the text index is FTS5 on SQLite and a generated tsvector on PostgreSQL.
    name: '0007_search_entries',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      // `id` is the stable rowid the SQLite FTS5 index points at (an implicit rowid may change on VACUUM);
      // (repo_id, package) is the entry's natural key, what upserts conflict on.
      await withId(db.schema.createTable('search_entries'), dialect)
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('format', 'text', notNull)
        .addColumn('package', 'text', notNull)
        .addColumn('name', 'text', notNull)
        .addColumn('name_key', 'text', notNull)
        .addColumn('description', 'text')
        .addColumn('keywords', 'text', notNull)
        .addColumn('latest_version', 'text')
        .addColumn('updated_at', millis, notNull)
        .addUniqueConstraint('search_entries_key', ['repo_id', 'package'])
        .execute();
      await db.schema.createIndex('search_entries_name_key').on('search_entries').columns(['name_key', 'repo_id']).execute();
      if (dialect === 'postgres') {
        // 'simple': no stemming or stop words (package names and keywords are not English prose). Weights: name A,
        // keywords B, description C, so ts_rank prefers a hit in the name.
        await sql`alter table search_entries add column search_vector tsvector generated always as (
            setweight(to_tsvector('simple', name), 'A') ||
            setweight(to_tsvector('simple', keywords), 'B') ||
            setweight(to_tsvector('simple', coalesce(description, '')), 'C')
          ) stored`.execute(db);
        await sql`create index search_entries_fts on search_entries using gin (search_vector)`.execute(db);
      } else {
        // External content: the text lives once, in search_entries, and snippet()/highlight() can read it back for
        // the UI. The triggers keep the index in the writing transaction, so a rollback undoes both.
        await sql`create virtual table search_fts using fts5(
            name, description, keywords,
            content = 'search_entries', content_rowid = 'id',
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
          )`.execute(db);
        const fields = (row: 'new' | 'old') => sql.raw(`${row}.id, ${row}.name, ${row}.description, ${row}.keywords`);
        const add = sql`insert into search_fts (rowid, name, description, keywords) values (${fields('new')});`;
        const drop = sql`insert into search_fts (search_fts, rowid, name, description, keywords) values ('delete', ${fields('old')});`;
        await sql`create trigger search_entries_ai after insert on search_entries begin ${add} end`.execute(db);
        await sql`create trigger search_entries_ad after delete on search_entries begin ${drop} end`.execute(db);
        await sql`create trigger search_entries_au after update of name, description, keywords on search_entries begin ${drop} ${add} end`.execute(
          db,
        );
      }
    },
  },
  {
    name: '0008_web',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      // A browser session: a signed-in token exchanged for a cookie (web/session). Only the cookie's hash is kept;
      // the session acts with its token's principal, so revoking or expiring the token ends it.
      await withId(db.schema.createTable('web_sessions'), dialect)
        .addColumn('session_hash', 'text', (c) => c.notNull().unique())
        .addColumn('token_id', 'integer', (c) => c.notNull().references('tokens.id'))
        .addColumn('csrf', 'text', notNull)
        .addColumn('created_at', millis, notNull)
        .addColumn('expires_at', millis, notNull)
        .execute();
      // READMEs as published (Markdown), per version: extracted at publish time, rendered and sanitised when shown.
      await db.schema
        .createTable('package_readmes')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('package', 'text', notNull)
        .addColumn('version', 'text', notNull)
        .addColumn('markdown', 'text', notNull)
        .addPrimaryKeyConstraint('package_readmes_pk', ['repo_id', 'package', 'version'])
        .execute();
      // What each package's latest version depends on, by name: "the packages here that depend on it" is one indexed lookup.
      await db.schema
        .createTable('search_dependencies')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('package', 'text', notNull)
        .addColumn('dependency_key', 'text', notNull)
        .addPrimaryKeyConstraint('search_dependencies_pk', ['repo_id', 'package', 'dependency_key'])
        .execute();
      await db.schema
        .createIndex('search_dependencies_dependency')
        .on('search_dependencies')
        .columns(['dependency_key', 'repo_id'])
        .execute();
      // Downloads per version, added up in memory and flushed now and then (registry/downloads).
      await db.schema
        .createTable('package_downloads')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('package', 'text', notNull)
        .addColumn('version', 'text', notNull)
        .addColumn('count', 'bigint', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('package_downloads_pk', ['repo_id', 'package', 'version'])
        .execute();
    },
  },
  {
    // Proxy statistics for the web UI (issue 12), cheap enough for the start page: which held documents never go stale
    // (their lifetime is the format's `docLifetime`, known only when stored), indexes that answer the counts and sums
    // without reading rows, and the latest upstream outcome of each proxy, recorded by whichever node asked.
    name: '0009_proxy_stats',
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('proxy_docs')
        .addColumn('immutable', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('proxy_docs_age').on('proxy_docs').columns(['repo_id', 'status', 'immutable', 'fetched_at']).execute();
      await db.schema.createIndex('proxy_artifacts_size').on('proxy_artifacts').columns(['repo_id', 'size']).execute();
      await db.schema
        .createTable('proxy_health')
        .addColumn('repo_id', 'integer', (c) => c.primaryKey().references('repos.id'))
        .addColumn('ok_at', millis)
        .addColumn('failed_at', millis)
        .addColumn('failure', 'text')
        .execute();
    },
  },
  {
    // The admin audit page filters by actor and by subject, newest first.
    name: '0010_audit_filters',
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('audit_log_user').on('audit_log').columns(['user_id', 'id']).execute();
      await db.schema.createIndex('audit_log_subject').on('audit_log').columns(['subject', 'id']).execute();
    },
  },
  {
    // Git views of a repo's documents (Cargo's git index): the paths changed since the view's last commit.
    name: '0011_git_view_pending',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('git_view_pending')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('path', 'text', notNull)
        .addColumn('changes', 'integer', notNull)
        .addPrimaryKeyConstraint('git_view_pending_pk', ['repo_id', 'path'])
        .execute();
    },
  },
  {
    // What an imported document was read from (size, times, inode of the file): a re-import of an unchanged tree
    // compares stats instead of reading every file again (issue 14). Any other write of the document clears it.
    name: '0012_index_doc_import_stat',
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('index_docs').addColumn('import_stat', 'text').execute();
    },
  },
  {
    // A publish upserts its search entry with the same name, description and keywords as the version before (a new
    // version of a crate): the full-text index is then rewritten only when one of them really changed (issue 14).
    name: '0013_search_fts_when_changed',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      if (dialect !== 'sqlite') return;
      const fields = (row: 'new' | 'old') => sql.raw(`${row}.id, ${row}.name, ${row}.description, ${row}.keywords`);
      const add = sql`insert into search_fts (rowid, name, description, keywords) values (${fields('new')});`;
      const drop = sql`insert into search_fts (search_fts, rowid, name, description, keywords) values ('delete', ${fields('old')});`;
      await sql`drop trigger search_entries_au`.execute(db);
      await sql`create trigger search_entries_au after update of name, description, keywords on search_entries
        when old.name is not new.name or old.description is not new.description or old.keywords is not new.keywords
        begin ${drop} ${add} end`.execute(db);
    },
  },
];
