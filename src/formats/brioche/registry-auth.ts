/**
 * Credentials of a Brioche registry request, as brioche sends them (protocols/brioche.md §2.4):
 * `Authorization: Basic base64("admin:<BRIOCHE_REGISTRY_PASSWORD>")` on every request when the
 * variable is set. The password is either the repo's own (argon2id, `larder brioche set-password`;
 * user name `admin`, trap 11), which acts as an admin of this repo, or a Larder token (user name
 * ignored). A Bearer or bare token is accepted too, for other tools.
 */
import { fail, LarderError } from '../../core/errors.js';
import { requirePermission, type Scope } from '../../registry/auth.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { repoPasswordHash, verifyPassword } from './password.js';
import type { TagWriter } from './tags.js';

const NO_MATCH = 'username or password did not match';
const MALFORMED =
  'malformed Authorization header: brioche sends Basic base64("admin:<password>") (BRIOCHE_REGISTRY_PASSWORD); other tools may send Bearer <token>';

/** The user name and password of a Basic header, or the token of a Bearer/bare one; 400 when neither can be read. */
function parseAuthorization(header: string): { user: string | null; secret: string } {
  const value = header.trim();
  const space = value.indexOf(' ');
  if (space < 0) return { user: null, secret: value };
  const scheme = value.slice(0, space).toLowerCase();
  const rest = value.slice(space + 1).trim();
  if (scheme === 'bearer' || scheme === 'token') {
    if (!rest) fail('BODY_MALFORMED', MALFORMED);
    return { user: null, secret: rest };
  }
  if (scheme !== 'basic' || !/^[A-Za-z0-9+/]+={0,2}$/.test(rest)) fail('BODY_MALFORMED', MALFORMED);
  const decoded = Buffer.from(rest, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) fail('BODY_MALFORMED', MALFORMED);
  return { user: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/**
 * Who the request's credentials are, checked for `scope` on this repo: the repo password (an admin
 * of the repo) or a token holding the scope. No header → 403 "credentials required"; a password that
 * is neither → 401 "username or password did not match"; an unreadable header → 400.
 */
export async function registryWriter(registry: Registry, repo: Repo, header: string | undefined, scope: Scope): Promise<TagWriter> {
  if (!header || header.trim() === '') fail('CREDENTIALS_REQUIRED', 'credentials required');
  const { user, secret } = parseAuthorization(header);
  if (!secret) fail('TOKEN_INVALID', NO_MATCH);
  // A token is looked up first (one indexed query); only an unknown secret costs an argon2 check.
  let p;
  try {
    p = await registry.auth.authenticate(secret);
  } catch (err) {
    // A revoked or expired token keeps its own message; an unknown secret may be the repo password.
    if (!(err instanceof LarderError && err.code === 'TOKEN_INVALID')) throw err;
    const phc = user === 'admin' ? await repoPasswordHash(registry, repo) : null;
    if (phc && (await verifyPassword(phc, secret))) return { kind: 'password' };
    fail('TOKEN_INVALID', NO_MATCH);
  }
  requirePermission(p, scope, repo.name);
  return { kind: 'token', p };
}
