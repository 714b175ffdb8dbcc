import type { FastifyRequest } from 'fastify';
import { LarderError } from '../core/errors.js';
import { permits, requirePermission, type Auth, type Principal, type Scope } from '../registry/auth.js';
import { principalFromHeader } from '../registry/credentials.js';
import type { Repo } from '../registry/repos.js';

/** Proxies and groups are read-only: a write is refused before credentials or body are looked at. */
export function requireHosted(repo: Repo): void {
  if (repo.kind === 'hosted') return;
  const what = repo.kind === 'proxy' ? `a proxy of ${repo.upstream ?? 'its upstream'}` : `a group of ${(repo.members ?? []).join(', ')}`;
  throw new LarderError('REPO_READ_ONLY', `repository ${repo.name} is ${what} and read-only: publish to a hosted repository`);
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
      requireHosted(repo);
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
