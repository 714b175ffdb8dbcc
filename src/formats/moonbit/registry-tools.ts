/**
 * moonbit-registry-tools stores (a third-party mirror/serve tool): `registry.toml` at the root names
 * the data directory (`[registry] data_dir`, default `./data`) that holds `index/` (a clone of an
 * index, plus its own entries) and `packages/<user>/<name>/<version>.zip`; `[[sources]]` (or the
 * legacy `[upstream]`) are the registries it mirrors, tried in ascending `priority` (default 100).
 * Larder maps each enabled source onto a proxy repo and the whole onto a group.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { fail } from '../../core/errors.js';

/** One registry a store mirrors. */
export interface ToolsSource {
  name: string;
  url: string;
  priority: number;
  /** The source needs credentials the tool sent (`[sources.auth]`). */
  auth: boolean;
}

/** What Larder takes from a store's registry.toml. */
export interface ToolsConfig {
  indexDir: string;
  packagesDir: string;
  /** Enabled sources in the order the tool tries them. */
  sources: ToolsSource[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Reads `<root>/registry.toml`; a file that is not TOML is METADATA_INVALID naming it. */
export function readToolsConfig(root: string): ToolsConfig {
  const file = path.join(root, 'registry.toml');
  let doc: Record<string, unknown>;
  try {
    doc = parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    fail('METADATA_INVALID', `${file} is not valid TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  const reg = (doc.registry ?? {}) as Record<string, unknown>;
  const dataDir = path.resolve(root, str(reg.data_dir) ?? './data');
  const sources: ToolsSource[] = [];
  const listed = Array.isArray(doc.sources) ? (doc.sources as Array<Record<string, unknown>>) : [];
  for (const s of listed) {
    const url = str(s.url);
    if (s.enabled === false || !url) continue;
    const auth = s.auth as Record<string, unknown> | undefined;
    sources.push({
      name: str(s.name) ?? 'source',
      url,
      priority: typeof s.priority === 'number' ? s.priority : 100,
      auth: !!auth && auth.type !== 'none',
    });
  }
  const upstream = doc.upstream as Record<string, unknown> | undefined;
  // The legacy single upstream counts only when there are no [[sources]], as in the tool.
  if (listed.length === 0 && upstream && upstream.enabled !== false && str(upstream.url))
    sources.push({ name: 'upstream', url: str(upstream.url)!, priority: 0, auth: false });
  sources.sort((a, b) => a.priority - b.priority);
  return { indexDir: path.join(dataDir, 'index'), packagesDir: path.join(dataDir, 'packages'), sources };
}

/** A Larder repo name (`[a-z0-9][a-z0-9._-]*`) for a source name. */
function repoName(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 56) || 'source';
  let out = base;
  for (let i = 2; taken.has(out); i++) out = `${base}-${i}`;
  taken.add(out);
  return out;
}

/**
 * The `[[repos]]` blocks to paste into larder.toml so that Larder serves what the store did: a proxy
 * per source and a group of the hosted repo (the imported modules, first) and the proxies in the
 * tool's priority order. Larder does not write larder.toml itself.
 */
export function reposSnippet(hostedRepo: string, cfg: ToolsConfig): string {
  const taken = new Set([hostedRepo]);
  const blocks: string[] = [];
  const members = [hostedRepo];
  for (const s of cfg.sources) {
    const name = repoName(s.name, taken);
    members.push(name);
    const lines = [`# moonbit-registry-tools source "${s.name}" (priority ${s.priority})`];
    if (s.auth)
      lines.push('# It needed credentials ([sources.auth]): Larder proxies send none, so the upstream must be readable without them.');
    lines.push(
      '[[repos]]',
      `name = "${name}"`,
      'format = "moonbit"',
      'kind = "proxy"',
      'visibility = "public"',
      `upstream = ${JSON.stringify(s.url)}`,
    );
    blocks.push(lines.join('\n'));
  }
  const group = repoName('moon', taken);
  blocks.push(
    [
      `# The imported modules first, then the sources in the order the tool tried them; point moon at /${group}.`,
      '[[repos]]',
      `name = "${group}"`,
      'format = "moonbit"',
      'kind = "group"',
      'visibility = "public"',
      `members = [${members.map((m) => JSON.stringify(m)).join(', ')}]`,
    ].join('\n'),
  );
  return `${blocks.join('\n\n')}\n`;
}
