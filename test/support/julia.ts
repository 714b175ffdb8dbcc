/** Builders for Julia registrations: Project.toml text and the canonical tarball of a package tree. */
import { canonicalTarball } from '../../src/formats/julia/tarball.js';
import type { FileTree } from '../../src/formats/julia/tree-hash.js';

/** A Project.toml with a julia compat entry (AutoMerge requires one). */
export function projectToml(name: string, uuid: string, version: string): string {
  return `name = "${name}"\nuuid = "${uuid}"\nversion = "${version}"\n\n[compat]\njulia = "1.6"\n`;
}

/** The gzip tarball of a minimal package tree (Project.toml and src/). */
export async function juliaPackageTarball(name: string, uuid: string, version: string): Promise<Buffer> {
  const tree: FileTree = new Map([
    ['Project.toml', { kind: 'file', data: Buffer.from(projectToml(name, uuid, version)) }],
    [`src/${name}.jl`, { kind: 'file', data: Buffer.from(`module ${name} end\n`) }],
  ]);
  return canonicalTarball(tree);
}

/** The gzip tarball of a small artifact tree. */
export async function artifactTarball(text: string): Promise<Buffer> {
  return canonicalTarball(new Map([['share/README', { kind: 'file', data: Buffer.from(text) }]]));
}
