/**
 * `/-/admin/users` (admins only): every user with their admin flag and active tokens, and the form that adds one
 * (the rules of `POST /-/api/users`). A new user signs in with a token an admin creates for them on the token page.
 */
import type { FastifyInstance } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { requireAdmin } from '../../registry/token-policy.js';
import type { UserRow } from '../../storage/schema.js';
import { AdminNav } from '../admin-nav.js';
import { DateText, TableWrap } from '../components.js';
import type { WebContext } from '../context.js';
import { adminViewer, postedForm, type SignedInViewer } from '../guards.js';
import { CsrfField, Layout } from '../layout.js';
import { sendPage } from '../render.js';

const USERS_URL = '/-/admin/users';

interface NewUserValues {
  login: string;
  name: string;
  admin: boolean;
}

const EMPTY: NewUserValues = { login: '', name: '', admin: false };

interface UsersPageProps {
  viewer: SignedInViewer;
  users: UserRow[];
  /** Active (not revoked, not expired) tokens per user id. */
  activeTokens: ReadonlyMap<number, number>;
  values: NewUserValues;
  error?: string;
  notice?: string;
}

export function UsersPage({ viewer, users, activeTokens, values, error, notice }: UsersPageProps) {
  return (
    <Layout title="Users" viewer={viewer}>
      <h1>Users</h1>
      <AdminNav current={USERS_URL} />
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <TableWrap label="Users">
        <table>
          <thead>
            <tr>
              <th scope="col">Login</th>
              <th scope="col">Name</th>
              <th scope="col">Admin</th>
              <th scope="col">Active tokens</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id}>
                <th scope="row">{u.login}</th>
                <td>{u.name ?? <span class="muted">none</span>}</td>
                <td>{u.is_admin ? 'admin' : 'no'}</td>
                <td>
                  <a href={`/-/account/tokens?user=${encodeURIComponent(u.login)}`}>{activeTokens.get(u.id) ?? 0}</a>
                </td>
                <td>
                  <DateText at={u.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <section aria-labelledby="add-h">
        <h2 id="add-h">Add a user</h2>
        <p class="muted">
          The admin flag marks who administers Larder; what a request may do is decided by its token's scopes. Give the new user a token
          from <a href="/-/account/tokens">the token page</a> (For user).
        </p>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <form class="stack" method="post" action={USERS_URL}>
          <CsrfField viewer={viewer} />
          <label>
            Login
            <input type="text" name="login" value={values.login} required maxlength={39} autocomplete="off" />
          </label>
          <label>
            Name
            <input type="text" name="name" value={values.name} maxlength={200} />
          </label>
          <label class="choice">
            <input type="checkbox" name="admin" value="1" checked={values.admin} /> Admin
          </label>
          <div>
            <button type="submit">Add user</button>
          </div>
        </form>
      </section>
    </Layout>
  );
}

async function renderUsers(web: WebContext, viewer: SignedInViewer, opts: { values?: NewUserValues; error?: string; added?: string }) {
  const now = Date.now();
  const [users, counts] = await Promise.all([
    web.registry.auth.listUsers(),
    web.registry.db
      .selectFrom('tokens')
      .select(['user_id', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .groupBy('user_id')
      .execute(),
  ]);
  const activeTokens = new Map(counts.map((r) => [Number(r.user_id), Number(r.n)]));
  // Only a user who exists is announced (the parameter is in a URL anyone can write).
  const added = users.find((u) => u.login === opts.added);
  return (
    <UsersPage
      viewer={viewer}
      users={users}
      activeTokens={activeTokens}
      values={opts.values ?? EMPTY}
      error={opts.error}
      notice={added && `Added ${added.login}. Create a token for them on the token page (For user).`}
    />
  );
}

/** Registers the user list and the add-user post. */
export function adminUsersRoutes(app: FastifyInstance, web: WebContext): void {
  app.get(USERS_URL, async (req, reply) => {
    const viewer = await adminViewer(web, req, reply, 'listing users');
    if (!viewer) return reply;
    const added = (req.query as Record<string, unknown>).added;
    return sendPage(reply, await renderUsers(web, viewer, { added: typeof added === 'string' ? added : undefined }));
  });

  app.post(USERS_URL, async (req, reply) => {
    const { viewer, form } = await postedForm(web, req, reply);
    requireAdmin(viewer.principal, 'adding a user');
    const values: NewUserValues = {
      login: (form.get('login') ?? '').trim(),
      name: (form.get('name') ?? '').trim(),
      admin: form.get('admin') === '1',
    };
    try {
      if (values.name.length > 200) throw new LarderError('BODY_MALFORMED', 'the name may be 200 characters at most');
      await web.registry.auth.createUser(values.login, { name: values.name || null, admin: values.admin });
    } catch (err) {
      if (!(err instanceof LarderError)) throw err;
      reply.code(err.status);
      return sendPage(reply, await renderUsers(web, viewer, { values, error: err.message }));
    }
    return reply
      .code(303)
      .header('location', `${USERS_URL}?added=${encodeURIComponent(values.login)}`)
      .send();
  });
}
