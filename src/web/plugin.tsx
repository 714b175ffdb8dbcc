/**
 * The web UI (issue 12): server-rendered pages at `/` and under `/-/`, one encapsulated Fastify scope with its
 * own form parser and an error handler that answers in HTML. Formats contribute package pages through
 * `FormatCore.web`; nothing here knows a format.
 */
import type { FastifyInstance } from 'fastify';
import { toLarderError } from '../core/errors.js';
import type { Registry } from '../registry/registry.js';
import { ASSETS } from './assets/index.js';
import { webContext, type WebContext } from './context.js';
import { acceptForms } from './forms.js';
import { adminAuditRoute } from './pages/admin-audit.js';
import { adminReposRoute } from './pages/admin-repos.js';
import { adminUsersRoutes } from './pages/admin-users.js';
import { ErrorPage } from './pages/error.js';
import { homeRoute } from './pages/home.js';
import { myPackagesRoute } from './pages/my-packages.js';
import { packageRoute } from './pages/package.js';
import { repoRoute } from './pages/repo.js';
import { searchRoute } from './pages/search.js';
import { signInRoutes } from './pages/sign-in.js';
import { tokenRevokeRoutes } from './pages/token-revoke.js';
import { tokensRoutes } from './pages/tokens.js';
import { sendPage } from './render.js';
import type { Viewer } from './viewer.js';

/** Every part of the UI registers through this list, so a new page is one more entry. */
const PAGES: Array<(app: FastifyInstance, web: WebContext) => void> = [
  homeRoute,
  searchRoute,
  repoRoute,
  packageRoute,
  signInRoutes,
  tokensRoutes,
  tokenRevokeRoutes,
  myPackagesRoute,
  adminUsersRoutes,
  adminReposRoute,
  adminAuditRoute,
];

/** Registers the UI's pages and assets. */
export async function webRoutes(app: FastifyInstance, { registry }: { registry: Registry }): Promise<void> {
  const web = webContext(registry);
  acceptForms(app);
  app.setErrorHandler((err, req, reply) => {
    const e = toLarderError(err);
    if (e.status >= 500) req.log.error({ err, reqId: req.id }, 'web page failed');
    // The viewer is not re-read here: an error page shows no account links, and cannot fail itself.
    const viewer: Viewer = { principal: null, session: null, secure: req.protocol === 'https' };
    reply.code(e.status);
    return sendPage(reply, <ErrorPage viewer={viewer} status={e.status} message={e.message} />);
  });

  app.get('/-/static/:file', async (req, reply) => {
    const asset = ASSETS.get((req.params as { file: string }).file);
    if (!asset)
      return reply.code(404).type('text/plain; charset=utf-8').send('no such asset (the page that named it is older than this server)');
    return reply
      .type(asset.type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(asset.body);
  });

  for (const page of PAGES) page(app, web);
}
