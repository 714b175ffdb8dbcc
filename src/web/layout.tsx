/** The frame of every page: skip link, header with the search box and the viewer's links, main, footer. */
import type { ComponentChildren } from 'preact';
import { assetUrl, SCRIPT, STYLE } from './assets/index.js';
import { viewerIsAdmin, type Viewer } from './viewer.js';

export interface LayoutProps {
  title: string;
  viewer: Viewer;
  /** What the header's search box shows. */
  query?: string;
  children: ComponentChildren;
}

/** The whole document; `title` becomes "title · Larder". */
export function Layout({ title, viewer, query, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{title === 'Larder' ? title : `${title} · Larder`}</title>
        <link rel="stylesheet" href={assetUrl(STYLE)} />
        <script src={assetUrl(SCRIPT)} defer></script>
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="site">
          <div class="bar">
            <a class="brand" href="/">
              Larder
            </a>
            <form class="search" role="search" aria-label="Site" action="/-/search" method="get">
              <label class="sr-only" for="site-search">
                Search packages
              </label>
              <input id="site-search" type="search" name="q" value={query ?? ''} placeholder="Search packages" autocomplete="off" />
              <button type="submit">Search</button>
            </form>
            <nav aria-label="Account">
              <ViewerLinks viewer={viewer} />
            </nav>
          </div>
        </header>
        <main id="main">{children}</main>
        <footer class="site">Larder: Cargo, Bazel, Julia, MoonBit and Brioche in one registry.</footer>
      </body>
    </html>
  );
}

function ViewerLinks({ viewer }: { viewer: Viewer }) {
  if (!viewer.principal || !viewer.session) {
    return (
      <ul>
        <li>
          <a href="/-/sign-in">Sign in</a>
        </li>
      </ul>
    );
  }
  return (
    <ul>
      <li>
        <a href="/-/account/packages">My packages</a>
      </li>
      <li>
        <a href="/-/account/tokens">Tokens</a>
      </li>
      {viewerIsAdmin(viewer) && (
        <li>
          <a href="/-/admin/users">Admin</a>
        </li>
      )}
      <li>
        <form method="post" action="/-/sign-out">
          <CsrfField viewer={viewer} />
          <button class="link" type="submit">
            Sign out {viewer.principal.login}
          </button>
        </form>
      </li>
    </ul>
  );
}

/** The hidden CSRF field every form of a signed-in page carries. */
export function CsrfField({ viewer }: { viewer: Viewer }) {
  return viewer.session ? <input type="hidden" name="_csrf" value={viewer.session.csrf} /> : null;
}
