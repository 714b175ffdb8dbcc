import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { permits } from '../../registry/auth.js';
import { plainErrorHandler, plainNotFound } from '../../http/api-errors.js';
import { readGate } from '../../http/gates.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { sendArtifact, sendDoc } from '../../http/send-doc.js';
import { publicBaseUrl } from '../../http/base-url.js';
import type { SourceDoc } from '../../registry/source.js';
import { bazelApiRoutes } from './api-routes.js';
import { bazelRegistryUrl } from './client-setup.js';
import { mirrorBaseUrl, mirrorKeyOfRequest, MIRROR_SEGMENT, withSelfMirror } from './mirror.js';
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
  // Never a Content-Encoding on archives: Bazel would decode them and the integrity check would fail.
  const archive = { contentType: 'application/octet-stream', cacheControl: 'public, max-age=31536000, immutable' };

  async function serve(req: FastifyRequest, reply: FastifyReply, path: string): Promise<FastifyReply> {
    const p = await principalFor(req);
    const file = classifyRegistryPath(path);
    const hidden = p && file && file.kind !== 'registry-json' && !permits(p, 'read', repo.name, file.module);
    const doc = file && !hidden ? await source.doc(path) : null;
    if (!file || !doc) throw new LarderError('NOT_FOUND', `${path} is not in registry ${repo.name}`);
    return sendDoc(req, reply, doc, { contentType: contentTypeOf(path), cacheControl: cacheControlOf(file) });
  }

  // bazel_registry.json tells Bazel where to look for source archives first. When this repo's source
  // fetches artifacts on a miss (a proxy, or a group with one), its mirror is listed first so archives
  // come through Larder, checked against their source.json. The mirror URL depends on the base URL of
  // the request, so this is a presentation step every request takes, decided by what the source can do
  // rather than by the repo's kind; a hosted repo's file, decided once at creation, is served as stored.
  let presented: { key: string; doc: SourceDoc | null } | undefined;
  app.get('/bazel_registry.json', async (req, reply) => {
    if (!source.fetchesArtifacts) return serve(req, reply, 'bazel_registry.json');
    await principalFor(req);
    const doc = await source.doc('bazel_registry.json');
    const selfMirror = mirrorBaseUrl(bazelRegistryUrl(publicBaseUrl(registry.config, req), repo));
    const key = `${selfMirror} ${doc?.etag ?? ''} ${doc?.stale ?? ''}`;
    if (presented?.key !== key) presented = { key, doc: withSelfMirror(doc, selfMirror) };
    if (!presented.doc) throw new LarderError('NOT_FOUND', `bazel_registry.json is not in registry ${repo.name}`);
    return sendDoc(req, reply, presented.doc, { contentType: 'application/json', cacheControl: cacheControlOf({ kind: 'registry-json' }) });
  });

  // The archive mirror (bazel.md §9.2 rule 4): `{mirror}/{host[:port]}/{path}[?query]`, answered only for
  // archives a source.json read through this repo promised (never an open proxy); a 404 sends Bazel on
  // to the archive's own URL.
  app.get(`/${MIRROR_SEGMENT}/*`, async (req, reply) => {
    await principalFor(req);
    const key = mirrorKeyOfRequest(req.url, repo.name);
    const found = key ? await source.artifact(key) : null;
    if (!found) {
      throw new LarderError(
        'NOT_FOUND',
        `registry ${repo.name} mirrors only source archives named by a source.json it served; no source.json fetched here names ${req.url}`,
      );
    }
    return sendArtifact(req, reply, found, archive);
  });

  // Hosted source archives, at the URL source.json names; Bazel sends the same credentials here.
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
