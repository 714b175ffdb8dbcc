import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { permits } from '../../registry/auth.js';
import { plainErrorHandler, plainNotFound } from '../../http/api-errors.js';
import { readGate } from '../../http/gates.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { sendArtifact, sendDoc } from '../../http/send-doc.js';
import { juliaApiRoutes } from './api-routes.js';
import { acceptGitBodies } from '../../http/git-smart.js';
import { serveGit } from './git-view.js';
import { REGISTRIES_DOC, TREE_HASH, UUID } from './ids.js';
import { REGISTRIES_PATHS, REGISTRIES_PRESENTATION, TARBALL_PRESENTATION } from './presentation.js';
import { noteRegistryConflicts } from './registry-conflict-notes.js';

/**
 * The Pkg server protocol for one hosted Julia repo, mounted at `/{repo}` (the JULIA_PKG_SERVER
 * base): `/registries`, and registry, package and artifact tarballs by tree hash. Anything
 * unknown is a fast 404, so Pkg falls back to its other sources.
 */
export async function juliaRoutes(app: FastifyInstance, { registry, repo, source }: RouteContext): Promise<void> {
  // Pkg sends `Authorization: Bearer <token>` from auth.toml on every request.
  const reader = readGate(registry.auth, repo, 'put access_token = "<token>" in ~/.julia/servers/<host>/auth.toml');
  app.setErrorHandler(plainErrorHandler('julia request'));
  app.setNotFoundHandler(plainNotFound(reader));

  for (const name of REGISTRIES_PATHS) {
    app.get(`/${name}`, async (req, reply) => {
      await reader(req);
      const doc = await source.doc(REGISTRIES_DOC);
      // No registry yet: an empty list (Pkg then carries on without this server's registries).
      if (!doc) return reply.header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send(Buffer.alloc(0));
      // Registries listed together that share a package without trusting each other: logged and counted, as Pkg warns.
      noteRegistryConflicts(registry, repo, source, doc);
      return sendDoc(req, reply, doc, REGISTRIES_PRESENTATION);
    });
  }

  /** A tarball by kind and tree hash; never a Content-Encoding (Pkg sniffs the gzip magic itself). */
  async function tarball(
    req: FastifyRequest,
    reply: import('fastify').FastifyReply,
    kind: 'registry' | 'package' | 'artifact',
    uuid: string,
    hash: string,
  ) {
    const p = await reader(req);
    if ((kind !== 'artifact' && !UUID.test(uuid)) || !TREE_HASH.test(hash)) throw new LarderError('NOT_FOUND', `not found: ${req.url}`);
    const found =
      p && !permits(p, 'read', repo.name)
        ? null
        : await source.artifact(kind === 'artifact' ? `artifact/${hash}` : `${kind}/${uuid}/${hash}`);
    if (!found) throw new LarderError('NOT_FOUND', `no ${kind} with tree ${hash} here`);
    return sendArtifact(req, reply, found, TARBALL_PRESENTATION);
  }

  app.get('/registry/:uuid/:hash', (req, reply) => {
    const { uuid, hash } = req.params as { uuid: string; hash: string };
    return tarball(req, reply, 'registry', uuid, hash);
  });
  app.get('/package/:uuid/:hash', (req, reply) => {
    const { uuid, hash } = req.params as { uuid: string; hash: string };
    return tarball(req, reply, 'package', uuid, hash);
  });
  app.get('/artifact/:hash', (req, reply) => tarball(req, reply, 'artifact', '', (req.params as { hash: string }).hash));

  // The registry as git (smart HTTP, clone and fetch), for `registry add https://host/<repo>/<Name>.git`.
  await app.register(async (git) => {
    acceptGitBodies(git);
    const handler = async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
      await reader(req);
      const { reg, '*': rest } = req.params as { reg: string; '*': string };
      return serveGit(registry, repo, req, reply, reg, rest);
    };
    git.get('/:reg.git/*', handler);
    git.post('/:reg.git/*', handler);
  });

  await app.register(juliaApiRoutes, { registry, repo });
}
