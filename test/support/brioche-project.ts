/**
 * Brioche projects as `brioche publish` uploads them (brioche-core project/artifact.rs): an artifact whose root holds
 * `<projectHash>/` with the project's files (project.bri, brioche.lock, …), its `projects/<hash>/source.json`, and the
 * objects a fake upstream cache would serve for it. The project hash is a stand-in: the server never computes one.
 */
import { projectSourceKey } from '../../src/formats/brioche/keys.js';
import type { Registry } from '../../src/registry/registry.js';
import { buildArchive, type BuiltArchive, type Tree } from './brioche-archive.js';
import { hashOf, putCacheObject, sourceJson } from './brioche-registry.js';

/** A project's files by path below the project directory (`sub/mod.bri`). */
export type ProjectFiles = Record<string, string>;

/** A tree of files from `/`-separated paths. */
export function treeOf(files: ProjectFiles): Tree {
  const root: Record<string, Tree> = {};
  for (const [path, content] of Object.entries(files)) {
    const parts = path.split('/');
    let dir = root;
    for (const p of parts.slice(0, -1)) {
      const next = (dir[p] ??= { dir: {} });
      if (!('dir' in next)) throw new Error(`${path}: ${p} is a file`);
      dir = next.dir;
    }
    dir[parts[parts.length - 1]!] = { file: Buffer.from(content) };
  }
  return { dir: root };
}

export interface BuiltProject {
  projectHash: string;
  archive: BuiltArchive;
  /** Cache key → bytes: source.json, the artifact and its chunks. */
  objects: Map<string, Buffer>;
}

/** The cache objects of one project (its dependencies' projects are left out: the server reads only this one). */
export async function buildProject(files: ProjectFiles, opts: { chunkSize?: number; seed?: string } = {}): Promise<BuiltProject> {
  const projectHash = hashOf(`project ${opts.seed ?? ''} ${JSON.stringify(files)}`);
  const archive = await buildArchive({ dir: { [projectHash]: treeOf(files) } }, { chunkSize: opts.chunkSize });
  const objects = new Map<string, Buffer>([
    [projectSourceKey(projectHash), sourceJson(archive.hash)],
    [`artifacts/${archive.hash}.bar.zst`, archive.zst],
    ...[...archive.chunks].map(([h, b]): [string, Buffer] => [`chunks/${h}.zst`, b]),
  ]);
  return { projectHash, archive, objects };
}

/** Puts a project's objects into a hosted repo's cache (as the S3 endpoint would have stored them); returns its hash. */
export async function putProjectObjects(registry: Registry, repo: string, project: BuiltProject): Promise<string> {
  for (const [key, body] of project.objects) await putCacheObject(registry, repo, key, body);
  return project.projectHash;
}

/** A `project.bri` with the given `project` export and imports. */
export function projectBri(project: Record<string, unknown>, imports: string[] = []): string {
  return [
    ...imports.map((i) => `import * as ${i.replace(/\W/g, '_')} from "${i}";`),
    '',
    `export const project = ${JSON.stringify(project, null, 2)};`,
    '',
    'export default function () {',
    '  return Brioche.glob("src");',
    '}',
    '',
  ].join('\n');
}
