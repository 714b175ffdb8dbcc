/**
 * A project's info from its objects, as `brioche publish` lays them out: the project directory (or a workspace
 * member's symlink, or an `R` reference to an identical directory) in the artifact, its files read from inline data
 * or from the chunks that cover them.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildArchive } from '../../../test/support/brioche-archive.js';
import { buildProject, projectBri, treeOf } from '../../../test/support/brioche-project.js';
import { hashOf, sourceJson } from '../../../test/support/brioche-registry.js';
import type { Registry } from '../../registry/registry.js';
import type { SourceArtifact } from '../../registry/source.js';
import { decodeArchive } from './artifact-archive.js';
import { projectSourceKey } from './keys.js';
import { readProjectInfo, type ProjectObjects } from './project-info.js';

const registry = { config: { limits: { maxArchiveSize: 10 * 1024 * 1024, maxUnpackedSize: 64 * 1024 * 1024 } } } as unknown as Registry;

/** A source over a map of cache objects, counting what is read. */
function objectsOf(objects: Map<string, Buffer>): ProjectObjects & { asked: string[] } {
  const asked: string[] = [];
  return {
    repo: { id: 1 },
    asked,
    async artifact(key) {
      asked.push(key);
      const body = objects.get(key);
      if (!body) return null;
      return {
        sha256: 'x',
        size: body.length,
        blob: { size: body.length, stream: () => Readable.from([body]) },
      } as unknown as SourceArtifact;
    },
  };
}

const FILES = {
  'project.bri': projectBri(
    {
      name: 'jq',
      version: '1.7.1',
      description: 'Command-line JSON processor',
      license: 'MIT',
      repository: 'https://github.com/jqlang/jq',
      homepage: { url: 'https://jqlang.org' },
      keywords: ['json', 'cli', 7],
      dependencies: { std: '*', oniguruma: { path: '../oniguruma' } },
    },
    ['std'],
  ),
  'brioche.lock': JSON.stringify({ dependencies: { std: hashOf('std'), curl: hashOf('curl') } }),
  'sub/extra.bri': 'import { rustup } from "rust";\nimport "./local.bri";\n',
  'README.md': '# jq\n\nA lightweight JSON processor.\n',
  'src/main.c': 'int main() { return 0; }\n'.repeat(200),
};

const EXPECTED = {
  name: 'jq',
  version: '1.7.1',
  description: 'Command-line JSON processor',
  license: 'MIT',
  keywords: ['json', 'cli'],
  links: [
    { label: 'Repository', url: 'https://github.com/jqlang/jq' },
    { label: 'Homepage', url: 'https://jqlang.org' },
  ],
  dependencies: [
    { name: 'curl', requirement: '*', kind: null },
    { name: 'oniguruma', requirement: null, kind: 'path' },
    { name: 'rust', requirement: '*', kind: null },
    { name: 'std', requirement: '*', kind: null },
  ],
  readme: '# jq\n\nA lightweight JSON processor.\n',
};

describe('readProjectInfo', () => {
  it('reads metadata, dependencies (declared, locked, imported) and the README from inline data', async () => {
    const p = await buildProject(FILES);
    const info = await readProjectInfo(registry, objectsOf(p.objects), p.projectHash);
    expect(info).toEqual({ artifactHash: p.archive.hash, ...EXPECTED });
  });

  it('reads the files it needs from the chunks that cover them, and no other chunk', async () => {
    const big = Array.from({ length: 625 }, (_, i) => hashOf(String(i))).join('');
    const p = await buildProject({ ...FILES, 'big.bin': big }, { chunkSize: 1000 });
    expect(p.archive.chunks.size).toBeGreaterThan(40);
    const objects = objectsOf(p.objects);
    const info = await readProjectInfo(registry, objects, p.projectHash);
    expect(info).toEqual({ artifactHash: p.archive.hash, ...EXPECTED });
    // Blobs are laid out by size: the large one (last) is never read.
    const chunksRead = objects.asked.filter((k) => k.startsWith('chunks/'));
    expect(chunksRead.length).toBeGreaterThan(0);
    expect(chunksRead.length).toBeLessThan(p.archive.chunks.size / 2);
  });

  it('follows a workspace member’s symlink and a reference to an identical directory', async () => {
    const member = hashOf('member');
    const twin = hashOf('twin');
    const workspace = `workspace-${hashOf('workspace')}`;
    const archive = await buildArchive({
      dir: {
        [member]: { symlink: `${workspace}/packages/jq` },
        [workspace]: { dir: { packages: { dir: { jq: treeOf(FILES) } }, 'brioche_workspace.toml': { file: Buffer.from('members = []') } } },
        // Identical to the member's directory: written as an `R` entry pointing at it.
        [twin]: treeOf(FILES),
      },
    });
    expect(decodeArchive(archive.raw).references).toHaveLength(1);
    const objects = new Map([
      [projectSourceKey(member), sourceJson(archive.hash)],
      [projectSourceKey(twin), sourceJson(archive.hash)],
      [`artifacts/${archive.hash}.bar.zst`, archive.zst],
    ]);
    for (const hash of [member, twin]) {
      expect(await readProjectInfo(registry, objectsOf(objects), hash)).toEqual({ artifactHash: archive.hash, ...EXPECTED });
    }
  });

  it('is null when source.json or the artifact is missing, or the artifact holds no such project', async () => {
    const p = await buildProject(FILES);
    expect(await readProjectInfo(registry, objectsOf(new Map()), p.projectHash)).toBeNull();
    const noArtifact = new Map([[projectSourceKey(p.projectHash), p.objects.get(projectSourceKey(p.projectHash))!]]);
    expect(await readProjectInfo(registry, objectsOf(noArtifact), p.projectHash)).toBeNull();
    const other = hashOf('another project');
    const misnamed = new Map([...p.objects, [projectSourceKey(other), sourceJson(p.archive.hash)]]);
    expect(await readProjectInfo(registry, objectsOf(misnamed), other)).toBeNull();
  });
});
