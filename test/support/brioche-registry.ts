/**
 * Brioche registry test helpers: cache objects put straight into a hosted repo's store (what the S3
 * endpoint would have stored), tag updates as `brioche publish` sends them, and a model of how
 * brioche joins its registry URL (protocols/brioche.md §2.1).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { projectSourceKey } from '../../src/formats/brioche/keys.js';
import type { BriocheTables } from '../../src/formats/brioche/store.js';
import { storeBlob } from '../../src/registry/blob-records.js';
import type { Registry } from '../../src/registry/registry.js';
import { inTransaction } from '../../src/registry/tx.js';

/** A fake 64-hex hash, distinct per seed. */
export const hashOf = (seed: string): string => createHash('sha256').update(seed).digest('hex');

/** The body of `projects/<h>/source.json`. */
export const sourceJson = (artifactHash: string): Buffer => Buffer.from(JSON.stringify({ artifactHash }));

/** Stores a cache object in a hosted repo as the cache's write path would (blob + row), bypassing verification. */
export async function putCacheObject(registry: Registry, repoName: string, key: string, body: Buffer): Promise<void> {
  const repo = registry.repos.get(repoName)!;
  const staged = await registry.blobs.stage(Readable.from([body]));
  await inTransaction(registry, async (uow) => {
    await storeBlob(uow, staged);
    await uow.trx
      .withTables<BriocheTables>()
      .insertInto('brioche_objects')
      .values({ repo_id: repo.id, key, sha256: staged.sha256, size: staged.size, created_at: Date.now(), created_by: null })
      .onConflict((oc) => oc.doNothing())
      .execute();
  });
}

/** Puts `projects/<projectHash>/source.json` into a hosted repo, so tags may point at that project. */
export async function putProject(registry: Registry, repoName: string, projectHash: string): Promise<void> {
  await putCacheObject(registry, repoName, projectSourceKey(projectHash), sourceJson(hashOf(`artifact of ${projectHash}`)));
}

/** `Authorization: Basic base64(user:password)`, as brioche sends BRIOCHE_REGISTRY_PASSWORD (user `admin`). */
export const basic = (password: string, user = 'admin'): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** One tag of a POST body. */
export interface TagInput {
  projectName: string;
  tag: string;
  projectHash: string;
}

/** `POST {R}v0/project-tags` as brioche publish sends it (`?brioche=` and `includesCycles` included). */
export function postTags(app: FastifyInstance, repo: string, tags: TagInput[], authorization?: string): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/${repo}/registry/v0/project-tags?brioche=0.1.7`,
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    payload: JSON.stringify({ tags, includesCycles: false }),
  });
}

/** Percent-encodes a path segment as brioche does (every byte but `A-Z a-z 0-9 - . _ ~`). */
export const encodeSegment = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The URL brioche requests for a tag: `v0/project-tags/…` joined onto `registry_url` (URL-reference rules, §2.1). */
export function clientTagUrl(registryUrl: string, project: string, tag: string, version = '0.1.7'): string {
  const url = new URL(`v0/project-tags/${encodeSegment(project)}/${encodeSegment(tag)}`, registryUrl);
  url.searchParams.set('brioche', version);
  return url.toString();
}
