/**
 * Signing in: a token (from `larder token create` or `larder serve`'s first start) is exchanged for a session
 * cookie. Before a session exists, the form's CSRF token is a double-submit cookie (login CSRF).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import * as cookie from 'cookie';
import { LarderError } from '../../core/errors.js';
import { closeSession, openSession } from '../../registry/sessions.js';
import type { WebContext } from '../context.js';
import { formOf, requireCsrf, sameSecret } from '../forms.js';
import { Layout } from '../layout.js';
import { sendPage } from '../render.js';
import { clearSessionCookie, isSecure, setSessionCookie, viewerOf, type Viewer } from '../viewer.js';

const SIGN_IN_CSRF_COOKIE = 'larder_sign_in';

export function SignInPage({ viewer, csrf, error, next }: { viewer: Viewer; csrf: string; error?: string; next: string }) {
  return (
    <Layout title="Sign in" viewer={viewer}>
      <h1>Sign in</h1>
      <p>
        Paste a Larder token. The administrator's first token is printed by <code>larder serve</code> on its first start; others come from{' '}
        <code>larder token create</code> or from this site's token page.
      </p>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      <form class="stack" method="post" action="/-/sign-in">
        <input type="hidden" name="_csrf" value={csrf} />
        <input type="hidden" name="next" value={next} />
        <label>
          Token
          <input type="password" name="token" autocomplete="current-password" required />
        </label>
        <div>
          <button type="submit">Sign in</button>
        </div>
      </form>
    </Layout>
  );
}

/** Only same-site paths are followed after signing in (never `//host` or a scheme). */
function safeNext(next: string | null): string {
  return next && /^\/(?![/\\])/.test(next) ? next : '/';
}

function signInForm(reply: FastifyReply, viewer: Viewer, next: string, error?: string, status = 200) {
  const csrf = randomBytes(24).toString('base64url');
  reply.header(
    'set-cookie',
    cookie.serialize(SIGN_IN_CSRF_COOKIE, csrf, {
      httpOnly: true,
      sameSite: 'strict',
      secure: viewer.secure,
      path: '/-/sign-in',
      maxAge: 3600,
    }),
  );
  reply.code(status);
  return sendPage(reply, <SignInPage viewer={viewer} csrf={csrf} error={error} next={next} />);
}

/** Registers sign-in and sign-out. */
export function signInRoutes(app: FastifyInstance, web: WebContext): void {
  app.get('/-/sign-in', async (req, reply) => {
    const viewer = await viewerOf(web.registry, req, reply);
    return signInForm(reply, viewer, safeNext(String((req.query as Record<string, unknown>).next ?? '')));
  });

  app.post('/-/sign-in', async (req, reply) => {
    const form = formOf(req.body);
    const expected = req.headers.cookie ? cookie.parse(req.headers.cookie)[SIGN_IN_CSRF_COOKIE] : undefined;
    if (!expected || !sameSecret(form.get('_csrf') ?? '', expected)) {
      throw new LarderError(
        'CSRF_INVALID',
        'this sign-in form is out of date or did not come from this site: reload the page and sign in again',
      );
    }
    const secure = isSecure(req, web.registry.config.publicUrl);
    const anonymous: Viewer = { principal: null, session: null, secure };
    const next = safeNext(form.get('next'));
    const token = (form.get('token') ?? '').trim();
    if (!token) return signInForm(reply, anonymous, next, 'Paste a token to sign in.', 400);
    let principal;
    try {
      principal = await web.registry.auth.authenticate(token);
    } catch (err) {
      if (err instanceof LarderError) return signInForm(reply, anonymous, next, err.message, err.status);
      throw err;
    }
    const row = await web.registry.auth.findToken(principal.tokenId);
    const { cookie: value, session } = await openSession(web.registry.db, principal.tokenId, row?.expires_at ?? null);
    setSessionCookie(reply, value, session.expiresAt, secure);
    return reply.code(303).header('location', next).send();
  });

  app.post('/-/sign-out', async (req, reply) => {
    const viewer = await viewerOf(web.registry, req, reply);
    requireCsrf(viewer, formOf(req.body));
    if (viewer.session) await closeSession(web.registry.db, viewer.session.id);
    clearSessionCookie(reply, viewer.secure);
    return reply.code(303).header('location', '/').send();
  });
}
