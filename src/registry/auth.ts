import { randomBytes } from 'node:crypto';
import { fail, LarderError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { matchesPattern } from '../core/patterns.js';
import { isUniqueViolation, type Db } from '../storage/db.js';
import { prepared } from '../storage/prepared.js';
import type { Kysely } from 'kysely';
import type { Database, TokenRow, UserRow } from '../storage/schema.js';

export const SCOPES = ['read', 'publish', 'yank', 'owners', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is making a request, as established from a token. */
export interface Principal {
  userId: number;
  login: string;
  tokenId: number;
  scopes: ReadonlySet<Scope>;
  repoPattern: string | null;
  packagePattern: string | null;
}

export interface CreatedToken {
  /** The secret, shown once; only its hash is stored. */
  token: string;
  row: TokenRow;
}

export interface TokenRequest {
  login: string;
  name?: string;
  scopes: Scope[];
  repoPattern?: string | null;
  packagePattern?: string | null;
  expiresInMs?: number | null;
  /** An exact expiry (millis, null for never); wins over `expiresInMs`. */
  expiresAt?: number | null;
}

const TOKEN_PREFIX = 'larder_';
const LOGIN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,38}$/;
// Writing last_used_at on every request would make every read a write.
const LAST_USED_RESOLUTION_MS = 60_000;

/** The token behind a hash, with its user's login: every authenticated request asks it (storage/prepared.ts). */
const tokenByHash = prepared('token by hash', (db: Db, p: { hash: string }) =>
  db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .selectAll('tokens')
    .select('users.login')
    .where('token_hash', '=', p.hash),
);

/** Parses a comma list of scopes, rejecting unknown ones with the list of valid ones. */
export function parseScopes(list: string): Scope[] {
  const scopes = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s)) fail('METADATA_INVALID', `unknown scope "${s}"; valid scopes are ${SCOPES.join(', ')}`);
  }
  if (scopes.length === 0) fail('METADATA_INVALID', `a token needs at least one scope (${SCOPES.join(', ')})`);
  return [...new Set(scopes)] as Scope[];
}

/** Users and tokens: creation, listing, revocation and the check behind every request. */
export class Auth {
  constructor(private readonly db: Db) {}

  async createUser(login: string, opts: { name?: string | null; admin?: boolean } = {}): Promise<UserRow> {
    if (!LOGIN.test(login))
      fail(
        'NAME_INVALID',
        `invalid user name "${login}": use letters, digits, '.', '_' and '-', at most 39 characters, starting with a letter or digit`,
      );
    try {
      return await this.db
        .insertInto('users')
        .values({ login, name: opts.name ?? null, is_admin: opts.admin ? 1 : 0, created_at: Date.now() })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      if (isUniqueViolation(err)) fail('USER_EXISTS', `user "${login}" already exists`);
      throw err;
    }
  }

  async findUser(login: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('login', '=', login).executeTakeFirst();
  }

  async listUsers(): Promise<UserRow[]> {
    return this.db.selectFrom('users').selectAll().orderBy('id').execute();
  }

  async createToken(req: TokenRequest): Promise<CreatedToken> {
    const user = await this.findUser(req.login);
    if (!user) fail('USER_NOT_FOUND', `no user "${req.login}"; create it first with \`larder user add ${req.login}\``);
    return insertToken(this.db, user.id, req);
  }

  async listTokens(login?: string): Promise<Array<TokenRow & { login: string }>> {
    let q = this.db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id').selectAll('tokens').select('users.login');
    if (login) q = q.where('users.login', '=', login);
    return q.orderBy('tokens.id').execute();
  }

  /** One token with its user's login, or undefined. */
  async findToken(id: number): Promise<(TokenRow & { login: string }) | undefined> {
    return this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .selectAll('tokens')
      .select('users.login')
      .where('tokens.id', '=', id)
      .executeTakeFirst();
  }

  /** Revokes by id or by the prefix shown in `token list`. */
  async revokeToken(idOrPrefix: string): Promise<TokenRow> {
    const q = this.db.selectFrom('tokens').selectAll();
    const row = /^\d+$/.test(idOrPrefix)
      ? await q.where('id', '=', Number(idOrPrefix)).executeTakeFirst()
      : await q.where('prefix', '=', idOrPrefix).executeTakeFirst();
    if (!row) fail('NOT_FOUND', `no token "${idOrPrefix}"; \`larder token list\` shows ids and prefixes`);
    const revokedAt = row.revoked_at ?? Date.now();
    await this.db.updateTable('tokens').set({ revoked_at: revokedAt }).where('id', '=', row.id).execute();
    return { ...row, revoked_at: revokedAt };
  }

  /** Establishes the principal behind a token, or says exactly why the token is not accepted. */
  async authenticate(token: string): Promise<Principal> {
    const row = await tokenByHash.first(this.db, { hash: sha256Hex(token) });
    if (!row) fail('TOKEN_INVALID', 'the token is not valid; create one with `larder token create` and log in again');
    return this.principalOf(row);
  }

  /** The principal of a token known by id (an S3 access key's token), with the same revoked/expired checks as `authenticate`. */
  async authenticateTokenId(tokenId: number): Promise<Principal> {
    const row = await this.findToken(tokenId);
    if (!row) fail('TOKEN_INVALID', 'the token behind this key no longer exists; create one with `larder token create`');
    return this.principalOf(row);
  }

  private principalOf(row: TokenRow & { login: string }): Principal {
    const now = Date.now();
    if (row.revoked_at != null)
      fail('TOKEN_REVOKED', `the token ${row.prefix}… was revoked; create a new one with \`larder token create\``);
    if (row.expires_at != null && row.expires_at <= now) {
      fail(
        'TOKEN_EXPIRED',
        `the token ${row.prefix}… expired on ${new Date(row.expires_at).toISOString()}; create a new one with \`larder token create\``,
      );
    }
    if (row.last_used_at == null || now - row.last_used_at > LAST_USED_RESOLUTION_MS) {
      // Best effort: a failed bookkeeping write must not fail the request.
      this.db
        .updateTable('tokens')
        .set({ last_used_at: now })
        .where('id', '=', row.id)
        .execute()
        .catch(() => {});
    }
    return {
      userId: row.user_id,
      login: row.login,
      tokenId: row.id,
      scopes: new Set(row.scopes.split(',') as Scope[]),
      repoPattern: row.repo_pattern,
      packagePattern: row.package_pattern,
    };
  }

  /** The `admin` user exists from the first open on, so `larder token create` works before any serve. */
  async ensureAdminUser(): Promise<UserRow> {
    const admin = await this.findUser('admin');
    if (admin) return admin;
    try {
      return await this.createUser('admin', { name: 'Administrator', admin: true });
    } catch (err) {
      // Another process (a CLI command beside the server) created it first.
      if (err instanceof LarderError && err.code === 'USER_EXISTS') return (await this.findUser('admin'))!;
      throw err;
    }
  }

  /**
   * On first start: creates the `admin` user and an admin token (or adopts `presetToken`,
   * e.g. LARDER_ADMIN_TOKEN). Returns the token only when it was newly generated here.
   */
  async bootstrapAdmin(presetToken?: string): Promise<string | null> {
    const admin = await this.ensureAdminUser();
    if (presetToken) {
      const hash = sha256Hex(presetToken);
      const existing = await this.db.selectFrom('tokens').select('id').where('token_hash', '=', hash).executeTakeFirst();
      if (!existing) {
        // Nodes starting together all adopt the same token: the first insert wins, the others find it there.
        await this.db
          .insertInto('tokens')
          .values({
            user_id: admin.id,
            name: 'LARDER_ADMIN_TOKEN',
            token_hash: hash,
            prefix: presetToken.slice(0, 13),
            scopes: 'admin',
            repo_pattern: null,
            package_pattern: null,
            expires_at: null,
            last_used_at: null,
            created_at: Date.now(),
            revoked_at: null,
          })
          .onConflict((oc) => oc.column('token_hash').doNothing())
          .execute();
      }
      return null;
    }
    return this.db.transaction().execute(async (trx) => {
      // The admin row's write lock first: nodes starting together on an empty database make one initial token, not one each.
      await trx.updateTable('users').set({ is_admin: 1 }).where('id', '=', admin.id).execute();
      const any = await trx.selectFrom('tokens').select('id').where('user_id', '=', admin.id).executeTakeFirst();
      if (any) return null;
      return (await insertToken(trx, admin.id, { login: 'admin', name: 'initial admin token', scopes: ['admin'] })).token;
    });
  }
}

/** Inserts a new random token for a user (with `db` or inside a transaction) and returns the secret once. */
async function insertToken(db: Kysely<Database>, userId: number, req: TokenRequest): Promise<CreatedToken> {
  const token = TOKEN_PREFIX + randomBytes(24).toString('base64url');
  const now = Date.now();
  const row = await db
    .insertInto('tokens')
    .values({
      user_id: userId,
      name: req.name ?? 'token',
      token_hash: sha256Hex(token),
      prefix: token.slice(0, TOKEN_PREFIX.length + 6),
      scopes: req.scopes.join(','),
      repo_pattern: req.repoPattern || null,
      package_pattern: req.packagePattern || null,
      expires_at: req.expiresAt !== undefined ? req.expiresAt : req.expiresInMs ? now + req.expiresInMs : null,
      last_used_at: null,
      created_at: now,
      revoked_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token, row };
}

/** True when the principal holds `scope` for this repo (and package, when one is named). */
export function permits(p: Principal, scope: Scope, repo: string, pkg?: string): boolean {
  const hasScope = p.scopes.has('admin') || p.scopes.has(scope) || (scope === 'read' && p.scopes.size > 0);
  if (!hasScope) return false;
  if (!matchesPattern(p.repoPattern, repo)) return false;
  if (pkg !== undefined && !matchesPattern(p.packagePattern, pkg)) return false;
  return true;
}

/** Like `permits`, but throws the error that tells the user which part is missing. */
export function requirePermission(p: Principal, scope: Scope, repo: string, pkg?: string): void {
  if (!p.scopes.has('admin') && !p.scopes.has(scope) && !(scope === 'read' && p.scopes.size > 0)) {
    throw new LarderError(
      'SCOPE_MISSING',
      `this token lacks the "${scope}" scope (it has: ${[...p.scopes].join(', ')}); create one with \`larder token create --scopes ${scope}\``,
    );
  }
  if (!matchesPattern(p.repoPattern, repo)) {
    throw new LarderError('REPO_NOT_PERMITTED', `this token is limited to repositories matching "${p.repoPattern}", not "${repo}"`);
  }
  if (pkg !== undefined && !matchesPattern(p.packagePattern, pkg)) {
    throw new LarderError('PACKAGE_NOT_PERMITTED', `this token is limited to packages matching "${p.packagePattern}", not "${pkg}"`);
  }
}

/** Whether the principal may act on every package regardless of ownership. */
export function isAdmin(p: Principal): boolean {
  return p.scopes.has('admin');
}
