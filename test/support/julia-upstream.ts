/**
 * An upstream Pkg server for Julia proxy tests, on a fake upstream: `/registries`, the real HolyLab
 * registry tarball (../shared/fixtures/julia/HolyLabRegistry), and a small registry "Small" holding Bar
 * (with an artifact), Baz (trusting HOSTED_REG) and a Foo whose UUID a hosted registry may also hold.
 */
import path from 'node:path';
import { disposeTree } from '../../src/formats/julia/spool.js';
import { canonicalTarball } from '../../src/formats/julia/tarball.js';
import { readDirTree, treeHash, type FileTree } from '../../src/formats/julia/tree-hash.js';
import type { FakeUpstream } from './fake-upstream.js';

export const HOLYLAB = 'c72e0888-c1c3-11e8-0741-c1bd6f46e678';
export const HOLYLAB_TREE = 'd1f7853f0fd9b90082873f28025d02356a9989c4';
export const SMALL = '5a11e9e9-0000-4000-8000-000000000001';
export const BAR = 'bbbbbbbb-1111-4222-8333-444444444444';
export const BAZ = 'baaaaaaa-1111-4222-8333-444444444444';
export const FOO = '11111111-2222-4333-8444-55555555555a';
/** The hosted registry Small's Baz trusts. */
export const HOSTED_REG = '1b2c3d4e-0000-4000-8000-00000000000a';

/** A tarball and the tree hash of what it extracts to. */
export interface BuiltTarball {
  tarball: Buffer;
  tree: string;
}

export interface JuliaUpstream {
  holyTarball: Buffer;
  small: BuiltTarball;
  bar: BuiltTarball;
  fooUpstream: BuiltTarball;
  artifact: BuiltTarball;
}

/** A file of a tree, from text. */
export const file = (text: string) => ({ kind: 'file' as const, data: Buffer.from(text) });

/** The canonical tarball of a tree and its tree hash. */
export async function tarballOf(tree: FileTree): Promise<BuiltTarball> {
  return { tarball: await canonicalTarball(tree), tree: treeHash(tree) };
}

/** A `/registries` body listing these registries. */
export const registriesBody = (lines: Array<[string, string]>) => lines.map(([u, h]) => `/registry/${u}/${h}\n`).join('');

/** Serves the registries and tarballs on `up`; `/registries` lists HolyLab only (tests change it). */
export async function serveJuliaUpstream(up: FakeUpstream): Promise<JuliaUpstream> {
  const holy = await readDirTree(path.resolve('../shared/fixtures/julia/HolyLabRegistry'));
  const holyTarball = await canonicalTarball(holy);
  if (treeHash(holy) !== HOLYLAB_TREE) throw new Error('the HolyLab fixture changed');
  await disposeTree(holy);

  const artifact = await tarballOf(new Map([['share/data.txt', file('artifact bytes\n')]]));
  const bar = await tarballOf(
    new Map([
      ['Project.toml', file(`name = "Bar"\nuuid = "${BAR}"\nversion = "1.0.0"\n`)],
      ['Artifacts.toml', file(`[data]\ngit-tree-sha1 = "${artifact.tree}"\n\n    [[data.download]]\n    url = "https://x/y.tar.gz"\n`)],
      ['src/Bar.jl', file('module Bar end\n')],
    ]),
  );
  const fooUpstream = await tarballOf(new Map([['src/Foo.jl', file('module Foo # from upstream\nend\n')]]));
  const small = await tarballOf(
    new Map([
      [
        'Registry.toml',
        file(
          `name = "Small"\nuuid = "${SMALL}"\n\n[packages]\n${FOO} = { name = "Foo", path = "F/Foo" }\n${BAR} = { name = "Bar", path = "B/Bar" }\n${BAZ} = { name = "Baz", path = "B/Baz" }\n`,
        ),
      ],
      ['B/Bar/Package.toml', file(`name = "Bar"\nuuid = "${BAR}"\nrepo = "https://example.com/Bar.jl.git"\n`)],
      ['B/Bar/Versions.toml', file(`["1.0.0"]\ngit-tree-sha1 = "${bar.tree}"\n`)],
      ['B/Bar/Deps.toml', file(`["1"]\nFoo = "${FOO}"\nRandom = "9a3f8284-a2c9-5f02-9a11-845980a1fd5c"\n`)],
      [
        'B/Baz/Package.toml',
        file(`name = "Baz"\nuuid = "${BAZ}"\nrepo = "https://example.com/Baz.jl.git"\ntrusted_registries = "${HOSTED_REG}"\n`),
      ],
      ['B/Baz/Versions.toml', file(`["1.0.0"]\ngit-tree-sha1 = "${bar.tree}"\n`)],
      ['F/Foo/Package.toml', file(`name = "Foo"\nuuid = "${FOO}"\nrepo = "https://example.com/Foo.jl.git"\n`)],
      ['F/Foo/Versions.toml', file(`["9.0.0"]\ngit-tree-sha1 = "${fooUpstream.tree}"\n`)],
    ]),
  );
  up.set('/registries', { body: registriesBody([[HOLYLAB, HOLYLAB_TREE]]) });
  up.set(`/registry/${HOLYLAB}/${HOLYLAB_TREE}`, { body: holyTarball });
  up.set(`/registry/${SMALL}/${small.tree}`, { body: small.tarball });
  up.set(`/package/${BAR}/${bar.tree}`, { body: bar.tarball });
  up.set(`/package/${FOO}/${fooUpstream.tree}`, { body: fooUpstream.tarball });
  up.set(`/artifact/${artifact.tree}`, { body: artifact.tarball });
  return { holyTarball, small, bar, fooUpstream, artifact };
}
