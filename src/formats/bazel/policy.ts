/**
 * A hosted Bazel repository's publish policy (larder.toml `bazel_policy`, the BCR's rules by default): which
 * source types, which source URLs and hosts, whether presubmit.yml is required, how compatibility_level may move.
 * Every refusal names the setting that refused and what to change; nothing here writes.
 */
import path from 'node:path/posix';
import type { Kysely } from 'kysely';
import { BCR_POLICY, type BazelPolicy } from '../../core/config.js';
import { fail } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Database } from '../../storage/schema.js';
import { parseMetadata } from './metadata.js';
import { readModuleFile } from './module-file.js';
import type { BazelTables } from './schema.js';
import { compareBazelVersions, isBazelVersion } from './version.js';

/** The repository's policy: its bazel_policy, or the BCR's rules. */
export function policyOf(repo: Repo): BazelPolicy {
  return repo.bazelPolicy ?? BCR_POLICY;
}

/** How a refusal names a setting: `repos.<name>.bazel_policy.<key>` (the [[repos]] entry with that name). */
export function policySetting(repo: Repo, key: string): string {
  return `repos.${repo.name}.bazel_policy.${key}`;
}

/**
 * The source type a publish's source.json declares must be one Bazel knows and the policy allows. local_path is never
 * publishable: Bazel resolves it on the machine that builds, which only a file:// registry can describe.
 */
export function checkSourceType(repo: Repo, type: string): 'archive' | 'git_repository' {
  if (type === 'local_path')
    fail(
      'METADATA_INVALID',
      'source.json type "local_path" is refused: local_path sources only work for file:// registries (a path on the machine running Bazel), and Larder serves over http(s); publish an archive or a git_repository source (`larder import bazel` still carries existing local_path entries unchanged)',
    );
  if (type !== 'archive' && type !== 'git_repository')
    fail('METADATA_INVALID', `source.json type ${JSON.stringify(type)} is not one Bazel knows; use "archive" or "git_repository"`);
  if (!policyOf(repo).sourceTypes.includes(type)) {
    const what = type === 'git_repository' ? 'git sources (no content hash: Larder checks the commit when publishing)' : 'archive sources';
    fail(
      'POLICY_REFUSED',
      `${policySetting(repo, 'source_types')} does not allow ${type}; add "${type}" to it in larder.toml to allow ${what}`,
    );
  }
  return type;
}

/** The module's `repository` list: metadata.json's when the module exists, else what this publish brings. */
export async function repositoryList(registry: Registry, repo: Repo, module: string, fromPublish?: unknown): Promise<string[]> {
  const meta = await registry.docs.get(repo.id, `modules/${module}/metadata.json`);
  const list = meta ? parseMetadata(meta.body, module).repository : fromPublish;
  return Array.isArray(list) ? list.filter((e): e is string => typeof e === 'string') : [];
}

function hostAllowed(host: string, allowed: string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowed.some((a) => (a.startsWith('*.') ? h.endsWith(a.slice(1)) : h === a));
}

/** A URL path without `.`/`..` tricks (the BCR compares os.path.abspath of it). */
function normalPath(p: string): string {
  return path.normalize(`/${p}`).replace(/^\/+/, '/');
}

/** Does `url` match one `repository` entry, in the BCR's terms (tools/bcr_validation.py), for an archive or a git remote? */
function matchesRepository(url: URL, entry: string, kind: 'archive' | 'git'): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return false; // a malformed escape matches nothing
  }
  const p = normalPath(decoded);
  const github = /^github:([^/\s]+\/[^/\s]+)$/.exec(entry);
  if (github) {
    const repoPath = github[1]!;
    if (url.protocol !== 'https:' || url.host !== 'github.com') return false;
    // Archives: release assets only (GitHub's generated /archive/ tarballs are not byte-stable, the BCR refuses them).
    if (kind === 'archive') return p.startsWith(`/${repoPath}/releases/download/`);
    return p === `/${repoPath}` || p === `/${repoPath}.git` || p === `/${repoPath}/`;
  }
  if (!URL.canParse(entry)) return false;
  const prefix = new URL(entry);
  const dir = prefix.pathname.endsWith('/') ? prefix.pathname : `${prefix.pathname}/`;
  if (url.protocol !== prefix.protocol || url.host !== prefix.host) return false;
  return p.startsWith(dir) || (kind === 'git' && (p === prefix.pathname || p === `${prefix.pathname}.git`));
}

/**
 * A source URL (archive `url`, a `mirror_urls` entry, a git `remote`) against the policy: its host must be in
 * source_hosts (when set), and with source_urls = "repository" a GitHub archive must be a release asset and the URL
 * must match the module's `repository` list.
 */
export function checkSourceUrl(repo: Repo, raw: string, what: string, repository: string[], kind: 'archive' | 'git'): void {
  const policy = policyOf(repo);
  if (!URL.canParse(raw)) fail('METADATA_INVALID', `${what} ${JSON.stringify(raw)} is not a valid URL`);
  const url = new URL(raw);
  if (policy.sourceHosts && !hostAllowed(url.hostname, policy.sourceHosts)) {
    fail(
      'POLICY_REFUSED',
      `${what} ${raw} is on host ${url.hostname}, which ${policySetting(repo, 'source_hosts')} does not list (${policy.sourceHosts.join(', ') || 'none'}); add the host to it in larder.toml, or host the source elsewhere`,
    );
  }
  if (policy.sourceUrls !== 'repository') return;
  // The BCR's URL stability rule (tools/verify_stable_archives.py): GitHub serves stable bytes only for release assets.
  const parts = url.pathname.split('/');
  if (
    kind === 'archive' &&
    url.protocol === 'https:' &&
    url.hostname === 'github.com' &&
    !(parts[3] === 'releases' && parts[4] === 'download')
  )
    fail(
      'POLICY_REFUSED',
      `${what} ${raw} is an archive GitHub generates (not a /releases/download/ asset), whose bytes can change, which ${policySetting(repo, 'source_urls')} = "repository" refuses (the BCR's rule); attach the archive to a release, or set source_urls = "any"`,
    );
  if (repository.length === 0) return;
  if (repository.some((entry) => matchesRepository(url, entry, kind))) return;
  const forms =
    kind === 'archive'
      ? 'github:<owner>/<repo> allows https://github.com/<owner>/<repo>/releases/download/…; a URL prefix allows URLs under it'
      : 'github:<owner>/<repo> allows https://github.com/<owner>/<repo>(.git); a URL prefix allows remotes under it';
  fail(
    'POLICY_REFUSED',
    `${what} ${raw} does not match the module's metadata.json repository ${JSON.stringify(repository)} (${forms}), which ${policySetting(repo, 'source_urls')} = "repository" requires; add the location to the module's repository list, or set source_urls = "any"`,
  );
}

/**
 * With require_presubmit (the default, as on the BCR), a presubmit.yml is part of the publish and has tasks that name
 * their Bazel versions. Larder runs no CI and has no YAML parser: it looks for a `tasks:` key and a `bazel:` key, no more.
 */
export function checkPresubmit(repo: Repo, presubmit: Buffer | undefined): void {
  if (!policyOf(repo).requirePresubmit) return;
  const setting = policySetting(repo, 'require_presubmit');
  const optOut = `or set require_presubmit = false under [repos.bazel_policy] of the [[repos]] entry "${repo.name}" in larder.toml to make presubmit.yml optional`;
  if (!presubmit)
    fail(
      'POLICY_REFUSED',
      `${setting} is true (the BCR's rule, Larder's default): the publish needs a presubmit.yml part, the module's CI matrix (tasks with their platform and bazel versions); send one with \`larder bazel publish --presubmit FILE\` (or keep it at .bcr/presubmit.yml beside MODULE.bazel), ${optOut}`,
    );
  const text = presubmit.toString('utf8');
  if (!/^\s*tasks\s*:/m.test(text) || !/^\s*bazel\s*:/m.test(text))
    fail(
      'POLICY_REFUSED',
      `${setting} is true (the BCR's rule, Larder's default): presubmit.yml needs at least one task in "tasks" or "bcr_test_module.tasks", each with a "bazel" field (the Bazel versions it runs with); add one, ${optOut}`,
    );
}

/**
 * compatibility_level against the neighbouring non-yanked versions, by the policy's rule: `bcr` (equal to the
 * previous one's, not above the next one's, unless the publisher confirms the break), `non_decreasing`, or `any`.
 */
export async function checkCompatibilityLevel(
  registry: Registry,
  repo: Repo,
  db: Kysely<Database & BazelTables>,
  pub: { module: string; version: string; allowCompatibilityLevelChange?: boolean },
  level: number,
): Promise<void> {
  const rule = policyOf(repo).compatibilityLevel;
  if (rule === 'any' || (rule === 'bcr' && pub.allowCompatibilityLevelChange)) return;
  const meta = await registry.docs.get(repo.id, `modules/${pub.module}/metadata.json`);
  const yanked = meta ? parseMetadata(meta.body, pub.module).yanked_versions : {};
  const rows = await db
    .selectFrom('bazel_versions')
    .select('version')
    .where('repo_id', '=', repo.id)
    .where('module', '=', pub.module)
    .execute();
  const others = rows.map((r) => r.version).filter((v) => !(v in yanked) && isBazelVersion(v));
  const prev = others
    .filter((v) => compareBazelVersions(v, pub.version) < 0)
    .sort(compareBazelVersions)
    .at(-1);
  const next = others.filter((v) => compareBazelVersions(v, pub.version) > 0).sort(compareBazelVersions)[0];
  const levelOf = async (v: string) => {
    const doc = await registry.docs.get(repo.id, `modules/${pub.module}/${v}/MODULE.bazel`);
    return doc ? readModuleFile(doc.body.toString('utf8')).compatibilityLevel : level;
  };
  const setting = policySetting(repo, 'compatibility_level');
  if (rule === 'bcr') {
    const hint = `if the break is intended, publish again with allow_compatibility_level_change=true (${setting} = "bcr")`;
    if (prev !== undefined && (await levelOf(prev)) !== level) {
      fail(
        'METADATA_INVALID',
        `compatibility_level is ${level}, but ${pub.module}@${prev} has ${await levelOf(prev)}: a change makes every user choose one side; ${hint}`,
      );
    }
    if (next !== undefined && level > (await levelOf(next)))
      fail('METADATA_INVALID', `compatibility_level ${level} is above ${pub.module}@${next}'s ${await levelOf(next)}; ${hint}`);
    return;
  }
  if (prev !== undefined && level < (await levelOf(prev)))
    fail(
      'POLICY_REFUSED',
      `compatibility_level ${level} is below ${pub.module}@${prev}'s ${await levelOf(prev)}, which ${setting} = "non_decreasing" refuses; raise it`,
    );
  if (next !== undefined && level > (await levelOf(next)))
    fail(
      'POLICY_REFUSED',
      `compatibility_level ${level} is above ${pub.module}@${next}'s ${await levelOf(next)}, which ${setting} = "non_decreasing" refuses`,
    );
}
