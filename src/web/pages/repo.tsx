/** `/-/repos/{repo}`: how to configure a client for the repo, and its packages by name. */
import type { FastifyInstance } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { publicBaseUrl } from '../../http/base-url.js';
import type { ClientSetup } from '../../registry/format.js';
import type { Repo } from '../../registry/repos.js';
import { searchPackages, type SearchResult } from '../../registry/search/index.js';
import { EntryList, FormatBadge, repoUrl, Snippet } from '../components.js';
import type { WebContext } from '../context.js';
import { Layout } from '../layout.js';
import { sendPage } from '../render.js';
import { canRead, viewerOf, type Viewer } from '../viewer.js';

const PAGE_SIZE = 50;

interface RepoPageProps {
  viewer: Viewer;
  repo: Repo;
  setup: ClientSetup | null;
  packages: SearchResult;
  page: number;
  repoNames: ReadonlyMap<number, string>;
}

export function RepoPage({ viewer, repo, setup, packages, page, repoNames }: RepoPageProps) {
  const pages = Math.max(1, Math.ceil(packages.total / PAGE_SIZE));
  return (
    <Layout title={repo.name} viewer={viewer}>
      <h1>{repo.name}</h1>
      <p>
        <FormatBadge format={repo.format} /> <span class="badge">{repo.kind}</span>{' '}
        {repo.visibility === 'private' && <span class="badge private">private</span>}
        {repo.upstream && <span class="muted"> · proxy of {repo.upstream}</span>}
        {repo.members?.length ? (
          <span class="muted"> · group of {repo.members.map((m, i) => [i > 0 && ', ', <a href={repoUrl(m)}>{m}</a>])}</span>
        ) : null}
      </p>
      {setup && (
        <section aria-labelledby="setup-h">
          <h2 id="setup-h">Set up your client</h2>
          <p>
            <code>{setup.url}</code>
          </p>
          <Snippet id="setup-snippet" snippet={{ label: 'Configuration', code: setup.snippet }} />
        </section>
      )}
      <section aria-labelledby="packages-h">
        <h2 id="packages-h">Packages ({packages.total})</h2>
        {packages.total === 0 ? <p class="muted">No packages yet.</p> : <EntryList entries={packages.hits} repoNames={repoNames} />}
        {pages > 1 && (
          <nav class="pages" aria-label="Package pages">
            {page > 1 && <a href={`${repoUrl(repo.name)}?page=${page - 1}`}>Previous</a>}
            {page < pages && <a href={`${repoUrl(repo.name)}?page=${page + 1}`}>Next</a>}
          </nav>
        )}
      </section>
    </Layout>
  );
}

/** Registers the repository pages. */
export function repoRoute(app: FastifyInstance, web: WebContext): void {
  app.get('/-/repos/:repo', async (req, reply) => {
    const viewer = await viewerOf(web.registry, req, reply);
    const name = (req.params as { repo: string }).repo;
    const repo = web.registry.repos.get(name);
    if (!repo || !canRead(viewer, repo)) throw new LarderError('REPO_NOT_FOUND', `no repository "${name}"; the start page lists them`);
    const pageParam = Number.parseInt(String((req.query as Record<string, unknown>).page ?? '1'), 10);
    const page = Number.isSafeInteger(pageParam) && pageParam > 0 ? pageParam : 1;
    const members = web.membersOf(repo).filter((r) => canRead(viewer, r));
    const packages = await searchPackages(web.registry.db, web.registry.dialect, {
      query: '',
      repoIds: members.map((r) => r.id),
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    });
    const setup = web.registry.formats.get(repo.format)?.clientSetup(repo, publicBaseUrl(web.registry.config, req), {}) ?? null;
    const repoNames = web.repoNames;
    return sendPage(reply, <RepoPage viewer={viewer} repo={repo} setup={setup} packages={packages} page={page} repoNames={repoNames} />);
  });
}
