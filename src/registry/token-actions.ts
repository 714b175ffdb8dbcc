/**
 * Creating and revoking tokens on behalf of a signed-in principal, with the rules of token-policy.ts: the one place
 * the HTTP API (`/-/api/tokens`) and the web UI's token page both go through, so they cannot drift apart.
 */
import { fail } from '../core/errors.js';
import type { TokenRow } from '../storage/schema.js';
import { isAdmin, type Auth, type Principal, type Scope, type TokenRequest } from './auth.js';
import { reachOf, reachOfRow, requireAdmin, requireWithin } from './token-policy.js';

/** What a caller asks a new token to be. */
export interface WantedToken {
  /** Whose token; only an admin may name another user. Default: the caller. */
  login?: string;
  name?: string;
  scopes: Scope[];
  repoPattern: string | null;
  packagePattern: string | null;
  /** Millis, null for never; undefined: when the caller's own token expires (never, if it does not). */
  expiresAt?: number | null;
}

/**
 * The request to create for `wanted`, checked: another user's token needs an admin, and the token may do nothing
 * the caller's own token cannot (TOKEN_TOO_WIDE says which part is wider). Creates nothing.
 */
export async function checkedTokenRequest(auth: Auth, p: Principal, wanted: WantedToken): Promise<TokenRequest> {
  const login = wanted.login ?? p.login;
  if (login !== p.login) requireAdmin(p, 'creating a token for another user');
  const own = await auth.findToken(p.tokenId);
  if (!own) fail('TOKEN_INVALID', 'the token this request was made with no longer exists; sign in again');
  const holder = reachOf(p, own);
  const expiresAt = wanted.expiresAt !== undefined ? wanted.expiresAt : holder.expiresAt;
  const reach = { scopes: wanted.scopes, repoPattern: wanted.repoPattern || null, packagePattern: wanted.packagePattern || null };
  requireWithin(holder, { ...reach, expiresAt }, 'the new token');
  // The exact expiry checked, not a duration from a later "now": the token never outlives the one that made it.
  return { login, name: wanted.name, ...reach, expiresAt };
}

/**
 * Token `id` as `p` may see it: their own, or anyone's for an admin; another user's token is "not found" to a
 * non-admin (ids must not reveal what exists). `listHint` says where the caller's tokens are listed.
 */
export async function visibleToken(auth: Auth, p: Principal, id: number, listHint: string): Promise<TokenRow & { login: string }> {
  const row = Number.isSafeInteger(id) ? await auth.findToken(id) : undefined;
  if (!row || (row.login !== p.login && !isAdmin(p))) fail('NOT_FOUND', `no token ${id} among yours; ${listHint}`);
  return row;
}

/**
 * Revokes token `id` for `p` (one `visibleToken` finds). A token may revoke itself, but no other token wider
 * than itself. Returns the revoked row.
 */
export async function revokeTokenAs(auth: Auth, p: Principal, id: number, listHint: string): Promise<TokenRow & { login: string }> {
  const row = await visibleToken(auth, p, id, listHint);
  if (row.id !== p.tokenId) {
    const own = await auth.findToken(p.tokenId);
    if (!own) fail('TOKEN_INVALID', 'the token this request was made with no longer exists; sign in again');
    requireWithin(reachOf(p, own), reachOfRow(row), `token ${row.id} (${row.prefix}…)`);
  }
  await auth.revokeToken(String(row.id));
  return (await auth.findToken(row.id))!;
}
