import type { FastifyRequest } from 'fastify';
import { LarderError } from '../core/errors.js';
import { permits, requirePermission, type Auth, type Principal, type Scope } from './auth.js';
import type { Repo } from './repos.js';

/**
 * The token in an Authorization header, however the client sends it: Cargo sends the bare
 * token, credential helpers send `Bearer <token>`, `.netrc` and git send Basic with the token
 * as the password.
 */
export function tokenFromAuthorization(header: string | undefined): string | null {
  if (!header) return null;
  const value = header.trim();
  if (value === '') return null;
  const space = value.indexOf(' ');
  const scheme = space > 0 ? value.slice(0, space).toLowerCase() : '';
  if (scheme === 'bearer' || scheme === 'token') return value.slice(space + 1).trim() || null;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value.slice(space + 1).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = colon >= 0 ? decoded.slice(colon + 1) : decoded;
    return password || null;
  }
  return value;
}

/** The principal behind a request's Authorization header; null when it carries no token, an error when the token is not accepted. */
export async function principalFromHeader(auth: Auth, header: string | undefined): Promise<Principal | null> {
  const token = tokenFromAuthorization(header);
  return token ? auth.authenticate(token) : null;
}

/**
 * The read gate of a repo whose clients send tokens on every request: null for a public repo;
 * for a private one the reader's principal, or 401 (`howTo` says how the client sends a token).
 */
export function readGate(auth: Auth, repo: Repo, howTo: string): (req: FastifyRequest) => Promise<Principal | null> {
  return async (req) => {
    if (repo.visibility !== 'private') return null;
    const p = await principalFromHeader(auth, req.headers.authorization);
    if (!p) throw new LarderError('AUTH_REQUIRED', `${repo.name} is private: ${howTo}`);
    if (!permits(p, 'read', repo.name)) throw new LarderError('REPO_NOT_PERMITTED', `this token may not read ${repo.name}`);
    return p;
  };
}

/**
 * The credentials check of a repo's write routes, made from the headers alone (an `onRequest`
 * hook) so a refused request is answered before a byte of its body is read. `howTo` tells a
 * client without a token how to send one. `of(req)` gives the handler the principal checked.
 */
export function writeGate(auth: Auth, repo: Repo, howTo: string) {
  const checked = new WeakMap<object, Principal>();
  return {
    async check(req: { headers: { authorization?: string } }, scope: Scope, pkg?: string): Promise<Principal> {
      const p = await principalFromHeader(auth, req.headers.authorization);
      if (!p) throw new LarderError('AUTH_REQUIRED', howTo);
      requirePermission(p, scope, repo.name, pkg);
      checked.set(req, p);
      return p;
    },
    of(req: object): Principal {
      const p = checked.get(req);
      if (!p) throw new LarderError('INTERNAL', 'a write route ran without its credentials check');
      return p;
    },
  };
}
