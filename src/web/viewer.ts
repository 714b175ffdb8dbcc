/**
 * Who is looking at a page: nobody, or the principal of a signed-in session (the token it was opened with).
 * Every page and search result is filtered through `canRead`, so a private repo or package is invisible to a
 * viewer who may not read it, in pages and search alike.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import * as cookie from 'cookie';
import { LarderError } from '../core/errors.js';
import { isAdmin, permits, type Principal } from '../registry/auth.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import { findSession, type Session } from '../registry/sessions.js';

export const SESSION_COOKIE = 'larder_session';

export interface Viewer {
  principal: Principal | null;
  session: Session | null;
  /** Whether cookies must carry `Secure` (served over TLS). */
  secure: boolean;
}

/** Whether the browser reached us over TLS: directly, or through a front whose public_url is https. */
export function isSecure(req: FastifyRequest, publicUrl: string | null): boolean {
  // Behind a front that ends TLS the node sees plain HTTP; an https public_url says what the browser sees.
  return req.protocol === 'https' || (publicUrl?.startsWith('https:') ?? false);
}

/** The viewer behind a request's session cookie; an unknown, expired or revoked session is nobody (and its cookie is cleared). */
export async function viewerOf(registry: Registry, req: FastifyRequest, reply: FastifyReply): Promise<Viewer> {
  const secure = isSecure(req, registry.config.publicUrl);
  const value = req.headers.cookie ? cookie.parse(req.headers.cookie)[SESSION_COOKIE] : undefined;
  if (!value) return { principal: null, session: null, secure };
  const session = await findSession(registry.db, value);
  if (session) {
    try {
      return { principal: await registry.auth.authenticateTokenId(session.tokenId), session, secure };
    } catch (err) {
      if (!(err instanceof LarderError)) throw err;
    }
  }
  clearSessionCookie(reply, secure);
  return { principal: null, session: null, secure };
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, Secure under TLS, for the whole site. */
export function setSessionCookie(reply: FastifyReply, value: string, expiresAt: number, secure: boolean): void {
  reply.header(
    'set-cookie',
    cookie.serialize(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', secure, path: '/', expires: new Date(expiresAt) }),
  );
}

/** Removes the session cookie from the browser. */
export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  reply.header('set-cookie', cookie.serialize(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: 0 }));
}

/** Whether the viewer may see `repo` (and, when named, one of its packages). */
export function canRead(viewer: Viewer, repo: Repo, pkg?: string): boolean {
  if (repo.visibility !== 'private') return true;
  return viewer.principal !== null && permits(viewer.principal, 'read', repo.name, pkg);
}

/** The repositories the viewer may read, in configuration order. */
export function readableRepos(registry: Registry, viewer: Viewer): Repo[] {
  return [...registry.repos.values()].filter((repo) => canRead(viewer, repo));
}

/** Whether the viewer signed in with an admin token. */
export function viewerIsAdmin(viewer: Viewer): boolean {
  return viewer.principal !== null && isAdmin(viewer.principal);
}
