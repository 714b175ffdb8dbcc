import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { permits } from '../../registry/auth.js';
import { etagMatches } from '../../registry/conditional.js';
import { plainErrorHandler, plainNotFound } from '../../registry/api-errors.js';
import { readGate } from '../../registry/credentials.js';
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
  // .netrc sends Basic (the token as the password), credential helpers send Bearer.
  const principalFor = readGate(
    registry.auth,
    repo,
    'put a token in ~/.netrc (machine <host> login <you> password <token>) or use a credential helper',
  );
  app.setErrorHandler(plainErrorHandler('bazel request', `Basic realm="larder ${repo.name}"`));
  app.setNotFoundHandler(plainNotFound(principalFor));

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
      ? await db
          .selectFrom('bazel_archives')
          .select(['sha256', 'size'])
          .where('repo_id', '=', repo.id)
          .where('module', '=', module)
          .where('version', '=', version)
          .where('file_name', '=', file)
          .executeTakeFirst()
      : undefined;
    const blob = row ? await registry.blobs.open(row.sha256) : null;
    if (!row || !blob) throw new LarderError('NOT_FOUND', `no archive ${file} for ${module}@${version}`);
    // Never a Content-Encoding: Bazel would decode it and the integrity check would fail.
    reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('etag', `"${row.sha256}"`);
    return sendBlob(req, reply, blob);
  });

  await app.register(bazelApiRoutes, { registry, repo });
  app.get('/modules/*', (req, reply) => serve(req, reply, `modules/${(req.params as { '*': string })['*']}`));
}
