import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { permits } from '../../registry/auth.js';
import { plainErrorHandler, plainNotFound } from '../../http/api-errors.js';
import { readGate } from '../../http/gates.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { sendArtifact, sendDoc } from '../../http/send-doc.js';
import { bazelApiRoutes } from './api-routes.js';
import { cacheControlOf, classifyRegistryPath, contentTypeOf } from './paths.js';
import { hostedArchiveKey } from './parts.js';

/**
 * A hosted Bazel index registry, mounted at `/{repo}`: static files, byte for byte. Bazel
 * treats 404 as "try the next --registry" and nearly everything else as fatal, so every
 * "not here" is a 404, including modules a token may not see.
 */
export async function bazelRoutes(app: FastifyInstance, { registry, repo, source }: RouteContext): Promise<void> {
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
    const doc = file && !hidden ? await source.doc(path) : null;
    if (!file || !doc) throw new LarderError('NOT_FOUND', `${path} is not in registry ${repo.name}`);
    return sendDoc(req, reply, doc, { contentType: contentTypeOf(path), cacheControl: cacheControlOf(file) });
  }

  app.get('/bazel_registry.json', (req, reply) => serve(req, reply, 'bazel_registry.json'));

  // Hosted source archives, at the URL source.json names; Bazel sends the same credentials here.
  const archive = { contentType: 'application/octet-stream', cacheControl: 'public, max-age=31536000, immutable' };
  app.get('/archives/:module/:version/:file', async (req, reply) => {
    const p = await principalFor(req);
    const { module, version, file } = req.params as { module: string; version: string; file: string };
    const visible = !p || permits(p, 'read', repo.name, module);
    const found = visible ? await source.artifact(hostedArchiveKey(module, version, file)) : null;
    if (!found) throw new LarderError('NOT_FOUND', `no archive ${file} for ${module}@${version}`);
    // Never a Content-Encoding: Bazel would decode it and the integrity check would fail.
    return sendArtifact(req, reply, found, archive);
  });

  await app.register(bazelApiRoutes, { registry, repo });
  app.get('/modules/*', (req, reply) => serve(req, reply, `modules/${(req.params as { '*': string })['*']}`));
}
