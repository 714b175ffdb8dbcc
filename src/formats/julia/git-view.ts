import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { serveUploadPack } from '../../http/git-smart.js';
import { syncGitHistory, type TreeSource } from '../../registry/git-history/build.js';
import type { GitFile } from '../../registry/git-history/record.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { juliaDb } from './db.js';
import { juliaParts } from './parts.js';
import { readTarEntries } from './tree-hash.js';

/** Where a registry's bare git repository is kept (a cache: it can be deleted and rebuilt). */
function bareDir(registry: Registry, repo: Repo, uuid: string): string {
  return path.join(registry.config.data, 'julia-git', String(repo.id), `${uuid}.git`);
}

/** The files of a registry tree, read from the registry tarball stored for it. */
function registryTrees(registry: Registry, repo: Repo, uuid: string): TreeSource {
  return async (treeHash, add) => {
    const row = await juliaParts.hosted.artifact(registry, repo, `registry/${uuid}/${treeHash}`);
    const blob = row ? await registry.blobs.open(row.sha256) : null;
    if (!blob) throw new LarderError('INTERNAL', `the tarball of registry tree ${treeHash} is missing`);
    await readTarEntries(
      blob.stream(),
      async ({ header, parts, body }) => {
        if (header.type === 'directory') return;
        let file: GitFile;
        if (header.type === 'symlink') file = { path: parts.join('/'), mode: '120000', data: Buffer.from(header.linkname ?? '') };
        else if (header.type === 'file') {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk);
          file = { path: parts.join('/'), mode: header.mode && header.mode & 0o100 ? '100755' : '100644', data: Buffer.concat(chunks) };
        } else throw new LarderError('INTERNAL', `registry tree ${treeHash} holds a ${header.type} entry`);
        await add(file);
      },
      { gzip: true },
    );
  };
}

/**
 * Serves a registry's git repository over smart HTTP (clone and fetch only), so
 * `pkg> registry add https://host/<repo>/<Name>.git` works. Its commits are the registry's recorded
 * changes (store.ts `recordCommit`) on `master`, the branch it was first served on.
 */
export async function serveGit(
  registry: Registry,
  repo: Repo,
  req: FastifyRequest,
  reply: FastifyReply,
  name: string,
  rest: string,
): Promise<void> {
  const reg = await juliaDb(registry)
    .selectFrom('julia_registries')
    .select('uuid')
    .where('repo_id', '=', repo.id)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!reg) throw new LarderError('NOT_FOUND', `no git repository ${name}.git here`);
  await serveUploadPack(req, reply, {
    name,
    rest,
    dumb: true,
    refusal: 'registries are changed through registration, not git push',
    repository: () =>
      syncGitHistory(registry.db, {
        repoId: repo.id,
        history: reg.uuid,
        dir: bareDir(registry, repo, reg.uuid),
        branch: 'master',
        trees: registryTrees(registry, repo, reg.uuid),
      }),
  });
}
