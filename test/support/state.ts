/**
 * A whole-registry state snapshot for "nothing changed on refusal" assertions: every row of
 * every table (the tokens' last-use time and proxies' upstream health left out: reading a token may touch it, a failed
 * upstream fetch is recorded), every blob
 * file with its size, and what is left in the blob store's staging directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Registry } from '../../src/registry/registry.js';
import { expectNot5xx, within } from './arbitraries.js';
import { snapshotFiles } from './tmp.js';

export interface RegistryState {
  tables: Record<string, string[]>;
  blobFiles: Record<string, number>;
  tmpFiles: string[];
}

/** Columns a refused request may legitimately touch. */
const VOLATILE = new Set(['last_used_at']);
/**
 * Tables written beside requests, not by them: a proxy's upstream health records the failure it met (that is its job),
 * and a Julia listing's read stores its dependency-confusion check in the background (what the tarballs say, cached).
 */
const VOLATILE_TABLES = new Set(['proxy_health', 'julia_registry_checks']);

async function tableNames(registry: Registry): Promise<string[]> {
  const r = await sql<{
    name: string;
  }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' order by name`.execute(
    registry.db,
  );
  return r.rows.map((row) => row.name);
}

/** Every table's rows (as sorted JSON lines) and the blob store's files; equal before and after a refused request. SQLite only. */
export async function registryState(registry: Registry, data: string): Promise<RegistryState> {
  // Download counts are written in the background: flushed here, so a snapshot never races the timer, and a
  // refused request that counted a download shows up in the second snapshot.
  await registry.downloads.flush();
  const tables: Record<string, string[]> = {};
  for (const name of (await tableNames(registry)).filter((n) => !VOLATILE_TABLES.has(n))) {
    const r = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(registry.db);
    tables[name] = r.rows
      .map((row) =>
        JSON.stringify(
          Object.entries(row)
            .filter(([k]) => !VOLATILE.has(k))
            .map(([k, v]) => [k, Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v]),
        ),
      )
      .sort();
  }
  const blobs = path.join(data, 'blobs');
  const tmp = path.join(blobs, 'tmp');
  return { tables, blobFiles: snapshotFiles(blobs), tmpFiles: fs.existsSync(tmp) ? fs.readdirSync(tmp) : [] };
}

/**
 * Sends one request and checks the fuzz properties over HTTP: an answer within `ms`, never a 5xx,
 * and on a refusal (4xx) every table row and blob exactly as before. Returns the response.
 */
export async function sendChecked(
  t: { registry: Registry; data: string },
  send: () => Promise<LightMyRequestResponse>,
  what: string,
  ms = 15_000,
): Promise<LightMyRequestResponse> {
  const before = await registryState(t.registry, t.data);
  const res = await within(send(), ms, what);
  expectNot5xx(res, what);
  if (res.statusCode >= 400)
    expect(await registryState(t.registry, t.data), `${what} was refused (${res.statusCode}) but changed the registry`).toEqual(before);
  return res;
}
