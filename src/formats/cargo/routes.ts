import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { LarderError, toLarderError } from '../../core/errors.js';
import { permits, requirePermission, type Principal, type Scope } from '../../registry/auth.js';
import { principalFromHeader } from '../../registry/credentials.js';
import { publicBaseUrl } from '../../http/base-url.js';
import { sendArtifact, sendDoc } from '../../http/send-doc.js';
import type { RouteContext } from '../../http/format-plugin.js';
import type { SourceDoc } from '../../registry/source.js';
import { crateKey } from './parts.js';
import { cargoRegistryConfig, cargoUrls, type CargoUrls } from './urls.js';
import { cargoRegistryName } from './client-setup.js';
import { loginPage } from './login-page.js';
import { crateNameFromIndexPath } from './names.js';
import { requireHosted } from '../../http/gates.js';
import { readPublishFrame } from './publish-frame.js';
import { CargoService } from './service.js';
import { cargoGitRoutes } from './git-routes.js';
import { INDEX_CACHE_CONTROL, INDEX_CONTENT_TYPE } from './presentation.js';

declare module 'fastify' {
  interface FastifyRequest {
    cargoPrincipal?: Principal | null;
  }
}

/** Cargo's sparse index and Web API for one hosted repo, mounted at `/{repo}`. */
export async function cargoRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  const { registry, repo, source } = ctx;
  const service = new CargoService(registry, repo);
  const isPrivate = repo.visibility === 'private';
  const urlsOf = (req: FastifyRequest): CargoUrls => cargoUrls(publicBaseUrl(registry.config, req), repo.name);

  /** The token's principal, or null when no credentials came with the request. */
  async function principalOf(req: FastifyRequest): Promise<Principal | null> {
    if (req.cargoPrincipal !== undefined) return req.cargoPrincipal;
    req.cargoPrincipal = await principalFromHeader(registry.auth, req.headers.authorization);
    return req.cargoPrincipal;
  }

  async function requireAuth(req: FastifyRequest): Promise<Principal> {
    const p = await principalOf(req);
    if (!p)
      throw new LarderError(
        'AUTH_REQUIRED',
        `this request needs a token: run \`cargo login --registry ${cargoRegistryName(repo)}\` with a token from ${urlsOf(req).api}/me`,
      );
    return p;
  }

  // Cargo renders `{"errors":[{"detail":…}]}` for any status; 401s also carry the challenge
  // whose login_url Cargo shows and passes to credential providers.
  app.setErrorHandler((err, req, reply) => {
    const e = toLarderError(err);
    if (e.status >= 500) req.log.error({ reqId: req.id, err }, 'cargo request failed');
    if (e.status === 401) reply.header('www-authenticate', `Cargo login_url="${urlsOf(req).api}/me"`);
    reply
      .headers(e.headers)
      .code(e.status)
      .type('application/json')
      .send({ errors: [{ detail: e.message }] });
  });
  // `cargo yank --undo` sends `Content-Type: application/json` with an empty body, which
  // Fastify's JSON parser rejects with a 400: treat an empty JSON body as no body.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') done(null, undefined);
    else jsonParser(req, body as string, done);
  });
  app.setNotFoundHandler(async (req, reply) => {
    if (isPrivate) await readGate(req);
    reply
      .code(404)
      .type('application/json')
      .send({ errors: [{ detail: `not found: ${req.method} ${req.url}` }] });
  });

  /** Private repos answer nothing, not even a 404, to a request without a read token. */
  async function readGate(req: FastifyRequest): Promise<void> {
    if (!isPrivate) return;
    const p = await requireAuth(req);
    requirePermission(p, 'read', repo.name);
  }

  app.get('/index/config.json', async (req, reply) => {
    await readGate(req);
    reply.header('cache-control', 'no-cache').type('application/json');
    return cargoRegistryConfig(urlsOf(req), isPrivate);
  });

  const indexFile = { contentType: INDEX_CONTENT_TYPE, cacheControl: INDEX_CACHE_CONTROL };
  /** Sends an index file, or 304 when the client's copy is current. */
  function sendIndexDoc(req: FastifyRequest, reply: FastifyReply, path: string, doc: SourceDoc | null): FastifyReply {
    if (!doc) throw new LarderError('PACKAGE_NOT_FOUND', `no crate at index path ${path}`);
    return sendDoc(req, reply, doc, indexFile);
  }

  // The hottest route: a cached public file is answered without a single await.
  app.get('/index/*', (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    if (!isPrivate) {
      const cached = crateNameFromIndexPath(path) ? source.peek(path) : null;
      if (cached !== undefined) return sendIndexDoc(req, reply, path, cached);
    }
    return (async () => {
      await readGate(req);
      const doc = crateNameFromIndexPath(path) ? await source.doc(path) : null;
      return sendIndexDoc(req, reply, path, doc);
    })();
  });

  const crateFile = {
    contentType: 'application/gzip',
    cacheControl: isPrivate ? 'private, max-age=31536000, immutable' : 'public, max-age=31536000, immutable',
  };
  app.get('/api/v1/crates/:crate/:version/download', async (req, reply) => {
    await readGate(req);
    const { crate, version } = req.params as { crate: string; version: string };
    const artifact = await source.artifact(crateKey(crate, version));
    if (!artifact) throw new LarderError('VERSION_NOT_FOUND', `crate \`${crate}\` has no version ${version} in this registry`);
    return sendArtifact(req, reply, artifact, crateFile);
  });

  app.get('/api/v1/crates', async (req) => {
    await readGate(req);
    const query = req.query as { q?: string; per_page?: string };
    const perPage = Math.min(100, Math.max(1, Number.parseInt(query.per_page ?? '10', 10) || 10));
    const { crates, total } = await service.search(query.q ?? '', perPage);
    return { crates, meta: { total } };
  });

  /**
   * The `onRequest` check of a write route: token and scope (for the crate the URL names, if it
   * names one) from the headers, before a byte of the body is read.
   */
  const writer = (scope: Scope) => async (req: FastifyRequest) => {
    requireHosted(repo);
    const p = await requireAuth(req);
    const crate = (req.params as { crate?: string }).crate;
    requirePermission(p, scope, repo.name, crate);
  };
  const writerOf = (req: FastifyRequest): Principal => req.cargoPrincipal!;

  app.delete('/api/v1/crates/:crate/:version/yank', { onRequest: writer('yank') }, async (req) => {
    const { crate, version } = req.params as { crate: string; version: string };
    await service.setYanked(writerOf(req), crate, version, true);
    return { ok: true };
  });

  app.put('/api/v1/crates/:crate/:version/unyank', { onRequest: writer('yank') }, async (req) => {
    const { crate, version } = req.params as { crate: string; version: string };
    await service.setYanked(writerOf(req), crate, version, false);
    return { ok: true };
  });

  app.get('/api/v1/crates/:crate/owners', async (req) => {
    await readGate(req);
    return { users: await service.listOwners((req.params as { crate: string }).crate) };
  });

  for (const [method, add] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/api/v1/crates/:crate/owners',
      onRequest: writer('owners'),
      handler: async (req) => {
        const p = writerOf(req);
        const body = req.body as { users?: unknown } | undefined;
        const msg = await service.changeOwners(p, (req.params as { crate: string }).crate, body?.users, add);
        return { ok: true, msg };
      },
    });
  }

  // Publish streams its body: Cargo ≤ 1.95 sends no Content-Type at all, so the route takes
  // any (or none) and reads the binary frame itself with its own size limits.
  await app.register(async (publish) => {
    publish.removeAllContentTypeParsers();
    publish.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    publish.put('/api/v1/crates/new', { onRequest: writer('publish') }, async (req) => {
      const p = writerOf(req);
      const { limits } = registry.config;
      const length = req.headers['content-length'] ? Number(req.headers['content-length']) : undefined;
      // A body-less PUT without Content-Type skips every parser (req.body undefined): read the raw, empty stream.
      const frame = await readPublishFrame(
        (req.body ?? req.raw) as Readable,
        { maxMetadataSize: limits.maxMetadataSize, maxCrateSize: limits.maxCrateSize },
        length,
      );
      const urls = urlsOf(req);
      await service.publish(p, frame, [urls.sparseIndex, urls.index, urls.gitIndex]);
      return { warnings: { invalid_categories: [], invalid_badges: [], other: [] } };
    });
  });

  // The same index as a git repository (`index = "…/git/index"` without sparse+).
  await cargoGitRoutes(app, ctx);

  app.get('/me', async (req, reply) => {
    const p = await principalOf(req).catch(() => null);
    reply.type('text/html; charset=utf-8');
    return loginPage(repo, urlsOf(req), p && permits(p, 'read', repo.name) ? p.login : null);
  });
}
