/**
 * `/-/packages/{repo}/{package}[?version=]`: everything a user checks before depending on a package, and the
 * exact snippet to do it. The format supplies the view and the snippets; owners, downloads, the README and the
 * dependents come from below the formats.
 */
import type { FastifyInstance } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { publicBaseUrl } from '../../http/base-url.js';
import type { PackageView, UsageSnippet } from '../../registry/package-view.js';
import type { Repo } from '../../registry/repos.js';
import { DateText, EntryList, FormatBadge, Snippet, TableWrap, packageUrl, repoUrl } from '../components.js';
import type { WebContext } from '../context.js';
import { Layout } from '../layout.js';
import { packageFacts, type PackageFacts } from '../package-facts.js';
import { sendPage } from '../render.js';
import { canRead, readableRepos, viewerOf, type Viewer } from '../viewer.js';

interface PackagePageProps {
  viewer: Viewer;
  repo: Repo;
  view: PackageView;
  facts: PackageFacts;
  usage: UsageSnippet[];
  /** Groups the viewer may read that serve this repo too. */
  groups: Repo[];
  repoNames: ReadonlyMap<number, string>;
}

const safeLink = (url: string) => /^https?:\/\//i.test(url);

export function PackagePage({ viewer, repo, view, facts, usage, groups, repoNames }: PackagePageProps) {
  const shown = view.versions.find((v) => v.version === view.version);
  return (
    <Layout title={`${view.name} ${view.version}`} viewer={viewer}>
      <p class="muted">
        <a href={repoUrl(repo.name)}>{repo.name}</a> <FormatBadge format={repo.format} />
      </p>
      <h1>
        {view.name} <span class="muted">{view.version}</span> {shown?.yanked && <span class="badge yanked">yanked</span>}
      </h1>
      {view.description && <p>{view.description}</p>}
      {shown?.yanked && (
        <p class="notice error">
          This version is yanked{shown.yankReason ? `: ${shown.yankReason}` : ''}.{' '}
          {view.latest && view.latest !== view.version && (
            <>
              The latest version is <a href={packageUrl(repo.name, view.package, view.latest)}>{view.latest}</a>.
            </>
          )}
        </p>
      )}
      <div class="grid">
        <div>
          <section aria-labelledby="readme-h">
            <h2 id="readme-h">README</h2>
            {facts.readmeHtml ? (
              <article class="readme" dangerouslySetInnerHTML={{ __html: facts.readmeHtml }} />
            ) : (
              <p class="muted">This version has no README here.</p>
            )}
          </section>
          <section aria-labelledby="versions-h">
            <h2 id="versions-h">Versions ({view.versions.length})</h2>
            <TableWrap label="Versions">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">Published</th>
                    <th scope="col">Downloads</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {view.versions.map((v) => (
                    <tr key={v.version}>
                      <td>
                        <a
                          href={packageUrl(repo.name, view.package, v.version)}
                          aria-current={v.version === view.version ? 'page' : undefined}
                        >
                          {v.version}
                        </a>
                      </td>
                      <td>
                        <DateText at={v.publishedAt} />
                      </td>
                      <td>{facts.downloads.byVersion.get(v.version) ?? 0}</td>
                      <td>
                        {v.yanked ? (
                          <>
                            <span class="badge yanked">yanked</span> {v.yankReason}
                          </>
                        ) : v.version === view.latest ? (
                          'latest'
                        ) : (
                          ''
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </section>
          <section aria-labelledby="deps-h">
            <h2 id="deps-h">Dependencies of {view.version}</h2>
            {view.dependencies.length === 0 ? (
              <p class="muted">None.</p>
            ) : (
              <ul>
                {view.dependencies.map((d) => (
                  <li key={`${d.name} ${d.kind}`}>
                    {d.package ? <a href={packageUrl(repo.name, d.package)}>{d.name}</a> : d.name}{' '}
                    {d.requirement && <code>{d.requirement}</code>} {d.kind && <span class="badge">{d.kind}</span>}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="dependents-h">
            <h2 id="dependents-h">Depended on by ({facts.dependents.length})</h2>
            {facts.dependents.length === 0 ? (
              <p class="muted">No package here depends on it.</p>
            ) : (
              <EntryList entries={facts.dependents} repoNames={repoNames} />
            )}
          </section>
        </div>
        <aside>
          <section aria-labelledby="use-h">
            <h2 id="use-h">Use it</h2>
            {usage.map((s, i) => (
              <Snippet id={`snippet-${i}`} snippet={s} key={s.label} />
            ))}
            {groups.length > 0 && (
              <p class="muted">Also served by {groups.map((g, i) => [i > 0 && ', ', <a href={repoUrl(g.name)}>{g.name}</a>])}.</p>
            )}
          </section>
          <section aria-labelledby="about-h">
            <h2 id="about-h">About</h2>
            <dl class="facts">
              <dt>License</dt>
              <dd>{view.license ?? <span class="muted">not stated</span>}</dd>
              <dt>Owners</dt>
              <dd>{facts.owners.length ? facts.owners.map((o) => o.login).join(', ') : <span class="muted">none recorded</span>}</dd>
              <dt>Downloads</dt>
              <dd>{facts.downloads.total}</dd>
              <dt>Published</dt>
              <dd>
                <DateText at={shown?.publishedAt ?? null} />
              </dd>
              {view.facts.map((f) => (
                <>
                  <dt>{f.label}</dt>
                  <dd>{f.value}</dd>
                </>
              ))}
              {view.links
                .filter((l) => safeLink(l.url))
                .map((l) => (
                  <>
                    <dt>{l.label}</dt>
                    <dd>
                      <a href={l.url} rel="nofollow noopener noreferrer">
                        {l.url.replace(/^https?:\/\//i, '')}
                      </a>
                    </dd>
                  </>
                ))}
              {view.keywords.length > 0 && (
                <>
                  <dt>Keywords</dt>
                  <dd>{view.keywords.join(', ')}</dd>
                </>
              )}
            </dl>
          </section>
        </aside>
      </div>
    </Layout>
  );
}

/** Registers the package pages. */
export function packageRoute(app: FastifyInstance, web: WebContext): void {
  app.get('/-/packages/:repo/*', async (req, reply) => {
    const viewer = await viewerOf(web.registry, req, reply);
    const params = req.params as { repo: string; '*': string };
    const version = (req.query as Record<string, unknown>).version;
    const repo = web.registry.repos.get(params.repo);
    const pkg = params['*'];
    // A repo or package the viewer may not read answers exactly as one that does not exist.
    const missing = () => new LarderError('PACKAGE_NOT_FOUND', `no package "${pkg}" in ${params.repo}; search for it from the start page`);
    if (!repo || !canRead(viewer, repo, pkg)) throw missing();
    const web_ = await web.registry.formats.get(repo.format)?.web?.();
    const source = web.registry.sources.get(repo.name);
    if (!web_ || !source) throw missing();
    const view = await web_.packageView(
      { registry: web.registry, repo, source },
      pkg,
      typeof version === 'string' && version ? version : undefined,
    );
    if (!view)
      throw typeof version === 'string' && version
        ? new LarderError('VERSION_NOT_FOUND', `${pkg} has no version ${version} in ${repo.name}`)
        : missing();
    const readable = readableRepos(web.registry, viewer);
    // "Here" is the repo the page is of (a group: its members): a proxy's upstream packages depend on the upstream's
    // copy of a name, not on this repo's.
    const scope = web.membersOf(repo).filter((r) => canRead(viewer, r));
    const facts = await packageFacts(web.registry, web.membersOf(repo), view, scope);
    const groups = readable.filter((g) => g.name !== repo.name && web.membersOf(g).some((m) => m.id === repo.id));
    const usage = web_.usage(repo, publicBaseUrl(web.registry.config, req), view);
    const repoNames = web.repoNames;
    return sendPage(
      reply,
      <PackagePage viewer={viewer} repo={repo} view={view} facts={facts} usage={usage} groups={groups} repoNames={repoNames} />,
    );
  });
}
