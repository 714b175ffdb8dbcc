import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError, toLarderError } from '../../core/errors.js';
import { permits, type Principal } from '../../registry/auth.js';
import { etagMatches } from '../../registry/conditional.js';
import { principalFromHeader } from '../../registry/credentials.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Kysely } from 'kysely';
import { sendBlob } from '../../registry/send-blob.js';
import type { Database } from '../../storage/schema.js';
import { bazelApiRoutes } from './api-routes.js';
import { cacheControlOf, classifyRegistryPath, contentTypeOf } from './paths.js';
import type { BazelTables } from './schema.js';

/**
 * A hosted Bazel index registry, mounted at `/{repo}`: static files, byte for byte. Bazel
 * treats 404 as "try the next --registry" and nearly everything else as fatal, so every
 * "not here" is a 404, including modules a token may not see.
 */
export async function bazelRoutes(app: FastifyInstance, { registry, repo }: { registry: Registry; repo: Repo }): Promise<void> {
  if (repo.kind !== 'hosted') {
    throw new LarderError('CONFIG_INVALID', `repository "${repo.name}": bazel ${repo.kind} repositories are not available yet; use kind = "hosted"`);
  }
  const isPrivate = repo.visibility === 'private';

  app.setErrorHandler((err, req, reply) => {
    const e = toLarderError(err);
    if (e.status >= 500) req.log.error({ reqId: req.id, err }, 'bazel request failed');
    // What .netrc (Basic) and credential helpers (Bearer) answer to.
    if (e.status === 401) reply.header('www-authenticate', `Basic realm="larder ${repo.name}"`);
    reply.headers(e.headers).code(e.status).header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send(`${e.message}\n`);
  });
  app.setNotFoundHandler(async (req, reply) => {
    await principalFor(req);
    reply.code(404).header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send(`not found: ${req.url}\n`);
  });

  /** A private repo's reader; null for a public repo. Throws 401 for missing or bad credentials. */
  async function principalFor(req: FastifyRequest): Promise<Principal | null> {
    if (!isPrivate) return null;
    const p = await principalFromHeader(registry.auth, req.headers.authorization);
    if (!p) throw new LarderError('AUTH_REQUIRED', `registry ${repo.name} is private: put a token in ~/.netrc (machine <host> login <you> password <token>) or use a credential helper`);
    if (!permits(p, 'read', repo.name)) throw new LarderError('REPO_NOT_PERMITTED', `this token may not read registry ${repo.name}`);
    return p;
  }

  async function serve(req: FastifyRequest, reply: FastifyReply, path: string): Promise<FastifyReply> {
    const p = await principalFor(req);
    const file = classifyRegistryPath(path);
    const hidden = p && file && file.kind !== 'registry-json' && !permits(p, 'read', repo.name, file.module);
    const doc = file && !hidden ? await registry.docs.get(repo.id, path) : null;
    if (!file || !doc) throw new LarderError('NOT_FOUND', `${path} is not in registry ${repo.name}`);
    reply
      .header('etag', doc.etag)
      .header('last-modified', doc.lastModified)
      .header('cache-control', cacheControlOf(file))
      .type(contentTypeOf(path));
    if (etagMatches(req.headers['if-none-match'], doc.etag)) return reply.code(304).send();
    return reply.send(doc.body);
  }

  app.get('/bazel_registry.json', (req, reply) => serve(req, reply, 'bazel_registry.json'));

  // Hosted source archives, at the URL source.json names; Bazel sends the same credentials here.
  const db = registry.db.withTables<BazelTables>() as Kysely<Database & BazelTables>;
  app.get('/archives/:module/:version/:file', async (req, reply) => {
    const p = await principalFor(req);
    const { module, version, file } = req.params as { module: string; version: string; file: string };
    const visible = !p || permits(p, 'read', repo.name, module);
    const row = visible
      ? await db.selectFrom('bazel_archives').select(['sha256', 'size']).where('repo_id', '=', repo.id).where('module', '=', module).where('version', '=', version).where('file_name', '=', file).executeTakeFirst()
      : undefined;
    const blob = row ? await registry.blobs.open(row.sha256) : null;
    if (!row || !blob) throw new LarderError('NOT_FOUND', `no archive ${file} for ${module}@${version}`);
    // Never a Content-Encoding: Bazel would decode it and the integrity check would fail.
    reply.header('content-type', 'application/octet-stream').header('cache-control', 'public, max-age=31536000, immutable').header('etag', `"${row.sha256}"`);
    return sendBlob(req, reply, blob);
  });

  await app.register(bazelApiRoutes, { registry, repo });
  app.get('/modules/*', (req, reply) => serve(req, reply, `modules/${(req.params as { '*': string })['*']}`));
}
