import { fail } from '../core/errors.js';
import type { TokenRow } from '../storage/schema.js';
import { isAdmin, type Principal, type Scope } from './auth.js';

/** What a token would be able to do: the parts of a token row that bound its power. */
export interface TokenReach {
  scopes: readonly Scope[];
  repoPattern: string | null;
  packagePattern: string | null;
  /** Millis, or null for never. */
  expiresAt: number | null;
}

/** The reach of the token behind a principal (its expiry comes from the token row). */
export function reachOf(p: Principal, row: Pick<TokenRow, 'expires_at'>): TokenReach {
  return { scopes: [...p.scopes], repoPattern: p.repoPattern, packagePattern: p.packagePattern, expiresAt: row.expires_at };
}

/** The reach of a stored token. */
export function reachOfRow(row: TokenRow): TokenReach {
  return {
    scopes: row.scopes.split(',') as Scope[],
    repoPattern: row.repo_pattern,
    packagePattern: row.package_pattern,
    expiresAt: row.expires_at,
  };
}

/**
 * Refuses (TOKEN_TOO_WIDE) when `wanted` could do anything `holder` cannot: more scopes, wider
 * repo or package patterns, or a later expiry. Keeps a leaked narrow token from minting a wider one.
 * An admin-scoped holder has every scope, but its patterns and expiry still bound what it makes.
 */
export function requireWithin(holder: TokenReach, wanted: TokenReach, what = 'a token'): void {
  // Any token may read, so `read` is within every token.
  const extra = holder.scopes.includes('admin') ? [] : wanted.scopes.filter((s) => s !== 'read' && !holder.scopes.includes(s));
  if (extra.length)
    fail('TOKEN_TOO_WIDE', `${what} may not have the scope(s) ${extra.join(', ')}: this token has only ${holder.scopes.join(', ')}`);
  for (const [label, mine, theirs] of [
    ['repositories', holder.repoPattern, wanted.repoPattern],
    ['packages', holder.packagePattern, wanted.packagePattern],
  ] as const) {
    if (!patternWithin(theirs, mine)) {
      fail(
        'TOKEN_TOO_WIDE',
        `${what} must be limited to ${label} within "${mine}" (this token's limit), not ${theirs ? `"${theirs}"` : 'all of them'}`,
      );
    }
  }
  if (holder.expiresAt !== null && (wanted.expiresAt === null || wanted.expiresAt > holder.expiresAt)) {
    fail('TOKEN_TOO_WIDE', `${what} must expire by ${new Date(holder.expiresAt).toISOString()}, when this token expires`);
  }
}

/** Whether the principal may manage users and every user's tokens. */
export function requireAdmin(p: Principal, action: string): void {
  if (!isAdmin(p)) fail('SCOPE_MISSING', `${action} needs a token with the "admin" scope; this one has ${[...p.scopes].join(', ')}`);
}

/**
 * True when every name the glob `inner` matches is matched by `outer` (null = everything).
 * Sound but not complete: each alternative of `inner`, read as text, must match an alternative of
 * `outer` in which `*` may absorb anything (wildcards included) and `?` only a non-`*` character.
 */
export function patternWithin(inner: string | null, outer: string | null): boolean {
  if (!outer) return true;
  if (!inner) return false;
  const alternatives = (p: string) =>
    p
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const outerRe = new RegExp(
    `^(?:${alternatives(outer)
      .map((a) =>
        a
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '[^*]'),
      )
      .join('|')})$`,
  );
  const inners = alternatives(inner);
  return inners.length > 0 && inners.every((a) => outerRe.test(a));
}
