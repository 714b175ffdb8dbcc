/**
 * What Julia gives search: entries read from registry files (the real HolyLab registry, and hand-made files that
 * a careless registry could hold), the proxy's answer for its documents, and `larder import julia` keeping entries
 * current as an imported registry changes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { tempDir } from '../../../test/support/tmp.js';
import { searchPackages } from '../../registry/search/index.js';
import { importJuliaRegistry } from './import.js';
import {
  choosePackage,
  dependenciesOf,
  entriesFor,
  readerOfFiles,
  readJuliaPackage,
  searchFieldsOf,
  versionsOf,
  type JuliaPackage,
} from './package-info.js';
import { juliaProxy } from './proxy.js';
import { registrySearchEntries } from './search.js';
import { disposeTree, treeFileData } from './spool.js';
import { readDirTree } from './tree-hash.js';

const FIXTURE = path.resolve('../shared/fixtures/julia/HolyLabRegistry');
const TILETREES = 'cd6f60fb-236b-5882-ad4f-250d5433a9a7';
const UUID_A = 'aaaaaaaa-0000-4000-8000-000000000001';

async function fixtureFiles(): Promise<Map<string, Buffer>> {
  const tree = await readDirTree(FIXTURE);
  const files = new Map<string, Buffer>();
  for (const [rel, f] of tree) files.set(rel, await treeFileData(f));
  await disposeTree(tree);
  return files;
}

const toml = (text: string) => Buffer.from(text);

describe('the proxy part', () => {
  it('indexes nothing from the one document a Pkg server serves: packages are described inside registry tarballs', () => {
    expect(
      juliaProxy.searchEntry!('registries', Buffer.from('/registry/c72e0888-c1c3-11e8-0741-c1bd6f46e678/' + 'a'.repeat(40) + '\n')),
    ).toBeNull();
    expect(juliaProxy.searchEntry!('registry/x/Registry.toml', Buffer.from('name = "X"'))).toBeNull();
  });

  it('reads every package of a registry tarball as search entries (the real HolyLab registry)', async () => {
    const reader = readerOfFiles(await fixtureFiles())!;
    const entries = await registrySearchEntries(reader);
    expect(entries).toHaveLength(76);
    expect(entries.find((e) => e.package === TILETREES)).toEqual({
      package: TILETREES,
      name: 'TileTrees',
      description: null,
      keywords: [],
      latestVersion: '2.1.0',
      dependencies: ['BoxROIs', 'BoxTrees', 'LinearAlgebra', 'OffsetArrays', 'ProgressMeter', 'SparseArrays'],
    });
  });
});

describe('registry files as pages and search read them', () => {
  const registry = (files: Record<string, string>) =>
    readerOfFiles(
      new Map(
        Object.entries({
          'Registry.toml': `name = "R"\nuuid = "${'b'.repeat(8)}-0000-4000-8000-000000000000"\n\n[packages]\n${UUID_A} = { name = "A", path = "A/A" }\n`,
          ...files,
        }).map(([k, v]) => [k, toml(v)]),
      ),
    )!;

  it('orders versions newest first, skips keys that are not versions, and takes the newest unyanked as latest', async () => {
    const pkg = (await readJuliaPackage(
      registry({
        'A/A/Package.toml': `name = "A"\nuuid = "${UUID_A}"\nrepo = "https://example.com/A.jl.git"\n\n[metadata.deprecated]\nreason = "unmaintained"\nalternative = "B"\n`,
        'A/A/Versions.toml': [
          '["0.9.0"]\ngit-tree-sha1 = "' + '1'.repeat(40) + '"\n',
          '["0.10.0"]\ngit-tree-sha1 = "' + '2'.repeat(40) + '"\nyanked = true\n',
          '["1.0.0-rc1"]\ngit-tree-sha1 = "' + '3'.repeat(40) + '"\n',
          '["not-a-version"]\ngit-tree-sha1 = "' + '4'.repeat(40) + '"\n',
        ].join('\n'),
      }),
      UUID_A,
    ))!;
    expect(pkg.versions.map((v) => [v.version, v.yanked])).toEqual([
      ['1.0.0-rc1', false],
      ['0.10.0', true],
      ['0.9.0', false],
    ]);
    expect(pkg.latest).toBe('1.0.0-rc1');
    expect(pkg.repo).toBe('https://example.com/A.jl.git');
    expect(pkg.deprecated).toEqual({ reason: 'unmaintained', alternative: 'B' });
  });

  it('reads a damaged range file without failing: unparsable keys skipped, the first table wins on overlap', () => {
    const table = { '0-1': { X: 'first' }, '0.5-0': { X: 'second', Y: 'y' }, 'zz-top': { Z: 'z' } };
    expect(Object.fromEntries(entriesFor(table, '0.5.1'))).toEqual({ X: 'first', Y: 'y' });
    expect(Object.fromEntries(entriesFor(table, '2.0.0'))).toEqual({});
    expect(Object.fromEntries(entriesFor(table, 'garbage'))).toEqual({});
    expect(versionsOf({ '1.0.0': 'not a table', '1.1.0': { 'git-tree-sha1': 7 } })).toEqual([
      { version: '1.1.0', treeSha1: null, yanked: false },
    ]);
  });

  it('gives the dependencies of one version with their compat (arrays joined), weak ones after, and no entry when every version is yanked', async () => {
    const pkg = (await readJuliaPackage(
      registry({
        'A/A/Package.toml': `name = "A"\nuuid = "${UUID_A}"\n`,
        'A/A/Versions.toml': `["1.0.0"]\ngit-tree-sha1 = "${'1'.repeat(40)}"\nyanked = true\n`,
        'A/A/Deps.toml': `[1]\nZed = "${'c'.repeat(8)}-0000-4000-8000-000000000000"\nAlpha = "${'d'.repeat(8)}-0000-4000-8000-000000000000"\n`,
        'A/A/Compat.toml': '[1]\nZed = ["0.8", "0.10"]\njulia = "1.6.0-1"\n',
        'A/A/WeakDeps.toml': `[1]\nWeak = "${'e'.repeat(8)}-0000-4000-8000-000000000000"\n`,
        'A/A/Compat.toml.bak': 'ignored',
      }),
      UUID_A,
    ))!;
    expect(dependenciesOf(pkg, '1.0.0').map((d) => [d.name, d.compat, d.weak])).toEqual([
      ['Alpha', null, false],
      ['Zed', '0.8, 0.10', false],
      ['Weak', null, true],
    ]);
    expect(searchFieldsOf(pkg)).toBeNull();
  });

  it('chooses, among registries holding one UUID, the one whose latest version is newest', () => {
    const at = (latest: string | null, name: string) => ({ latest, registry: { name } }) as unknown as JuliaPackage;
    expect(choosePackage([at('1.0.0', 'a'), at('1.2.0', 'b'), at(null, 'c')])?.registry.name).toBe('b');
    expect(choosePackage([at(null, 'a'), at('0.1.0', 'b')])?.registry.name).toBe('b');
    expect(choosePackage([at('1.0.0', 'a'), at('1.0.0', 'b')])?.registry.name).toBe('a');
    expect(choosePackage([])).toBeNull();
  });
});

describe('larder import julia', () => {
  let t: TestApp;
  const work = tempDir('larder-julia-import-search-');
  beforeAll(async () => {
    t = await openTestApp({ repos: [{ name: 'jl', format: 'julia', kind: 'hosted', visibility: 'public' }] });
  });
  afterAll(async () => {
    await t?.stop();
    work.remove();
  });
  const repo = () => t.registry.repos.get('jl')!;
  const search = (query: string) =>
    searchPackages(t.registry.db, t.registry.dialect, { query, repoIds: [repo().id], limit: 200 }).then((r) => r.hits);

  it('indexes an imported registry, and on a re-import rewrites only the packages that changed', async () => {
    const copy = path.join(work.path, 'HolyLabRegistry');
    fs.cpSync(FIXTURE, copy, { recursive: true });
    expect((await importJuliaRegistry(t.registry, repo(), copy)).changed).toBe(true);
    const all = await search('');
    expect(all).toHaveLength(76);
    expect((await search('TileTrees'))[0]).toMatchObject({ package: TILETREES, latestVersion: '2.1.0' });
    const stamp = new Map(all.map((h) => [h.name, h.updatedAt]));

    // Yank TileTrees 2.1.0 upstream and drop BoxTrees from the registry, then import again.
    const versions = path.join(copy, 'T/TileTrees/Versions.toml');
    fs.writeFileSync(
      versions,
      fs.readFileSync(versions, 'utf8').replace(/(git-tree-sha1 = "67170c1207e16f1870a1816fea2d9aa15df40d25")\n?/, '$1\nyanked = true\n'),
    );
    const registryToml = path.join(copy, 'Registry.toml');
    fs.writeFileSync(registryToml, fs.readFileSync(registryToml, 'utf8').replace(/^.*name = "BoxTrees".*\n/m, ''));
    expect((await importJuliaRegistry(t.registry, repo(), copy)).changed).toBe(true);
    const after = await search('');
    expect(after).toHaveLength(75);
    expect(after.some((h) => h.name === 'BoxTrees')).toBe(false);
    expect(after.find((h) => h.name === 'TileTrees')!.latestVersion).toBe('2.0.1');
    // Packages the import did not change keep their entry as it was.
    expect(after.find((h) => h.name === 'BoxROIs')!.updatedAt).toBe(stamp.get('BoxROIs'));
  });
});
