/** `/`: the search box, every repository the viewer may read (a proxy with its upstream's health), and what changed lately. */
import type { FastifyInstance } from 'fastify';
import { publicBaseUrl } from '../../http/base-url.js';
import type { Repo } from '../../registry/repos.js';
import { entryCounts, recentEntries, type ListedEntry } from '../../registry/search/index.js';
import { proxyStats, type ProxyStats } from '../../upstream/proxy-stats.js';
import { EntryList, FormatBadge, repoUrl } from '../components.js';
import { Layout } from '../layout.js';
import { HEALTH_MEANING, ProxyCardFacts } from '../proxy-facts.js';
import { sendPage } from '../render.js';
import { readableRepos, viewerOf, type Viewer } from '../viewer.js';
import type { WebContext } from '../context.js';

export interface RepoCard {
  repo: Repo;
  packages: number;
  /** The URL a client is configured with. */
  url: string | null;
  /** What a proxy holds and how its upstream is doing (absent for other repos). */
  proxy?: ProxyStats;
}

export function HomePage({ viewer, cards, recent }: { viewer: Viewer; cards: RepoCard[]; recent: ListedEntry[] }) {
  const names = new Map(cards.map((c) => [c.repo.id, c.repo.name]));
  return (
    <Layout title="Larder" viewer={viewer}>
      <section class="hero">
        <h1>Find a package</h1>
        <form action="/-/search" method="get" role="search" aria-label="Every repository">
          <label class="sr-only" for="hero-search">
            Search every repository
          </label>
          <input id="hero-search" type="search" name="q" placeholder="Name, keyword or description" autocomplete="off" />
          <button type="submit">Search</button>
        </form>
      </section>
      <h2>Repositories</h2>
      <ul class="cards">
        {cards.map((c) => (
          <li class="card" key={c.repo.name}>
            <h3>
              <a href={repoUrl(c.repo.name)}>{c.repo.name}</a>
            </h3>
            <p>
              <FormatBadge format={c.repo.format} /> <span class="badge">{c.repo.kind}</span>{' '}
              {c.repo.visibility === 'private' && <span class="badge private">private</span>}
            </p>
            <p class="muted">
              {c.packages} {c.packages === 1 ? 'package' : 'packages'}
              {c.repo.kind === 'group' && <> · group of {(c.repo.members ?? []).join(', ')}</>}
            </p>
            {c.proxy && <ProxyCardFacts stats={c.proxy} />}
          </li>
        ))}
      </ul>
      {cards.some((c) => c.proxy) && <p class="muted">{HEALTH_MEANING}</p>}
      <h2>Recently published</h2>
      {recent.length ? <EntryList entries={recent} repoNames={names} /> : <p class="muted">Nothing published yet.</p>}
    </Layout>
  );
}

/** Registers `/`. */
export function homeRoute(app: FastifyInstance, web: WebContext): void {
  app.get('/', async (req, reply) => {
    const viewer = await viewerOf(web.registry, req, reply);
    const repos = readableRepos(web.registry, viewer);
    const ids = repos.map((r) => r.id);
    const [counts, recent, proxies] = await Promise.all([
      entryCounts(web.registry.db, ids),
      recentEntries(web.registry.db, { repoIds: ids, limit: 10 }),
      proxyStats(web.registry, repos),
    ]);
    const base = publicBaseUrl(web.registry.config, req);
    const cards = repos.map((repo) => ({
      repo,
      packages: web.membersOf(repo).reduce((n, m) => n + (counts.get(m.id) ?? 0), 0),
      url: web.registry.formats.get(repo.format)?.clientSetup(repo, base, {}).url ?? null,
      proxy: proxies.get(repo.id),
    }));
    return sendPage(reply, <HomePage viewer={viewer} cards={cards} recent={recent} />);
  });
}
