import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as z from 'zod';
import { fail, LarderError } from '../core/errors.js';
import { parseDuration } from '../core/units.js';
import { isAdmin, parseScopes, type Principal } from '../registry/auth.js';
import { principalFromHeader } from '../registry/credentials.js';
import type { Registry } from '../registry/registry.js';
import { createTokenWithS3Key, s3EndpointUrl } from '../registry/s3-keys.js';
import { checkedTokenRequest, revokeTokenAs } from '../registry/token-actions.js';
import { requireAdmin } from '../registry/token-policy.js';
import { publicBaseUrl } from './base-url.js';
import type { TokenRow, UserRow } from '../storage/schema.js';

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

const NewTokenBody = z.strictObject({
  /** Whose token; only an admin may name another user. Default: the caller. */
  user: z.string().optional(),
  name: z.string().max(100).optional(),
  scopes: z.union([z.array(z.string()), z.string()]),
  repo: z.string().max(500).nullable().optional(),
  package: z.string().max(500).nullable().optional(),
  /** A duration such as "30d"; default: never (or the caller's own expiry). */
  expires_in: z.string().nullable().optional(),
  /** Also create an S3 access key bound to the token (Brioche's cache writes); the pair is returned once. */
  s3: z.boolean().optional(),
});
const NewUserBody = z.strictObject({
  login: z.string(),
  name: z.string().max(200).nullable().optional(),
  admin: z.boolean().optional(),
});

/**
 * `/-/api/me`, `/-/api/tokens` and `/-/api/users`: what the web UI and automation use to manage
 * users and tokens. A user manages their own tokens, an admin everyone's; a token never creates
 * (or revokes) a token that can do more than itself.
 */
export async function apiUsersRoutes(app: FastifyInstance, { registry }: { registry: Registry }): Promise<void> {
  const { auth } = registry;
  const caller = async (req: FastifyRequest): Promise<Principal> => {
    const p = await principalFromHeader(auth, req.headers.authorization);
    if (!p)
      throw new LarderError(
        'AUTH_REQUIRED',
        'this API needs a token: send `Authorization: Bearer <token>` (create one with `larder token create`)',
      );
    return p;
  };
  // Credentials are checked in onRequest, before a byte of a body is read (issue 8: bodies after credentials).
  const callers = new WeakMap<FastifyRequest, Principal>();
  const authenticated = { onRequest: async (req: FastifyRequest) => void callers.set(req, await caller(req)) };
  const adminOnly = (what: string) => ({
    onRequest: async (req: FastifyRequest) => {
      const p = await caller(req);
      requireAdmin(p, what);
      callers.set(req, p);
    },
  });
  const who = (req: FastifyRequest): Principal => callers.get(req)!;

  app.get('/-/api/me', authenticated, async (req) => {
    const p = who(req);
    const [user, token] = await Promise.all([auth.findUser(p.login), auth.findToken(p.tokenId)]);
    return { user: userJson(user!), token: tokenJson(token!) };
  });

  app.get('/-/api/tokens', authenticated, async (req) => {
    const p = who(req);
    const { user } = req.query as { user?: string };
    if (user !== undefined && user !== p.login) requireAdmin(p, "listing another user's tokens");
    // An admin without ?user= sees every token.
    const login = user ?? (isAdmin(p) ? undefined : p.login);
    return { tokens: (await auth.listTokens(login)).map(tokenJson) };
  });

  app.post('/-/api/tokens', authenticated, async (request, reply) => {
    const p = who(request);
    const body = parseBody(NewTokenBody, request.body);
    const scopes = parseScopes(Array.isArray(body.scopes) ? body.scopes.join(',') : body.scopes);
    const expiresInMs = body.expires_in ? durationOrFail(body.expires_in) : null;
    // A token that expires makes tokens that expire no later, unless asked otherwise (and then refused).
    const req = await checkedTokenRequest(auth, p, {
      login: body.user,
      name: body.name,
      scopes,
      repoPattern: body.repo || null,
      packagePattern: body.package || null,
      expiresAt: expiresInMs !== null ? Date.now() + expiresInMs : undefined,
    });
    if (body.s3) {
      const created = await createTokenWithS3Key(auth, registry.db, req);
      const row = await auth.findToken(created.row.id);
      const base = publicBaseUrl(registry.config, request);
      const s3 = {
        access_key_id: created.s3.accessKeyId,
        secret_access_key: created.s3.secretAccessKey,
        endpoint: s3EndpointUrl(base),
        region: 'us-east-1',
      };
      return reply.code(201).send({ secret: created.token, token: tokenJson(row!), s3 });
    }
    const created = await auth.createToken(req);
    const row = await auth.findToken(created.row.id);
    return reply.code(201).send({ secret: created.token, token: tokenJson(row!) });
  });

  app.delete('/-/api/tokens/:id', authenticated, async (req) => {
    const { id } = req.params as { id: string };
    const hint = 'GET /-/api/tokens lists their ids';
    if (!/^\d{1,15}$/.test(id)) fail('NOT_FOUND', `no token ${id} among yours; ${hint}`);
    return { token: tokenJson(await revokeTokenAs(auth, who(req), Number(id), hint)) };
  });

  app.get('/-/api/users', adminOnly('listing users'), async () => {
    return { users: (await auth.listUsers()).map(userJson) };
  });

  app.post('/-/api/users', adminOnly('adding a user'), async (req, reply) => {
    const body = parseBody(NewUserBody, req.body);
    const user = await auth.createUser(body.login, { name: body.name ?? null, admin: body.admin ?? false });
    return reply.code(201).send({ user: userJson(user) });
  });
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  fail('BODY_MALFORMED', `invalid JSON body (${problems})`);
}

function durationOrFail(v: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    fail('BODY_MALFORMED', `expires_in: ${(err as Error).message}`);
  }
}

function userJson(u: UserRow) {
  return { id: u.id, login: u.login, name: u.name, admin: !!u.is_admin, created_at: iso(u.created_at) };
}

function tokenJson(t: TokenRow & { login: string }) {
  const state = t.revoked_at != null ? 'revoked' : t.expires_at != null && t.expires_at <= Date.now() ? 'expired' : 'active';
  return {
    id: t.id,
    prefix: t.prefix,
    user: t.login,
    name: t.name,
    scopes: t.scopes.split(','),
    repo: t.repo_pattern,
    package: t.package_pattern,
    expires_at: iso(t.expires_at),
    last_used_at: iso(t.last_used_at),
    created_at: iso(t.created_at),
    revoked_at: iso(t.revoked_at),
    state,
  };
}
