import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { publicBaseUrl } from './base-url.js';
import type { Registry } from '../registry/registry.js';
import { apiUsersRoutes } from './api-users.js';
import { ownersApiRoutes } from './api-owners.js';
import type { Shutdown } from './graceful.js';

// A database that takes longer than this to answer `select 1` makes the node not ready.
const READY_QUERY_MS = 2_000;

// A blob store check is a network request (HeadBucket): health checks every second or two share one.
const BLOB_CHECK_CACHE_MS = 5_000;

/** 'ok', or why the blob store cannot be used, checked at most every BLOB_CHECK_CACHE_MS. */
function blobStoreState(registry: Registry): () => Promise<string> {
  let last: { at: number; state: Promise<string> } | null = null;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > BLOB_CHECK_CACHE_MS) {
      last = {
        at: now,
        state: registry.blobs.check().then(
          () => 'ok',
          (err: unknown) => (err as Error).message,
        ),
      };
    }
    return last.state;
  };
}

/** Why the database is not usable now, or null: `select 1` within READY_QUERY_MS. */
async function databaseProblem(registry: Registry): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the database did not answer within ${READY_QUERY_MS} ms`), READY_QUERY_MS);
  });
  const answer = sql`select 1`.execute(registry.db).then(
    () => null,
    (err: unknown) => (err as Error).message,
  );
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Larder's own routes: health, readiness, metrics, and the repository list. */
export async function adminRoutes(app: FastifyInstance, { registry, shutdown }: { registry: Registry; shutdown: Shutdown }): Promise<void> {
  await app.register(apiUsersRoutes, { registry });
  app.get('/-/healthz', async () => ({ status: 'ok' }));

  // Ready = worth sending requests to: not shutting down, the database answers, and other nodes'
  // changes reach this node's caches. /-/healthz stays 200 meanwhile (the process is alive and
  // serves what it has cached), so a load balancer can still fall back to it.
  // The blob store does not decide readiness (every node shares it: taking all out helps nobody), but is shown.
  const blobs = blobStoreState(registry);
  app.get('/-/readyz', async (_req, reply) => {
    const notifications = registry.changes.listening ? 'listening' : 'reconnecting';
    const base = { database: registry.dialect, notifications, blobs: await blobs() };
    if (shutdown.draining) return reply.code(503).send({ status: 'draining', ...base });
    const problem =
      (await databaseProblem(registry)) ?? (registry.changes.listening ? null : 'notifications from other nodes are not arriving');
    if (problem) return reply.code(503).send({ status: 'unavailable', ...base, error: problem });
    return { status: 'ready', ...base };
  });

  app.get('/-/metrics', async (_req, reply) => {
    const exposition = await registry.metrics.exposition();
    reply.type(exposition.contentType);
    return exposition.metrics();
  });

  await app.register(ownersApiRoutes, { registry });

  app.get('/-/api/repos', async (req) => {
    const base = publicBaseUrl(registry.config, req);
    return {
      repos: [...registry.repos.values()].map((repo) => {
        const setup = registry.formats.get(repo.format)?.clientSetup(repo, base, {});
        return { name: repo.name, format: repo.format, kind: repo.kind, visibility: repo.visibility, url: setup?.url ?? null };
      }),
    };
  });
}
