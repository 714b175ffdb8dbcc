/**
 * Revoking a token: `GET /-/account/tokens/{id}/revoke` asks to confirm (no script needed), the post revokes with the
 * rules of `DELETE /-/api/tokens/{id}`. Revoking the token the session runs on ends the session, and the page says so.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../../core/errors.js';
import { closeSession } from '../../registry/sessions.js';
import { revokeTokenAs, visibleToken } from '../../registry/token-actions.js';
import type { WebContext } from '../context.js';
import { postedForm, signedInViewer, type SignedInViewer } from '../guards.js';
import { CsrfField, Layout } from '../layout.js';
import { sendPage } from '../render.js';
import { clearSessionCookie, type Viewer } from '../viewer.js';
import { revokeUrl, TokenFacts, tokenState, type ListedToken } from './tokens.js';

const LIST_HINT = 'the token page lists yours';

export function RevokeTokenPage({ viewer, token }: { viewer: SignedInViewer; token: ListedToken }) {
  const state = tokenState(token);
  const own = token.id === viewer.session.tokenId;
  return (
    <Layout title={`Revoke ${token.name}`} viewer={viewer}>
      <h1>Revoke token {token.name}</h1>
      <TokenFacts token={token} />
      {state !== 'active' ? (
        <p class="notice">This token is {state} already: it does not work anywhere.</p>
      ) : (
        <>
          <p>Everything that uses this token (CI jobs, registries configured with it, sessions signed in with it) stops working at once.</p>
          {own && (
            <p class="notice error" role="alert">
              This is the token you signed in with: revoking it signs you out.
            </p>
          )}
          <form method="post" action={revokeUrl(token.id)}>
            <CsrfField viewer={viewer} />
            <button type="submit" class="danger">
              Revoke {token.name}
            </button>{' '}
            <a href="/-/account/tokens">Keep it</a>
          </form>
        </>
      )}
    </Layout>
  );
}

/** The answer after revoking the session's own token: the session ended with it. */
export function SignedOutPage({ viewer, token }: { viewer: Viewer; token: ListedToken }) {
  return (
    <Layout title="Signed out" viewer={viewer}>
      <h1>Signed out</h1>
      <p class="notice" role="status">
        Token {token.name} ({token.prefix}…) is revoked. It was the token this session was signed in with, so you are signed out.
      </p>
      <p>
        <a href="/-/sign-in">Sign in with another token</a>
      </p>
    </Layout>
  );
}

/** The token id of a URL; anything else is no token. */
function tokenId(params: unknown): number {
  const id = (params as { id: string }).id;
  if (!/^\d{1,15}$/.test(id)) fail('NOT_FOUND', `no token ${id} among yours; ${LIST_HINT}`);
  return Number(id);
}

/** Registers the confirmation page and the revoke post. */
export function tokenRevokeRoutes(app: FastifyInstance, web: WebContext): void {
  app.get('/-/account/tokens/:id/revoke', async (req, reply) => {
    const viewer = await signedInViewer(web, req, reply);
    if (!viewer) return reply;
    const token = await visibleToken(web.registry.auth, viewer.principal, tokenId(req.params), LIST_HINT);
    return sendPage(reply, <RevokeTokenPage viewer={viewer} token={token} />);
  });

  app.post('/-/account/tokens/:id/revoke', async (req, reply) => {
    const { viewer } = await postedForm(web, req, reply);
    const token = await revokeTokenAs(web.registry.auth, viewer.principal, tokenId(req.params), LIST_HINT);
    if (token.id !== viewer.session.tokenId) return reply.code(303).header('location', `/-/account/tokens?revoked=${token.id}`).send();
    await closeSession(web.registry.db, viewer.session.id);
    clearSessionCookie(reply, viewer.secure);
    return sendPage(reply, <SignedOutPage viewer={{ principal: null, session: null, secure: viewer.secure }} token={token} />);
  });
}
