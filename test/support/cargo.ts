/**
 * Builders for what `cargo publish` sends: the `.crate` (gzip tar), the NewCrate metadata JSON,
 * and the binary publish frame of cargo.md §8.2. Plus small helpers shared by the Cargo protocol
 * tests (storage snapshots for "nothing changed" assertions).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TokenRequest } from '../../src/registry/auth.js';
import type { Registry } from '../../src/registry/registry.js';
import { snapshotFiles } from './tmp.js';

import { tarGz, type TarEntry } from './archives.js';

export { tarball, tarGz, type TarEntry } from './archives.js';

/** The normalised Cargo.toml `cargo package` puts into a .crate. */
export function cargoToml(name: string, version: string, extra = ''): string {
  return `[package]\nedition = "2021"\nname = "${name}"\nversion = "${version}"\n${extra}`;
}

export interface CrateSpec {
  name: string;
  vers: string;
  /** Extra files, relative to `{name}-{vers}/`. */
  files?: Record<string, string | Buffer>;
  /** Cargo.toml text to use instead of the generated one; null leaves Cargo.toml out. */
  manifest?: string | null;
  /** Raw entries appended as given (full paths, any type): for hostile archives. */
  entries?: TarEntry[];
}

/** A .crate the way `cargo package` lays it out: everything under `{name}-{vers}/`. */
export async function makeCrate(spec: CrateSpec): Promise<Buffer> {
  const root = `${spec.name}-${spec.vers}`;
  const entries: TarEntry[] = [{ name: `${root}/`, type: 'directory' }];
  if (spec.manifest !== null) entries.push({ name: `${root}/Cargo.toml`, body: spec.manifest ?? cargoToml(spec.name, spec.vers) });
  entries.push({ name: `${root}/Cargo.toml.orig`, body: cargoToml(spec.name, spec.vers) });
  entries.push({ name: `${root}/src/lib.rs`, body: `//! ${spec.name} ${spec.vers}\npub fn hello() -> &'static str { "${spec.name}" }\n` });
  for (const [file, body] of Object.entries(spec.files ?? {})) entries.push({ name: `${root}/${file}`, body });
  entries.push(...(spec.entries ?? []));
  return tarGz(entries);
}

/** A dependency as `cargo publish` sends it (NewCrateDependency), keys in Cargo's order. */
export interface NewCrateDep {
  optional: boolean;
  default_features: boolean;
  name: string;
  features: string[];
  version_req: string;
  target: string | null;
  kind: string;
  registry?: string;
  explicit_name_in_toml?: string;
  [key: string]: unknown;
}

/** A dependency with Cargo's defaults; `extra` overrides or adds fields. */
export function newDep(name: string, versionReq = '^1', extra: Partial<NewCrateDep> = {}): NewCrateDep {
  return { optional: false, default_features: true, name, features: [], version_req: versionReq, target: null, kind: 'normal', ...extra };
}

/** The publish metadata (NewCrate) with Cargo's keys in Cargo's order and sensible defaults. */
export function newCrateJson(fields: { name: string; vers: string } & Record<string, unknown>): Record<string, unknown> {
  const { name, vers, ...rest } = fields;
  return {
    name,
    vers,
    deps: [],
    features: {},
    authors: ['Test Author <test@example.com>'],
    description: `the ${fields.name} crate`,
    documentation: null,
    homepage: null,
    readme: null,
    readme_file: null,
    keywords: [],
    categories: [],
    license: 'MIT',
    license_file: null,
    repository: null,
    badges: {},
    links: null,
    rust_version: null,
    ...rest,
  };
}

export function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/**
 * The publish body: u32le json_len, the metadata JSON, u32le crate_len, the .crate.
 * `meta` may be an object (serialised), or a string/Buffer sent verbatim (for invalid JSON).
 */
export function publishBody(meta: object | string | Buffer, crate: Buffer): Buffer {
  const json = Buffer.isBuffer(meta) ? meta : Buffer.from(typeof meta === 'string' ? meta : JSON.stringify(meta), 'utf8');
  return Buffer.concat([u32le(json.length), json, u32le(crate.length), crate]);
}

/** A valid publish body for `name@vers` in one call. */
export async function simplePublishBody(
  name: string,
  vers: string,
  meta: Record<string, unknown> = {},
  crate: Partial<CrateSpec> = {},
): Promise<{ body: Buffer; crate: Buffer; meta: Record<string, unknown> }> {
  const m = newCrateJson({ name, vers, ...meta });
  const c = await makeCrate({ name, vers, ...crate });
  return { body: publishBody(m, c), crate: c, meta: m };
}

export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface StorageState {
  rows: Record<string, number>;
  blobFiles: Record<string, number>;
  tmpFiles: string[];
  indexDocs: Array<{ path: string; etag: string }>;
}

const COUNTED_TABLES = ['cargo_crates', 'cargo_versions', 'package_owners', 'blobs', 'audit_log'] as const;

/**
 * Row counts, the cargo repo's index document etags and the blob store's files: equal before
 * and after a refused request.
 */
export async function storageState(registry: Registry, data: string): Promise<StorageState> {
  const rows: Record<string, number> = {};
  for (const table of COUNTED_TABLES) {
    const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(registry.db);
    rows[table] = Number(r.rows[0].n);
  }
  const cargoRepo = registry.repos.get('cargo')!.id;
  const docs = await registry.db
    .selectFrom('index_docs')
    .select(['path', 'etag'])
    .where('repo_id', '=', cargoRepo)
    .orderBy('path')
    .execute();
  rows.index_docs = docs.length;
  const blobs = path.join(data, 'blobs');
  const tmp = path.join(blobs, 'tmp');
  return { rows, blobFiles: snapshotFiles(blobs), tmpFiles: Object.keys(snapshotFiles(tmp)), indexDocs: docs };
}

/**
 * Asserts a response is a Cargo error: the status, `{"errors":[{"detail": string}]}` with exactly
 * one non-empty detail (matching `detail` when given), JSON content type. Returns the detail.
 */
export function expectCargoError(res: LightMyRequestResponse, status: number, detail?: RegExp | string): string {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { errors?: Array<{ detail?: unknown }> };
  expect(Object.keys(body)).toEqual(['errors']);
  expect(body.errors).toHaveLength(1);
  const text = body.errors![0].detail;
  expect(typeof text).toBe('string');
  expect((text as string).length).toBeGreaterThan(10);
  if (detail !== undefined) expect(text).toMatch(detail);
  return text as string;
}

/** Creates the user when missing, then a token for it. */
export async function tokenFor(
  registry: Registry,
  login: string,
  request: Omit<TokenRequest, 'login'> & { userName?: string },
): Promise<string> {
  const { userName, ...rest } = request;
  if (!(await registry.auth.findUser(login))) await registry.auth.createUser(login, { name: userName ?? null });
  return (await registry.auth.createToken({ login, ...rest })).token;
}
