/**
 * `/-/admin/audit` (admins only): the audit log newest first, a page at a time, filtered by actor, subject, action
 * and repository. The filters are a GET form, so a filtered view is a link; entries of repositories the admin's
 * token may not read are left out.
 */
import type { FastifyInstance } from 'fastify';
import { listAudit, type AuditRow } from '../../registry/audit.js';
import type { Repo } from '../../registry/repos.js';
import { AdminNav } from '../admin-nav.js';
import { DateTimeText, RepoSelect, TableWrap } from '../components.js';
import type { WebContext } from '../context.js';
import { adminViewer, type SignedInViewer } from '../guards.js';
import { Layout } from '../layout.js';
import { sendPage } from '../render.js';
import { readableRepos } from '../viewer.js';

/** Entries per page. */
export const AUDIT_PAGE_SIZE = 50;
const AUDIT_URL = '/-/admin/audit';

export interface AuditQuery {
  actor: string;
  subject: string;
  action: string;
  repo: string;
  /** Entries older than this id; null for the newest. */
  before: number | null;
}

/** Reads the filters as the page understands them (anything odd becomes "no filter"). */
export function auditQueryOf(raw: Record<string, unknown>): AuditQuery {
  const text = (key: string) => (typeof raw[key] === 'string' ? (raw[key] as string).trim().slice(0, 500) : '');
  const before = /^\d{1,15}$/.test(text('before')) ? Number(text('before')) : null;
  return { actor: text('actor'), subject: text('subject'), action: text('action'), repo: text('repo'), before };
}

/** The URL of the same filters, another page. */
function auditUrl(q: AuditQuery, before: number | null): string {
  const params = new URLSearchParams();
  for (const key of ['actor', 'subject', 'action', 'repo'] as const) if (q[key]) params.set(key, q[key]);
  if (before !== null) params.set('before', String(before));
  const query = params.toString();
  return query ? `${AUDIT_URL}?${query}` : AUDIT_URL;
}

interface AuditPageProps {
  viewer: SignedInViewer;
  query: AuditQuery;
  entries: AuditRow[];
  /** Whether older entries match too. */
  more: boolean;
  repos: Repo[];
  repoNames: ReadonlyMap<number, string>;
}

export function AuditPage({ viewer, query, entries, more, repos, repoNames }: AuditPageProps) {
  return (
    <Layout title="Audit log" viewer={viewer}>
      <h1>Audit log</h1>
      <AdminNav current={AUDIT_URL} />
      <form class="filters" method="get" action={AUDIT_URL}>
        <label>
          Actor
          <input type="text" name="actor" value={query.actor} placeholder="login" />
        </label>
        <label>
          Package or subject
          <input type="text" name="subject" value={query.subject} placeholder="name@version" />
        </label>
        <label>
          Action
          <input type="text" name="action" value={query.action} placeholder="cargo.publish" />
        </label>
        <RepoSelect repos={repos} selected={query.repo} />
        <button type="submit">Filter</button>
      </form>
      {entries.length === 0 ? (
        <p class="muted" role="status">
          No entries match.
        </p>
      ) : (
        <TableWrap label="Audit log">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Repository</th>
                <th scope="col">Subject</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id}>
                  <td>
                    <DateTimeText at={e.at} />
                  </td>
                  <td>{e.login ?? <span class="muted">nobody</span>}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>{e.repoId === null ? <span class="muted">none</span> : (repoNames.get(e.repoId) ?? `#${e.repoId}`)}</td>
                  <th scope="row">{e.subject}</th>
                  <td>{e.detail ? <code>{e.detail}</code> : <span class="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <nav class="pages" aria-label="Audit pages">
        {query.before !== null && <a href={auditUrl(query, null)}>Newest</a>}
        {more && (
          <a href={auditUrl(query, entries.at(-1)!.id)} rel="next">
            Older
          </a>
        )}
      </nav>
    </Layout>
  );
}

/** Registers the audit log page. */
export function adminAuditRoute(app: FastifyInstance, web: WebContext): void {
  app.get(AUDIT_URL, async (req, reply) => {
    const viewer = await adminViewer(web, req, reply, 'the audit log');
    if (!viewer) return reply;
    const query = auditQueryOf(req.query as Record<string, unknown>);
    const repos = readableRepos(web.registry, viewer);
    // An unknown (or unreadable) repository matches nothing rather than everything.
    const repoId = query.repo ? (repos.find((r) => r.name === query.repo)?.id ?? -1) : undefined;
    const rows = await listAudit(web.registry.db, {
      ...(query.actor ? { actor: query.actor } : {}),
      ...(query.subject ? { subject: query.subject } : {}),
      ...(query.action ? { action: query.action } : {}),
      ...(repoId !== undefined ? { repoId } : {}),
      ...(query.before !== null ? { before: query.before } : {}),
      visibleRepoIds: repos.map((r) => r.id),
      limit: AUDIT_PAGE_SIZE + 1,
    });
    const repoNames = web.repoNames;
    return sendPage(
      reply,
      <AuditPage
        viewer={viewer}
        query={query}
        entries={rows.slice(0, AUDIT_PAGE_SIZE)}
        more={rows.length > AUDIT_PAGE_SIZE}
        repos={repos}
        repoNames={repoNames}
      />,
    );
  });
}
