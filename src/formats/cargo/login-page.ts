import type { Repo } from '../../registry/repos.js';
import { cargoClientSnippet, cargoRegistryName } from './client-setup.js';
import type { CargoUrls } from './urls.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page `cargo login` points users at: how to get a token and what to configure. */
export function loginPage(repo: Repo, urls: CargoUrls, login: string | null): string {
  const snippet = cargoClientSnippet(repo, urls);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Larder — log in to ${escapeHtml(repo.name)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
<body>
<h1>Cargo registry <code>${escapeHtml(repo.name)}</code></h1>
${login ? `<p>You are authenticated as <b>${escapeHtml(login)}</b>.</p>` : ''}
<h2>1. Get a token</h2>
<p>An administrator creates one on the server and gives it to you (it is shown once):</p>
<pre>larder token create --user YOUR_LOGIN --scopes publish,yank,owners --repo ${escapeHtml(repo.name)}</pre>
<h2>2. Configure Cargo</h2>
<pre>${escapeHtml(snippet)}</pre>
<h2>3. Log in</h2>
<pre>cargo login --registry ${escapeHtml(cargoRegistryName(repo))}</pre>
<p>Cargo stores the token in <code>$CARGO_HOME/credentials.toml</code> without contacting the server.</p>
</body></html>
`;
}
