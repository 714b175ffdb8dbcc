/**
 * Browser sessions (issue 12): a token exchanged once for a random cookie. The session stores only the cookie's
 * hash and acts as its token, so revoking or expiring the token ends the session at its next request.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../core/hash.js';
import type { Db } from '../storage/db.js';

/** How long a session lasts when its token does not expire sooner. */
export const SESSION_LIFETIME_MS = 12 * 60 * 60 * 1000;

export interface Session {
  id: number;
  tokenId: number;
  /** The token every form of this session must carry. */
  csrf: string;
  expiresAt: number;
}

/** Opens a session for a token already authenticated; returns the cookie value (shown to the browser only). */
export async function openSession(db: Db, tokenId: number, tokenExpiresAt: number | null): Promise<{ cookie: string; session: Session }> {
  const cookie = randomBytes(32).toString('base64url');
  const csrf = randomBytes(24).toString('base64url');
  const now = Date.now();
  const expiresAt = Math.min(now + SESSION_LIFETIME_MS, tokenExpiresAt ?? Number.MAX_SAFE_INTEGER);
  // Expired sessions are dropped here rather than by a timer: sign-ins are rare, so this stays cheap.
  await db.deleteFrom('web_sessions').where('expires_at', '<=', now).execute();
  const row = await db
    .insertInto('web_sessions')
    .values({ session_hash: sha256Hex(cookie), token_id: tokenId, csrf, created_at: now, expires_at: expiresAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { cookie, session: { id: row.id, tokenId, csrf, expiresAt } };
}

/** The live session behind a cookie value, or null (unknown or expired). */
export async function findSession(db: Db, cookie: string): Promise<Session | null> {
  const row = await db.selectFrom('web_sessions').selectAll().where('session_hash', '=', sha256Hex(cookie)).executeTakeFirst();
  if (!row || Number(row.expires_at) <= Date.now()) return null;
  return { id: row.id, tokenId: row.token_id, csrf: row.csrf, expiresAt: Number(row.expires_at) };
}

/** Ends a session (sign out). */
export async function closeSession(db: Db, id: number): Promise<void> {
  await db.deleteFrom('web_sessions').where('id', '=', id).execute();
}
