/**
 * `/-/account/tokens`: the viewer's tokens (an admin's: everyone's, or one user's with `?user=`), and the form that
 * creates one. The secret is shown once, on the answer to the post (never in a URL, never stored, not cached); what
 * may be created is decided by registry/token-actions.ts, the rules of `/-/api/tokens`.
 */
import type { FastifyInstance } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { isAdmin, SCOPES } from '../../registry/auth.js';
import { checkedTokenRequest } from '../../registry/token-actions.js';
import { requireAdmin } from '../../registry/token-policy.js';
import type { TokenRow } from '../../storage/schema.js';
import { DateText, DateTimeText, Snippet, TableWrap } from '../components.js';
import type { WebContext } from '../context.js';
import { postedForm, signedInViewer, type SignedInViewer } from '../guards.js';
import { CsrfField, Layout } from '../layout.js';
import { sendPage } from '../render.js';
import { defaultTokenForm, EXPIRY_DAYS, tokenFormValues, wantedToken, type TokenFormValues } from '../token-form.js';

export type ListedToken = TokenRow & { login: string };

const TOKENS_URL = '/-/account/tokens';

/** The URL of a token's revoke confirmation. */
export function revokeUrl(id: number): string {
  return `${TOKENS_URL}/${id}/revoke`;
}

/** active, expired or revoked, as of `now`. */
export function tokenState(t: TokenRow, now = Date.now()): 'active' | 'expired' | 'revoked' {
  if (t.revoked_at != null) return 'revoked';
  return t.expires_at != null && t.expires_at <= now ? 'expired' : 'active';
}

/** A pattern as the list shows it: null is "all". */
function PatternText({ pattern }: { pattern: string | null }) {
  return pattern ? <code>{pattern}</code> : <span class="muted">all</span>;
}

/** One token's reach and dates, as a definition list (the revoke confirmation and the created page). */
export function TokenFacts({ token }: { token: ListedToken }) {
  return (
    <dl class="facts">
      <dt>Name</dt>
      <dd>{token.name}</dd>
      <dt>Token</dt>
      <dd>
        <code>{token.prefix}…</code>
      </dd>
      <dt>User</dt>
      <dd>{token.login}</dd>
      <dt>Scopes</dt>
      <dd>{token.scopes.split(',').join(', ')}</dd>
      <dt>Repositories</dt>
      <dd>
        <PatternText pattern={token.repo_pattern} />
      </dd>
      <dt>Packages</dt>
      <dd>
        <PatternText pattern={token.package_pattern} />
      </dd>
      <dt>Expires</dt>
      <dd>{token.expires_at == null ? 'never' : <DateTimeText at={token.expires_at} />}</dd>
    </dl>
  );
}

interface TokensPageProps {
  viewer: SignedInViewer;
  tokens: ListedToken[];
  /** The session's own token (what a new one may not exceed). */
  own: ListedToken;
  /** Admins: every login (for the filter and "for user"); null for everyone else. */
  users: string[] | null;
  /** The user an admin filtered by ('' for everyone). */
  filterUser: string;
  values: TokenFormValues;
  error?: string;
  notice?: string;
}

export function TokensPage({ viewer, tokens, own, users, filterUser, values, error, notice }: TokensPageProps) {
  const now = Date.now();
  return (
    <Layout title="Tokens" viewer={viewer}>
      <h1>Tokens</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {users && (
        <form class="filters" method="get" action={TOKENS_URL}>
          <label>
            User
            <select name="user">
              <option value="">Every user</option>
              {users.map((u) => (
                <option value={u} selected={u === filterUser}>
                  {u}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Show</button>
        </form>
      )}
      <section aria-labelledby="list-h">
        <h2 id="list-h">{users ? (filterUser ? `Tokens of ${filterUser}` : 'Every token') : 'Your tokens'}</h2>
        {tokens.length === 0 ? (
          <p class="muted">No tokens.</p>
        ) : (
          <TableWrap label="Tokens">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Token</th>
                  {users && <th scope="col">User</th>}
                  <th scope="col">Scopes</th>
                  <th scope="col">Repositories</th>
                  <th scope="col">Packages</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Created</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {tokens.map((t) => {
                  const state = tokenState(t, now);
                  return (
                    <tr key={t.id}>
                      <th scope="row">{t.name}</th>
                      <td>
                        <code>{t.prefix}…</code>
                      </td>
                      {users && <td>{t.login}</td>}
                      <td>{t.scopes.split(',').join(', ')}</td>
                      <td>
                        <PatternText pattern={t.repo_pattern} />
                      </td>
                      <td>
                        <PatternText pattern={t.package_pattern} />
                      </td>
                      <td>{t.expires_at == null ? 'never' : <DateText at={t.expires_at} />}</td>
                      <td>
                        <DateTimeText at={t.last_used_at} />
                      </td>
                      <td>
                        <DateText at={t.created_at} />
                      </td>
                      <td>
                        {state === 'revoked' ? (
                          <>
                            revoked <DateText at={t.revoked_at} />
                          </>
                        ) : (
                          state
                        )}
                        {t.id === viewer.session.tokenId && <span class="badge">this session</span>}
                        {state === 'active' && (
                          <>
                            {' '}
                            <a href={revokeUrl(t.id)} aria-label={`Revoke ${t.name} (${t.prefix}…)`}>
                              Revoke…
                            </a>
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
      <section aria-labelledby="new-h">
        <h2 id="new-h">New token</h2>
        <p class="muted">
          You are signed in with <code>{own.prefix}…</code> (scopes {own.scopes.split(',').join(', ')}; repositories{' '}
          {own.repo_pattern ?? 'all'}; packages {own.package_pattern ?? 'all'}; expires <DateTimeText at={own.expires_at} />
          ). A new token can do no more than it.
        </p>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <NewTokenForm viewer={viewer} own={own} users={users} values={values} />
      </section>
    </Layout>
  );
}

function NewTokenForm({
  viewer,
  own,
  users,
  values,
}: {
  viewer: SignedInViewer;
  own: ListedToken;
  users: string[] | null;
  values: TokenFormValues;
}) {
  return (
    <form class="stack" method="post" action={TOKENS_URL}>
      <CsrfField viewer={viewer} />
      <label>
        Name
        <input type="text" name="name" value={values.name} maxlength={100} placeholder="ci, laptop, …" />
      </label>
      {users && (
        <label>
          For user
          <select name="user">
            {users.map((u) => (
              <option value={u} selected={u === (values.user || viewer.principal.login)}>
                {u}
              </option>
            ))}
          </select>
        </label>
      )}
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map((s) => (
          <label class="choice">
            <input type="checkbox" name="scope" value={s} checked={values.scopes.includes(s)} /> {s}
          </label>
        ))}
      </fieldset>
      <label>
        Repositories
        <input type="text" name="repo" value={values.repo} maxlength={500} placeholder="all, or a pattern: crates,internal-*" />
      </label>
      <label>
        Packages
        <input type="text" name="package" value={values.package} maxlength={500} placeholder="all, or a pattern: acme-*" />
      </label>
      <fieldset>
        <legend>Expires</legend>
        <label class="choice">
          <input type="radio" name="expires" value="same" checked={values.expires === 'same'} /> with the token you signed in with (
          <DateTimeText at={own.expires_at} />)
        </label>
        {EXPIRY_DAYS.map((d) => (
          <label class="choice">
            <input type="radio" name="expires" value={String(d)} checked={values.expires === String(d)} /> in {d} days
          </label>
        ))}
        <label class="choice">
          <input type="radio" name="expires" value="never" checked={values.expires === 'never'} /> never
        </label>
        <label class="choice">
          <input type="radio" name="expires" value="date" checked={values.expires === 'date'} /> on a date (00:00 UTC):
        </label>
        <label class="choice">
          <span class="sr-only">Expiry date</span>
          <input type="date" name="expires_on" value={values.expiresOn} />
        </label>
      </fieldset>
      <div>
        <button type="submit">Create token</button>
      </div>
    </form>
  );
}

/** The answer to a create: the secret, once, with a copy button. */
export function TokenCreatedPage({ viewer, secret, token }: { viewer: SignedInViewer; secret: string; token: ListedToken }) {
  return (
    <Layout title="Token created" viewer={viewer}>
      <h1>Token created</h1>
      <p class="notice" role="status">
        Copy the token now: Larder keeps only its hash and cannot show it again.
      </p>
      <Snippet id="new-token" snippet={{ label: `Token ${token.name}`, code: secret }} />
      <TokenFacts token={token} />
      <p>
        <a href={TOKENS_URL}>Back to your tokens</a>
      </p>
    </Layout>
  );
}

/** What the list shows: an admin's choice of user (or everyone), anyone else their own. */
async function listFor(web: WebContext, viewer: SignedInViewer, user: string): Promise<ListedToken[]> {
  const p = viewer.principal;
  if (user && user !== p.login) requireAdmin(p, "listing another user's tokens");
  const login = user || (isAdmin(p) ? undefined : p.login);
  return (await web.registry.auth.listTokens(login)).reverse();
}

async function renderTokens(
  web: WebContext,
  viewer: SignedInViewer,
  opts: { filterUser?: string; values?: TokenFormValues; error?: string; notice?: (tokens: ListedToken[]) => string | undefined },
) {
  const filterUser = opts.filterUser ?? '';
  const tokens = await listFor(web, viewer, filterUser);
  const own = (await web.registry.auth.findToken(viewer.principal.tokenId))!;
  const users = isAdmin(viewer.principal) ? (await web.registry.auth.listUsers()).map((u) => u.login) : null;
  return (
    <TokensPage
      viewer={viewer}
      tokens={tokens}
      own={own}
      users={users}
      filterUser={filterUser}
      values={opts.values ?? defaultTokenForm(own.expires_at != null)}
      error={opts.error}
      notice={opts.notice?.(tokens)}
    />
  );
}

/** Registers the token list and the create form's post. */
export function tokensRoutes(app: FastifyInstance, web: WebContext): void {
  app.get(TOKENS_URL, async (req, reply) => {
    const viewer = await signedInViewer(web, req, reply);
    if (!viewer) return reply;
    const query = req.query as Record<string, unknown>;
    const filterUser = typeof query.user === 'string' ? query.user : '';
    const revoked = typeof query.revoked === 'string' ? Number(query.revoked) : NaN;
    const notice = (tokens: ListedToken[]) => {
      const t = tokens.find((x) => x.id === revoked && x.revoked_at != null);
      return t && `Token ${t.name} (${t.prefix}…) is revoked: it no longer works anywhere.`;
    };
    return sendPage(reply, await renderTokens(web, viewer, { filterUser, notice }));
  });

  app.post(TOKENS_URL, async (req, reply) => {
    const { viewer, form } = await postedForm(web, req, reply);
    const values = tokenFormValues(form);
    let created;
    try {
      const request = await checkedTokenRequest(web.registry.auth, viewer.principal, wantedToken(values));
      created = await web.registry.auth.createToken(request);
    } catch (err) {
      if (!(err instanceof LarderError)) throw err;
      // The form again, as typed, with the reason; nothing was created.
      reply.code(err.status);
      return sendPage(reply, await renderTokens(web, viewer, { values, error: err.message }));
    }
    const token = (await web.registry.auth.findToken(created.row.id))!;
    reply.code(201);
    return sendPage(reply, <TokenCreatedPage viewer={viewer} secret={created.token} token={token} />);
  });
}
