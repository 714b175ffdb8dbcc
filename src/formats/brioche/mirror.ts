/**
 * `larder mirror` for a Brioche proxy (protocols/brioche.md §5): there is no listing API, so a
 * project is walked from its name: tag `latest` → `projects/<hash>/source.json` → its artifact.
 * The artifact's chunks are fetched as the artifact is verified (its check loads them through the
 * proxy), so they are in the mirror once the artifact is.
 */
import { fail } from '../../core/errors.js';
import type { MirrorPlan, ProxyContext } from '../../registry/source-parts.js';
import { HASH, isProjectName, projectSourceKey, tagPath } from './keys.js';

/** The JSON body of a blob as an object, or null when it is not one. */
async function readJson(stream: NodeJS.ReadableStream): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The cache objects one project's `latest` needs offline, or null when the upstream has no such project. */
export async function mirrorProject(ctx: ProxyContext, project: string): Promise<MirrorPlan | null> {
  if (!isProjectName(project)) return null;
  const tag = await ctx.doc(tagPath(project, 'latest'));
  if (!tag) return null;
  const hash = (JSON.parse(tag.body.toString('utf8')) as { projectHash?: unknown }).projectHash;
  if (typeof hash !== 'string' || !HASH.test(hash))
    fail('UPSTREAM_INTEGRITY', `the upstream's tag ${project}:latest does not name a project hash`);
  const sourceKey = projectSourceKey(hash);
  const source = await ctx.artifact(sourceKey);
  if (!source) fail('UPSTREAM_FAILED', `the upstream cache has no ${sourceKey}, which its tag ${project}:latest names`);
  const artifactHash = (await readJson(source.blob.stream()))?.artifactHash;
  // The upstream object was checked for this shape before it was stored; a bad one is a broken store.
  if (typeof artifactHash !== 'string' || !HASH.test(artifactHash)) fail('INTERNAL', `${sourceKey} in the store has no artifactHash`);
  // Dependencies are named inside the project, which is inside the artifact: not walked (mirror them by name).
  return { artifacts: [sourceKey, `artifacts/${artifactHash}.bar.zst`], dependencies: [] };
}
