/**
 * `/-/search`: ranked hits over every repository the viewer may read (exact name, then prefix, then text),
 * filtered by format and repository. With `fragment=1` only the results region is sent (search-as-you-type).
 */
import type { FastifyInstance } from 'fastify';
import { searchPackages, type SearchResult } from '../../registry/search/index.js';
import type { Repo } from '../../registry/repos.js';
import type { Source } from '../../registry/source.js';
import { EntryList, RepoSelect, formatName } from '../components.js';
import { Layout } from '../layout.js';
import { sendPage } from '../render.js';
import { canRead, readableRepos, viewerOf, type Viewer } from '../viewer.js';
import type { WebContext } from '../context.js';

/** Hits per page. */
export const PAGE_SIZE = 20;

export interface SearchQuery {
  q: string;
  format: string;
  repo: string;
  page: number;
}

interface ResultsProps {
  query: SearchQuery;
  result: SearchResult;
  repoNames: ReadonlyMap<number, string>;
}

function Results({ query, result, repoNames }: ResultsProps) {
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  const link = (page: number) => {
    const params = new URLSearchParams({ q: query.q });
    if (query.format) params.set('format', query.format);
    if (query.repo) params.set('repo', query.repo);
    if (page > 1) params.set('page', String(page));
    return `/-/search?${params}`;
  };
  return (
    <>
      <p class="muted" role="status">
        {result.total === 0 ? 'No packages match.' : `${result.total} ${result.total === 1 ? 'package' : 'packages'}`}
        {pages > 1 && ` · page ${query.page} of ${pages}`}
      </p>
      <EntryList entries={result.hits} repoNames={repoNames} />
      {pages > 1 && (
        <nav class="pages" aria-label="Result pages">
          {query.page > 1 && (
            <a href={link(query.page - 1)} rel="prev">
              Previous
            </a>
          )}
          {query.page < pages && (
            <a href={link(query.page + 1)} rel="next">
              Next
            </a>
          )}
        </nav>
      )}
    </>
  );
}

export function SearchPage(props: ResultsProps & { viewer: Viewer; repos: Repo[]; formats: string[] }) {
  const { query, viewer, repos, formats } = props;
  return (
    <Layout title={query.q ? `Search: ${query.q}` : 'Search'} viewer={viewer} query={query.q}>
      <h1>Search</h1>
      <form class="filters" action="/-/search" method="get" role="search" aria-label="Filtered" data-live-search>
        <label>
          Words
          <input type="search" name="q" value={query.q} autocomplete="off" />
        </label>
        <label>
          Format
          <select name="format">
            <option value="">Every format</option>
            {formats.map((f) => (
              <option value={f} selected={f === query.format}>
                {formatName(f)}
              </option>
            ))}
          </select>
        </label>
        <RepoSelect repos={repos} selected={query.repo} />
        <button type="submit">Search</button>
      </form>
      <div id="results" aria-live="polite">
        <Results {...props} />
      </div>
    </Layout>
  );
}

/** Reads the query string as the page understands it (anything odd becomes the default). */
export function searchQueryOf(raw: Record<string, unknown>): SearchQuery {
  const text = (key: string) => (typeof raw[key] === 'string' ? (raw[key] as string) : '');
  const page = Number.parseInt(text('page'), 10);
  return { q: text('q'), format: text('format'), repo: text('repo'), page: Number.isSafeInteger(page) && page > 0 ? page : 1 };
}

/** Registers `/-/search`. */
export function searchRoute(app: FastifyInstance, web: WebContext): void {
  app.get('/-/search', async (req, reply) => {
    const viewer = await viewerOf(web.registry, req, reply);
    const query = searchQueryOf(req.query as Record<string, unknown>);
    const repos = readableRepos(web.registry, viewer);
    const chosen = query.repo ? repos.filter((r) => r.name === query.repo) : repos;
    const scope = [...new Map(chosen.flatMap((r) => web.membersOf(r)).map((r) => [r.id, r])).values()].filter((r) => canRead(viewer, r));
    const formats = [...new Set(repos.map((r) => r.format))];
    // Searching one group: a package several members hold is listed once, from the member the group serves it from.
    const readable = new Set(scope.map((r) => r.id));
    const order = chosen.length === 1 ? lookupOrder(web.registry.sources.get(chosen[0]!.name)).filter((r) => readable.has(r.id)) : [];
    const result = await searchPackages(web.registry.db, web.registry.dialect, {
      query: query.q,
      repoIds: scope.map((r) => r.id),
      formats: query.format ? [query.format] : [],
      onePerPackage: order.map((r) => r.id),
      limit: PAGE_SIZE,
      offset: (query.page - 1) * PAGE_SIZE,
    });
    // A token limited to some packages of a private repo sees only those.
    const byId = new Map(scope.map((r) => [r.id, r]));
    result.hits = result.hits.filter((h) => {
      const repo = byId.get(h.repoId);
      return repo !== undefined && canRead(viewer, repo, h.package);
    });
    const repoNames = web.repoNames;
    if ((req.query as Record<string, unknown>).fragment === '1') {
      return sendPage(reply, <Results query={query} result={result} repoNames={repoNames} />, true);
    }
    return sendPage(
      reply,
      <SearchPage query={query} result={result} repoNames={repoNames} viewer={viewer} repos={repos} formats={formats} />,
    );
  });
}

/** The repos a group looks a package up in, in its order (nested groups expanded); none for a repo holding its own files. */
function lookupOrder(source: Source | undefined): Repo[] {
  return source?.members ? source.members.flatMap((m) => (m.members ? lookupOrder(m) : [m.repo])) : [];
}
