/** What search records for a Bazel module, from real BCR metadata.json files and the quirks registries hold. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bazelProxyParts } from './proxy.js';
import { moduleSearchEntry, runtimeDependencies } from './search-entry.js';

const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');
const fixture = (rel: string) => fs.readFileSync(path.join(FIXTURE, rel));
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const searchEntry = (p: string, body: Buffer) => bazelProxyParts.searchEntry!(p, body);

describe('the proxy search entry of a fetched document', () => {
  it('reads a BCR metadata.json: the newest version not yanked, a description from homepage and maintainers', () => {
    expect(searchEntry('modules/ahab/metadata.json', fixture('modules/ahab/metadata.json'))).toEqual({
      package: 'ahab',
      name: 'ahab',
      description: 'https://github.com/mrkkrp/ahab · maintained by Mark Karpov',
      keywords: [],
      latestVersion: '0.2.0',
    });
    // 1.0.0 is yanked, but 1.0.1 is newer; prereleases sort below their release.
    expect(searchEntry('modules/rules_tar/metadata.json', fixture('modules/rules_tar/metadata.json'))?.latestVersion).toBe('1.0.1');
    // A yank of an unlisted version (the BCR has one) changes nothing.
    expect(searchEntry('modules/bazel_gomock/metadata.json', fixture('modules/bazel_gomock/metadata.json'))).toMatchObject({
      latestVersion: '0.2.0',
      description: 'https://github.com/uber-go/mock/tree/main/bazel, github:uber-go/mock · maintained by Zhongpeng Lin, Sung Yoon Whang',
    });
  });

  it('says when nothing is installable, and puts a deprecation first', () => {
    expect(searchEntry('modules/rules_directory/metadata.json', fixture('modules/rules_directory/metadata.json'))).toMatchObject({
      latestVersion: null,
      description:
        'Deprecated: Code has been moved into bazel_skylib. Use the directory rules in bazel_skylib instead. · https://github.com/matts1/rules_directory · maintained by Matt Stark',
    });
  });

  it('skips versions Bazel cannot fetch (build metadata) or that do not parse', () => {
    const body = json({ versions: ['1.0.0', '1.1.0+abc', 'not a version', '0.9'], yanked_versions: {} });
    expect(searchEntry('modules/m/metadata.json', body)?.latestVersion).toBe('1.0.0');
    expect(searchEntry('modules/m/metadata.json', json({ versions: ['x y'] }))?.latestVersion).toBeNull();
  });

  it('tolerates fields of the wrong type, and names maintainers by name, GitHub login or e-mail', () => {
    const body = json({
      homepage: 7,
      maintainers: [{ github: 'octo' }, { email: 'a@example.com' }, 'nobody', {}],
      repository: 'github:o/r',
      versions: ['1.0', 2],
      yanked_versions: [],
    });
    expect(searchEntry('modules/m/metadata.json', body)).toEqual({
      package: 'm',
      name: 'm',
      description: 'maintained by @octo, a@example.com',
      keywords: [],
      latestVersion: '1.0',
    });
  });

  it('answers null for other documents and for a metadata.json that is not a JSON object', () => {
    for (const p of ['bazel_registry.json', 'modules/ahab/0.2.0/MODULE.bazel', 'modules/ahab/0.2.0/source.json', 'modules/ahab']) {
      expect(searchEntry(p, fixture('modules/ahab/metadata.json')), p).toBeNull();
    }
    expect(searchEntry('modules/m/metadata.json', Buffer.from('{not json'))).toBeNull();
    expect(searchEntry('modules/m/metadata.json', Buffer.from('[1, 2]'))).toBeNull();
  });
});

describe('the full entry of a module', () => {
  const reader = (files: Record<string, string>) => async (p: string) => (p in files ? Buffer.from(files[p]!) : null);

  it('names the bazel_deps of the latest version, without dev dependencies', async () => {
    const entry = await moduleSearchEntry('ahab', async (p) => (p.endsWith('metadata.json') || p.includes('/0.2.0/') ? fixture(p) : null));
    expect(entry?.dependencies).toEqual(['bazel_skylib', 'platforms']);
  });

  it('has no dependencies when the MODULE.bazel is missing or unreadable, and is null with nothing installable', async () => {
    const meta = JSON.stringify({ versions: ['1.0'], yanked_versions: {} });
    expect((await moduleSearchEntry('m', reader({ 'modules/m/metadata.json': meta })))?.dependencies).toEqual([]);
    const broken = reader({ 'modules/m/metadata.json': meta, 'modules/m/1.0/MODULE.bazel': 'module(name = "m", version = ' });
    expect((await moduleSearchEntry('m', broken))?.dependencies).toEqual([]);
    expect(await moduleSearchEntry('m', reader({}))).toBeNull();
    const allYanked = JSON.stringify({ versions: ['1.0'], yanked_versions: { '1.0': 'bad' } });
    expect(await moduleSearchEntry('m', reader({ 'modules/m/metadata.json': allYanked }))).toBeNull();
    expect(await moduleSearchEntry('a/b', reader({ 'modules/a/b/metadata.json': meta }))).toBeNull();
  });

  it('lists each dependency once', () => {
    const text = 'bazel_dep(name = "a", version = "1")\nbazel_dep(name = "a", version = "2")\nbazel_dep(name = "b", version = "1")\n';
    expect(runtimeDependencies(Buffer.from(text))).toEqual(['a', 'b']);
  });
});
