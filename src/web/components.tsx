/** Small pieces several pages share: package links, format badges, snippets with copy buttons, result lists. */
import type { ComponentChildren } from 'preact';
import type { ListedEntry } from '../registry/search/index.js';
import type { UsageSnippet } from '../registry/package-view.js';

/** The URL of a package page; canonical ids may hold `/` (MoonBit's `user/module`), kept as path segments. */
export function packageUrl(repo: string, pkg: string, version?: string): string {
  const path = `/-/packages/${encodeURIComponent(repo)}/${pkg.split('/').map(encodeURIComponent).join('/')}`;
  return version === undefined ? path : `${path}?version=${encodeURIComponent(version)}`;
}

/** The URL of a repository's page. */
export function repoUrl(repo: string): string {
  return `/-/repos/${encodeURIComponent(repo)}`;
}

const FORMAT_NAMES: Record<string, string> = { cargo: 'Cargo', bazel: 'Bazel', julia: 'Julia', moonbit: 'MoonBit', brioche: 'Brioche' };

/** How people write a format's name. */
export function formatName(format: string): string {
  return FORMAT_NAMES[format] ?? format;
}

export function FormatBadge({ format }: { format: string }) {
  return <span class="badge format">{formatName(format)}</span>;
}

/** A date as people read it, in UTC so every node renders the same page. */
export function DateText({ at }: { at: number | null }) {
  if (at === null || !Number.isFinite(at) || at <= 0) return <span class="muted">unknown</span>;
  const iso = new Date(at).toISOString();
  return <time datetime={iso}>{iso.slice(0, 10)}</time>;
}

/** A moment to the minute, in UTC ("2026-12-02 05:41 UTC"): last use of a token, an audit entry, an upstream answer. */
export function DateTimeText({ at }: { at: number | null }) {
  if (at === null || !Number.isFinite(at) || at <= 0) return <span class="muted">never</span>;
  const iso = new Date(at).toISOString();
  return <time datetime={iso}>{`${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`}</time>;
}

/** A code block with a copy button (the button copies the block's text; without JavaScript the text is selectable). */
export function Snippet({ id, snippet }: { id: string; snippet: UsageSnippet }) {
  return (
    <figure class="snippet">
      <figcaption>
        <span>{snippet.label}</span>
        <button type="button" class="copy secondary" data-copy={id} aria-label={`Copy ${snippet.label}`}>
          Copy
        </button>
      </figcaption>
      <pre>
        <code id={id}>{snippet.code}</code>
      </pre>
      {snippet.note && <p class="muted">{snippet.note}</p>}
    </figure>
  );
}

/** The repository filter of a GET form (search, audit log): every repository, or one by name. */
export function RepoSelect({ repos, selected }: { repos: ReadonlyArray<{ name: string }>; selected: string }) {
  return (
    <label>
      Repository
      <select name="repo">
        <option value="">Every repository</option>
        {repos.map((r) => (
          <option value={r.name} selected={r.name === selected}>
            {r.name}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * A wide table's scroll box. Keyboard users must be able to scroll it (axe: scrollable-region-focusable), so it takes
 * focus, and as a focusable region it needs a name.
 */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabindex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

/** A list of packages (search hits, recent publishes, dependents), each with its repo and format. */
export function EntryList({ entries, repoNames }: { entries: ListedEntry[]; repoNames: ReadonlyMap<number, string> }) {
  return (
    <ol class="hits">
      {entries.map((e) => {
        const repo = repoNames.get(e.repoId) ?? '?';
        return (
          <li key={`${e.repoId}/${e.package}`}>
            <a class="name" href={packageUrl(repo, e.package)}>
              {e.name}
            </a>{' '}
            {e.latestVersion && <span class="muted">{e.latestVersion}</span>} <FormatBadge format={e.format} />{' '}
            <span class="badge">{repo}</span>
            {e.description && <p>{e.description}</p>}
          </li>
        );
      })}
    </ol>
  );
}
