/**
 * Property-based fuzzing of what a publish's source.json feeds the git_repository checks and the publish policy:
 * parseGitSource over mutated source.json objects, checkSourceUrl over odd URLs and repository lists. Each returns or
 * throws a 4xx LarderError, never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzParams, mutatedJson, Outcomes, returnsOrRefuses } from '../../../test/support/arbitraries.js';
import { BCR_POLICY } from '../../core/config.js';
import type { Repo } from '../../registry/repos.js';
import { parseGitSource } from './git-source.js';
import { checkSourceUrl } from './policy.js';

const SOURCE = {
  type: 'git_repository',
  remote: 'https://git.example.com/team/greeter.git',
  commit: '0123456789abcdef0123456789abcdef01234567',
  strip_prefix: 'greeter',
  patches: { 'fix.patch': 'sha256-47DEQpj8HBSHvlYDpX8bHNRWw+YD6PdUj3pjnN/Jq1g=' },
  patch_strip: 1,
};

const repo: Repo = {
  id: 1,
  name: 'r',
  format: 'bazel',
  kind: 'hosted',
  visibility: 'public',
  bazelPolicy: { ...BCR_POLICY, sourceHosts: ['*.example.com'] },
};

const oddUrl = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.string({ maxLength: 40 }).map((s) => `https://${s}`),
  fc.constantFrom('http://%%%', 'https://github.com/o/r/releases/download/%E0%A4%A', 'https://[::1', 'https://github.com/o/r/../../x', ''),
);
const repositoryEntry = fc.oneof(
  fc.constantFrom('github:o/r', 'github:', 'github:o/r/x', 'https://git.example.com/team/', 'https://[bad'),
  fc.string({ maxLength: 20 }),
);

describe('git_repository source.json (fuzz)', () => {
  it('reads every mutated git_repository source, or refuses it with a 4xx', async () => {
    expect(parseGitSource({ ...SOURCE })).toMatchObject({ commit: SOURCE.commit });
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(mutatedJson(SOURCE), async (json) => {
        if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
        seen.record(await returnsOrRefuses(() => parseGitSource(json as Record<string, unknown>)));
      }),
      fuzzParams(500),
    );
    seen.report('git_repository source.json');
    expect(seen.ok).toBeGreaterThan(10);
    expect(seen.refusals.size).toBeGreaterThan(3);
  });

  it('checks any URL against any repository list, or refuses it with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        oddUrl,
        fc.array(repositoryEntry, { maxLength: 3 }),
        fc.constantFrom('archive' as const, 'git' as const),
        async (url, list, kind) => {
          await returnsOrRefuses(() => checkSourceUrl(repo, url, 'source.json url', list, kind));
        },
      ),
      fuzzParams(500),
    );
  });
});
