/**
 * The registry password of a Brioche repo (protocols/brioche.md §2.4): brioche sends
 * `Authorization: Basic admin:<BRIOCHE_REGISTRY_PASSWORD>`, checked against an argon2id PHC string
 * kept in `brioche_settings`. The password acts as an admin of that one repo.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { LRUCache } from 'lru-cache';
import { fail } from '../../core/errors.js';
import { audit } from '../../registry/audit.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import { briocheDb } from './store.js';
import { importCjs } from '../../core/cjs.js';

/** OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): a verify costs tens of milliseconds. */
const PARAMS = { parallelism: 1, iterations: 2, memorySize: 19456, hashLength: 32 } as const;

/** Passwords shorter than this are refused by `larder brioche set-password`. */
export const MIN_PASSWORD_LENGTH = 12;

/** The argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of a password, with a random 16-byte salt. */
export async function hashPassword(password: string): Promise<string> {
  // hash-wasm loads when a password is set, not at every start (issue 14).
  const { argon2id } = await importCjs(import('hash-wasm'));
  return argon2id({ ...PARAMS, password, salt: randomBytes(16), outputType: 'encoded' });
}

// brioche sends the password on every request (GETs of a private repo too): an argon2 verify each
// time would cost tens of milliseconds per tag lookup, so successes are remembered by a digest of
// (PHC string, password), which a changed password no longer matches. The PHC string itself is read from the
// database on every request (one primary-key lookup), so a password changed through any node applies on all of them.
const verified = new LRUCache<string, true>({ max: 256, ttl: 10 * 60_000 });

// One argon2 verify in hash-wasm takes ~0.2 s of CPU: done on the event loop it would stall every
// request, and a stream of wrong passwords would stall the server. A worker thread runs them one at a
// time; past MAX_QUEUED waiting checks a request is refused (503) rather than queued.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { argon2Verify } = require(workerData.hashWasm);
parentPort.on('message', async ({ id, password, hash }) => {
  let ok = false;
  try { ok = await argon2Verify({ password, hash }); } catch {}
  parentPort.postMessage({ id, ok });
});`;
const MAX_QUEUED = 32;
let worker: Worker | null = null;
let nextId = 0;
const waiting = new Map<number, { resolve: (ok: boolean) => void; reject: (err: Error) => void }>();

function verifier(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { hashWasm: createRequire(import.meta.url).resolve('hash-wasm') } });
  w.unref();
  w.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
    waiting.get(id)?.resolve(ok);
    waiting.delete(id);
  });
  const lost = (err: Error) => {
    if (worker === w) worker = null;
    for (const { reject } of waiting.values()) reject(err);
    waiting.clear();
  };
  w.on('error', lost);
  w.on('exit', () => lost(new Error('the password worker stopped')));
  worker = w;
  return w;
}

/** Whether `password` matches a PHC string (checked in a worker thread); false for a malformed one. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  const memo = createHash('sha256').update(phc).update('\0').update(password).digest('hex');
  if (verified.has(memo)) return true;
  if (waiting.size >= MAX_QUEUED) fail('UNAVAILABLE', 'too many registry password checks at once; try again shortly');
  const id = nextId++;
  const w = verifier();
  const ok = await new Promise<boolean>((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    w.postMessage({ id, password, hash: phc });
  });
  if (ok) verified.set(memo, true);
  return ok;
}

/** The repo's password hash, or null when none is set. */
export async function repoPasswordHash(registry: Registry, repo: Pick<Repo, 'id'>): Promise<string | null> {
  const row = await briocheDb(registry)
    .selectFrom('brioche_settings')
    .select('password_hash')
    .where('repo_id', '=', repo.id)
    .executeTakeFirst();
  return row?.password_hash ?? null;
}

/** Refuses a repo that has no registry password: another format, or a proxy/group (they take no tag updates). */
export function checkPasswordRepo(repo: Repo): void {
  if (repo.format !== 'brioche')
    fail('NOT_SUPPORTED', `${repo.name} is a ${repo.format} repository; only Brioche repositories have a password`);
  if (repo.kind !== 'hosted')
    fail('REPO_READ_ONLY', `${repo.name} is a ${repo.kind} repository and takes no tag updates; set the password of a hosted repository`);
}

/** Sets (or with null, removes) the repo's registry password, audited as done by the server's operator. */
export async function setRepoPassword(registry: Registry, repo: Repo, password: string | null): Promise<void> {
  checkPasswordRepo(repo);
  if (password !== null && password.length < MIN_PASSWORD_LENGTH)
    fail('METADATA_INVALID', `the password is too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
  const hash = password === null ? null : await hashPassword(password);
  await inTransaction(registry, async ({ trx }) => {
    const db = trx.withTables<import('./store.js').BriocheTables>();
    const now = Date.now();
    await db
      .insertInto('brioche_settings')
      .values({ repo_id: repo.id, password_hash: hash, updated_at: now })
      .onConflict((oc) => oc.column('repo_id').doUpdateSet({ password_hash: hash, updated_at: now }))
      .execute();
    await audit(trx, {
      userId: null,
      repoId: repo.id,
      action: hash ? 'brioche.password.set' : 'brioche.password.clear',
      subject: repo.name,
    });
  });
}
