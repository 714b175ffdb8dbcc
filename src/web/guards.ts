/**
 * Who may open the signed-in and admin pages. A page for signed-in viewers sends anybody else to the sign-in form
 * (which comes back after); an admin page refuses a signed-in viewer without the `admin` scope with 403 before
 * anything is read, so nothing of it is rendered. Form posts check their CSRF token first of all.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../registry/auth.js';
import type { Session } from '../registry/sessions.js';
import { requireAdmin } from '../registry/token-policy.js';
import type { WebContext } from './context.js';
import { formOf, requireCsrf } from './forms.js';
import { viewerOf, type Viewer } from './viewer.js';

/** A viewer with a live session. */
export type SignedInViewer = Viewer & { principal: Principal; session: Session };

function isSignedIn(viewer: Viewer): viewer is SignedInViewer {
  return viewer.principal !== null && viewer.session !== null;
}

/** The signed-in viewer of a GET page, or null after redirecting to the sign-in form (which returns to this URL). */
export async function signedInViewer(web: WebContext, req: FastifyRequest, reply: FastifyReply): Promise<SignedInViewer | null> {
  const viewer = await viewerOf(web.registry, req, reply);
  if (isSignedIn(viewer)) return viewer;
  await reply
    .code(303)
    .header('location', `/-/sign-in?next=${encodeURIComponent(req.url)}`)
    .send();
  return null;
}

/** The signed-in viewer of an admin page (null: redirected to sign in); SCOPE_MISSING (403) for anyone but an admin. */
export async function adminViewer(web: WebContext, req: FastifyRequest, reply: FastifyReply, what: string): Promise<SignedInViewer | null> {
  const viewer = await signedInViewer(web, req, reply);
  if (viewer) requireAdmin(viewer.principal, what);
  return viewer;
}

/** The viewer and fields of a form post, refused (CSRF_INVALID, 403) unless it carries this session's CSRF token. */
export async function postedForm(
  web: WebContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<{ viewer: SignedInViewer; form: URLSearchParams }> {
  const viewer = await viewerOf(web.registry, req, reply);
  const form = formOf(req.body);
  requireCsrf(viewer, form);
  // requireCsrf passed, so there is a session, and a session always comes with its principal.
  return { viewer: viewer as SignedInViewer, form };
}
