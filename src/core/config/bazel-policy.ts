/**
 * `bazel_policy` of a hosted Bazel repository: what a publish may describe beyond what the registry format
 * allows. The defaults are the Bazel Central Registry's rules (protocols/bazel.md §8.2); a company registry
 * loosens them, e.g. to point modules at internal git commits. Self-contained: schema, defaults, resolved shape.
 */
import { array, boolean, oneOf, parsed, partial, string, table, type Output } from './shape.js';

/** Source types a policy may allow; `local_path` only works for file:// registries, so it is never publishable. */
export const POLICY_SOURCE_TYPES = ['archive', 'git_repository'] as const;
export type PolicySourceType = (typeof POLICY_SOURCE_TYPES)[number];

/** How a new version's compatibility_level must relate to its neighbours. */
export type CompatibilityLevelRule = 'bcr' | 'non_decreasing' | 'any';

/** What the server uses. */
export interface BazelPolicy {
  /** source.json types a publish may use (`archive` is Larder-hosted or named by URL). */
  sourceTypes: PolicySourceType[];
  /**
   * `repository`: a source URL or git remote must match an entry of the module's metadata.json `repository` list
   * (the BCR's allow-list; an empty list allows any), and GitHub archives must be release assets; `any`: no such check.
   */
  sourceUrls: 'repository' | 'any';
  /** Host names (`*.example.com` for subdomains) that source URLs and git remotes may name; null = any host. */
  sourceHosts: string[] | null;
  /**
   * A publish must include a presubmit.yml with at least one task that names its Bazel versions (the BCR's rule);
   * false: presubmit.yml is optional.
   */
  requirePresubmit: boolean;
  /**
   * `bcr`: equal to the previous non-yanked version's and not above the next one's, unless the publisher confirms
   * the change; `non_decreasing`: never below the previous one's nor above the next one's; `any`: unchecked.
   */
  compatibilityLevel: CompatibilityLevelRule;
}

/**
 * The BCR's rules, presubmit.yml included: Larder runs no CI, but the file is the module's test matrix that a
 * consumer (or a later push to the BCR) runs, so a publish brings one unless the repository sets require_presubmit = false.
 */
export const BCR_POLICY: BazelPolicy = {
  sourceTypes: ['archive'],
  sourceUrls: 'repository',
  sourceHosts: null,
  requirePresubmit: true,
  compatibilityLevel: 'bcr',
};

const HOST = /^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;

function checkHost(v: string): string {
  const host = v.trim().toLowerCase();
  if (!HOST.test(host)) throw new Error(`expected a host name ("github.com") or "*.example.com", got ${JSON.stringify(v)}`);
  return host;
}

function checkSourceType(v: string): PolicySourceType {
  if ((POLICY_SOURCE_TYPES as readonly string[]).includes(v)) return v as PolicySourceType;
  throw new Error(
    v === 'local_path'
      ? 'local_path sources only work for file:// registries (a path on the machine running Bazel); Larder serves over http(s), so it cannot allow them'
      : `expected "archive" or "git_repository", got ${JSON.stringify(v)}`,
  );
}

/** `bazel_policy` as written in larder.toml (a table under a `[[repos]]` entry). */
export const BazelPolicySchema = partial(
  table({
    source_types: array(parsed(string(), checkSourceType), { min: 1 }),
    source_urls: oneOf(['repository', 'any'] as const),
    source_hosts: array(parsed(string(), checkHost)),
    require_presubmit: boolean(),
    compatibility_level: oneOf(['bcr', 'non_decreasing', 'any'] as const),
  }),
);

export type BazelPolicySettings = Output<typeof BazelPolicySchema>;

/** The policy a repository's settings give, the BCR's rules filling what they leave out. */
export function resolveBazelPolicy(s: BazelPolicySettings | undefined): BazelPolicy {
  return {
    sourceTypes: s?.source_types ? [...new Set(s.source_types)] : [...BCR_POLICY.sourceTypes],
    sourceUrls: s?.source_urls ?? BCR_POLICY.sourceUrls,
    sourceHosts: s?.source_hosts ? [...s.source_hosts] : null,
    requirePresubmit: s?.require_presubmit ?? BCR_POLICY.requirePresubmit,
    compatibilityLevel: s?.compatibility_level ?? BCR_POLICY.compatibilityLevel,
  };
}

/** The commented `bazel_policy` lines of the hosted Bazel repository that `larder init` writes. */
export const BAZEL_POLICY_INIT_TEXT = `# What a publish may describe (the defaults are the Bazel Central Registry's rules):
# [repos.bazel_policy]
# source_types = ["archive"]         # add "git_repository" for sources at a git commit (local_path never: file:// registries only)
# source_urls = "repository"         # URLs must match metadata.json "repository" (github:o/r → its /releases/download/); "any"
# source_hosts = ["github.com", "*.corp.example"]   # hosts source URLs and git remotes may name (default: any)
# require_presubmit = true           # a presubmit.yml with at least one task naming its bazel versions (the BCR's rule); false: optional
# compatibility_level = "bcr"        # equal to the previous version's unless confirmed; "non_decreasing"; "any"
`;
