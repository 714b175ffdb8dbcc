/**
 * `/-/admin/repos` (admins only): every repository the admin's token may read, with its format, kind, visibility,
 * package count and client URL; a proxy also with its upstream, health, cache size and stale documents.
 */
import type { FastifyInstance } from 'fastify';
import { publicBaseUrl } from '../../http/base-url.js';
import type { Repo } from '../../registry/repos.js';
import { entryCounts } from '../../registry/search/index.js';
import { proxyStats, type ProxyStats } from '../../upstream/proxy-stats.js';
import { AdminNav } from '../admin-nav.js';
import { FormatBadge, TableWrap, repoUrl } from '../components.js';
import type { WebContext } from '../context.js';
import { adminViewer, type SignedInViewer } from '../guards.js';
import { Layout } from '../layout.js';
import { CacheText, HEALTH_MEANING, StaleText, UpstreamHealth } from '../proxy-facts.js';
import { sendPage } from '../render.js';
import { readableRepos } from '../viewer.js';

export interface RepoRow {
  repo: Repo;
  packages: number;
  url: string | null;
  proxy?: ProxyStats;
}

const NONE = <span class="muted">—</span>;

export function AdminReposPage({ viewer, rows }: { viewer: SignedInViewer; rows: RepoRow[] }) {
  return (
    <Layout title="Repositories" viewer={viewer}>
      <h1>Repositories</h1>
      <AdminNav current="/-/admin/repos" />
      <TableWrap label="Repositories">
        <table>
          <thead>
            <tr>
              <th scope="col">Repository</th>
              <th scope="col">Format</th>
              <th scope="col">Kind</th>
              <th scope="col">Visibility</th>
              <th scope="col">Packages</th>
              <th scope="col">Client URL</th>
              <th scope="col">Upstream</th>
              <th scope="col">Health</th>
              <th scope="col">Cache</th>
              <th scope="col">Stale documents</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ repo, packages, url, proxy }) => (
              <tr key={repo.name}>
                <th scope="row">
                  <a href={repoUrl(repo.name)}>{repo.name}</a>
                </th>
                <td>
                  <FormatBadge format={repo.format} />
                </td>
                <td>
                  {repo.kind}
                  {repo.members?.length ? <span class="muted"> of {repo.members.join(', ')}</span> : null}
                </td>
                <td>{repo.visibility}</td>
                <td>{packages}</td>
                <td>{url ? <code>{url}</code> : NONE}</td>
                <td>{proxy ? proxy.upstream : NONE}</td>
                <td>{proxy ? <UpstreamHealth stats={proxy} detail /> : NONE}</td>
                <td>{proxy ? <CacheText stats={proxy} /> : NONE}</td>
                <td>{proxy ? <StaleText stats={proxy} /> : NONE}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <p class="muted">{HEALTH_MEANING}</p>
    </Layout>
  );
}

/** Registers the repository overview. */
export function adminReposRoute(app: FastifyInstance, web: WebContext): void {
  app.get('/-/admin/repos', async (req, reply) => {
    const viewer = await adminViewer(web, req, reply, 'the repository overview');
    if (!viewer) return reply;
    // An admin token limited to some repositories sees only those, as on every page.
    const repos = readableRepos(web.registry, viewer);
    const [counts, proxies] = await Promise.all([
      entryCounts(
        web.registry.db,
        repos.map((r) => r.id),
      ),
      proxyStats(web.registry, repos),
    ]);
    const base = publicBaseUrl(web.registry.config, req);
    const rows = repos.map((repo) => ({
      repo,
      packages: web.membersOf(repo).reduce((n, m) => n + (counts.get(m.id) ?? 0), 0),
      url: web.registry.formats.get(repo.format)?.clientSetup(repo, base, {}).url ?? null,
      proxy: proxies.get(repo.id),
    }));
    return sendPage(reply, <AdminReposPage viewer={viewer} rows={rows} />);
  });
}
