import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { LarderConfig } from '../core/config.js';
import { fail } from '../core/errors.js';
import { FsBlobStore, linkOrCopy } from '../storage/fs-blobs.js';
import { backupSqliteFile, blobRowsOf } from '../storage/sqlite-backup.js';
import type { Registry } from './registry.js';

/** The file that marks a directory as a complete backup; written last. */
export const MANIFEST = 'larder-backup.json';
const DB_FILE = 'larder.db';

export interface BackupManifest {
  kind: 'larder-backup';
  version: 1;
  createdAt: string;
  /** The SQLite database, relative to the backup directory. */
  database: string;
  blobs: { count: number; bytes: number; layout: 'blobs/sha256/ab/cd/<sha256>' };
  /** Whether DATA/tls (the local CA clients trust) is included. */
  tls: boolean;
}

export interface BackupResult {
  manifest: BackupManifest;
  linked: number;
  copied: number;
  /** Blobs the database references that the store does not have (the backup is then incomplete). */
  missing: string[];
}

const POSTGRES_HINT =
  'this Larder uses PostgreSQL, and `larder backup`/`restore` handle only the embedded SQLite database. Back up PostgreSQL with ' +
  '`pg_dump --format=custom --file larder.dump "$DATABASE_URL"` and then copy the blobs (`aws s3 sync s3://BUCKET/PREFIX DIR/blobs`, ' +
  'or DATA/blobs/sha256); restore with `pg_restore --clean --dbname "$DATABASE_URL" larder.dump` and the blobs copied back. ' +
  'Dump the database before copying the blobs: then every blob the dump references is in the copy. See README, "Backups"';

/** Refuses the PostgreSQL setup with the procedure that does work there. */
export function requireSqlite(config: LarderConfig): string {
  if (config.database.kind !== 'sqlite') fail('NOT_SUPPORTED', POSTGRES_HINT);
  return config.database.path;
}

/** True when `dir` does not exist or has nothing in it. */
function isEmptyDir(dir: string): boolean {
  return !fs.existsSync(dir) || fs.readdirSync(dir).length === 0;
}

function blobPath(root: string, sha256: string): string {
  return path.join(root, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

/**
 * Backs up a running registry into an empty `dir`: an online SQLite backup (a consistent snapshot
 * while the server writes), then every blob that snapshot references (hard-linked from an fs store
 * where possible), the TLS CA, and the manifest last. Blobs are committed before the rows that
 * reference them, so every blob the snapshot names exists by the time it is copied.
 */
export async function backupRegistry(registry: Registry, dir: string): Promise<BackupResult> {
  const dbPath = requireSqlite(registry.config);
  if (!isEmptyDir(dir)) fail('TARGET_NOT_EMPTY', `${dir} is not empty; back up into a new or empty directory`);
  await fsp.mkdir(dir, { recursive: true });
  await backupSqliteFile(dbPath, path.join(dir, DB_FILE));
  const rows = blobRowsOf(path.join(dir, DB_FILE));

  const result: BackupResult = { manifest: undefined as unknown as BackupManifest, linked: 0, copied: 0, missing: [] };
  let bytes = 0;
  for (const { sha256, size } of rows) {
    const dest = blobPath(dir, sha256);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    if (registry.blobs instanceof FsBlobStore) {
      const file = registry.blobs.fileOf(sha256);
      if (!fs.existsSync(file)) {
        result.missing.push(sha256);
        continue;
      }
      result[(await linkOrCopy(file, dest)) === 'linked' ? 'linked' : 'copied']++;
    } else {
      const handle = await registry.blobs.open(sha256);
      if (!handle) {
        result.missing.push(sha256);
        continue;
      }
      const out = fs.createWriteStream(dest);
      await handle.copyTo(out);
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      result.copied++;
    }
    bytes += size;
  }
  const tls = path.join(registry.config.data, 'tls');
  const hasTls = fs.existsSync(tls);
  if (hasTls) await fsp.cp(tls, path.join(dir, 'tls'), { recursive: true });
  result.manifest = {
    kind: 'larder-backup',
    version: 1,
    createdAt: new Date().toISOString(),
    database: DB_FILE,
    blobs: { count: rows.length - result.missing.length, bytes, layout: 'blobs/sha256/ab/cd/<sha256>' },
    tls: hasTls,
  };
  // Only a complete backup gets a manifest: restore refuses a directory without one.
  if (result.missing.length === 0) await fsp.writeFile(path.join(dir, MANIFEST), JSON.stringify(result.manifest, null, 2) + '\n');
  return result;
}

/** Reads and checks a backup's manifest. */
export function readManifest(dir: string): BackupManifest {
  const file = path.join(dir, MANIFEST);
  if (!fs.existsSync(file))
    fail('BACKUP_INVALID', `${dir} is not a complete Larder backup (it has no ${MANIFEST}); pass the directory \`larder backup\` wrote`);
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<BackupManifest>;
  if (m.kind !== 'larder-backup' || m.version !== 1 || typeof m.database !== 'string')
    fail('BACKUP_INVALID', `${file} is not a Larder backup manifest of a version this Larder reads (version 1)`);
  if (!fs.existsSync(path.join(dir, m.database))) fail('BACKUP_INVALID', `${dir} lacks its database ${m.database}`);
  return m as BackupManifest;
}

/**
 * First half of a restore, before the registry is opened: refuses a non-empty data directory,
 * then puts the database (a copy: it will change) and the TLS CA in place.
 */
export async function restoreDatabase(config: LarderConfig, dir: string): Promise<BackupManifest> {
  const manifest = readManifest(dir);
  const dbPath = requireSqlite(config);
  if (!isEmptyDir(config.data))
    fail(
      'TARGET_NOT_EMPTY',
      `the data directory ${config.data} is not empty; restore into a new directory (--data) so nothing is overwritten`,
    );
  if (fs.existsSync(dbPath))
    fail('TARGET_NOT_EMPTY', `the database ${dbPath} already exists; restore with a database path that does not exist yet`);
  await fsp.mkdir(config.data, { recursive: true });
  await fsp.mkdir(path.dirname(dbPath), { recursive: true });
  await fsp.copyFile(path.join(dir, manifest.database), dbPath);
  if (manifest.tls) await fsp.cp(path.join(dir, 'tls'), path.join(config.data, 'tls'), { recursive: true });
  return manifest;
}

/**
 * Second half of a restore, with the restored registry open: every blob its database references
 * goes into the configured store (hard links into an fs store, uploads to S3). Returns the count.
 */
export async function restoreBlobs(registry: Registry, dir: string): Promise<number> {
  const rows = await registry.db.selectFrom('blobs').select('sha256').orderBy('sha256').execute();
  for (const { sha256 } of rows) {
    const file = blobPath(dir, sha256);
    if (!fs.existsSync(file))
      fail('BACKUP_INVALID', `the backup lacks blob ${sha256}, which its database references; the backup is damaged`);
    if (registry.blobs instanceof FsBlobStore) {
      await registry.blobs.adopt(file, sha256);
    } else {
      const staged = await registry.blobs.stage(fs.createReadStream(file));
      if (staged.sha256 !== sha256) {
        await staged.discard();
        fail('BACKUP_INVALID', `blob ${sha256} in the backup is corrupt (it hashes to ${staged.sha256})`);
      }
      await staged.commit();
    }
  }
  return rows.length;
}
