/**
 * A stand-in package view for formats whose own `FormatCore.web` has not been written yet, so the browser tests
 * can check the package page template (layout, snippets, accessibility) on every format today. It shows only what
 * the shared search entry knows; a format's real part replaces it as soon as the format has one.
 */
import type { FormatPlugin } from '../../src/http/format-plugin.js';
import type { PackageView, WebParts } from '../../src/registry/package-view.js';

/** Says on the page itself that the view is the tests' stand-in, so no screenshot passes for a format's real page. */
export const STAND_IN_FACT = { label: 'Page', value: 'test stand-in (this format has no package page yet)' };

/** A view built from the package's search entry: its name, latest version and description, and one snippet. */
export const standInWebParts: WebParts = {
  async packageView({ registry, repo }, pkg, version) {
    const entry = await registry.db
      .selectFrom('search_entries')
      .selectAll()
      .where('repo_id', '=', repo.id)
      .where('package', '=', pkg)
      .executeTakeFirst();
    if (!entry?.latest_version || (version !== undefined && version !== entry.latest_version)) return null;
    const view: PackageView = {
      package: entry.package,
      name: entry.name,
      version: entry.latest_version,
      latest: entry.latest_version,
      description: entry.description,
      license: null,
      keywords: entry.keywords ? entry.keywords.split(' ') : [],
      links: [],
      versions: [{ version: entry.latest_version, publishedAt: Number(entry.updated_at), yanked: false, yankReason: null }],
      dependencies: [],
      facts: [STAND_IN_FACT],
    };
    return view;
  },
  usage(repo, baseUrl, view) {
    return [{ label: 'Stand-in snippet', code: `${view.name} ${view.version} from ${baseUrl}/${repo.name}` }];
  },
};

/** `formats` with the stand-in filled in wherever a format has no web part of its own. */
export function withStandInPages(formats: FormatPlugin[]): FormatPlugin[] {
  return formats.map((f) => (f.web ? f : { ...f, web: standInWebParts }));
}
