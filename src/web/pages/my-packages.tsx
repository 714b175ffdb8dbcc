/** `/-/account/packages`: the packages the viewer owns, in the repositories the viewer may read, linking to their pages. */
import type { FastifyInstance } from 'fastify';
import { packagesOwnedBy, type OwnedPackage } from '../../registry/owned-packages.js';
import { DateText, FormatBadge, TableWrap, packageUrl, repoUrl } from '../components.js';
import type { WebContext } from '../context.js';
import { signedInViewer, type SignedInViewer } from '../guards.js';
import { Layout } from '../layout.js';
import { sendPage } from '../render.js';
import { canRead, readableRepos } from '../viewer.js';

interface Row {
  repo: { name: string; format: string };
  owned: OwnedPackage;
}

export function MyPackagesPage({ viewer, rows }: { viewer: SignedInViewer; rows: Row[] }) {
  return (
    <Layout title="My packages" viewer={viewer}>
      <h1>My packages</h1>
      <p class="muted">
        The packages {viewer.principal.login} owns: publishing, yanking and changing owners of them is yours (with a token that has the
        scope).
      </p>
      {rows.length === 0 ? (
        <p>You own no packages yet: the first publish of a package makes its publisher an owner.</p>
      ) : (
        <TableWrap label="My packages">
          <table>
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Latest version</th>
                <th scope="col">Repository</th>
                <th scope="col">Format</th>
                <th scope="col">Owner since</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ repo, owned }) => (
                <tr key={`${repo.name}/${owned.package}`}>
                  <th scope="row">
                    <a href={packageUrl(repo.name, owned.package)}>{owned.name ?? owned.package}</a>
                  </th>
                  <td>{owned.latestVersion ?? <span class="muted">none installable</span>}</td>
                  <td>
                    <a href={repoUrl(repo.name)}>{repo.name}</a>
                  </td>
                  <td>
                    <FormatBadge format={owned.format ?? repo.format} />
                  </td>
                  <td>
                    <DateText at={owned.since} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </Layout>
  );
}

/** Registers the viewer's package list. */
export function myPackagesRoute(app: FastifyInstance, web: WebContext): void {
  app.get('/-/account/packages', async (req, reply) => {
    const viewer = await signedInViewer(web, req, reply);
    if (!viewer) return reply;
    const repos = new Map(readableRepos(web.registry, viewer).map((r) => [r.id, r]));
    const owned = await packagesOwnedBy(web.registry.db, viewer.principal.userId, [...repos.keys()]);
    // A token limited to some packages of a private repo sees only those, as everywhere else.
    const rows = owned.flatMap((o) => {
      const repo = repos.get(o.repoId)!;
      return canRead(viewer, repo, o.package) ? [{ repo, owned: o }] : [];
    });
    return sendPage(reply, <MyPackagesPage viewer={viewer} rows={rows} />);
  });
}
