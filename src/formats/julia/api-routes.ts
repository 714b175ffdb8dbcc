import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unpackedLimit } from '../../core/config.js';
import { fail, LarderError } from '../../core/errors.js';
import type { Principal } from '../../registry/auth.js';
import { publicBaseUrl } from '../../registry/base-url.js';
import { jsonErrorHandler } from '../../registry/api-errors.js';
import { principalFromHeader } from '../../registry/credentials.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { createRegistry, registerPackage, setJuliaYanked, storeArtifact } from './register.js';
import { disposeTree } from './spool.js';
import { treeFromTarball } from './tarball.js';
import { readDirTree, type FileTree } from './tree-hash.js';

const run = promisify(execFile);

/** A package tree from a git URL and revision the server can reach (`subdir` for monorepos). */
async function treeFromGit(url: string, rev: string, subdir?: string): Promise<FileTree> {
  if (!/^(https?|git|ssh|file):\/\//.test(url)) fail('METADATA_INVALID', `git must be a URL (https://…, file://…), got ${JSON.stringify(url)}`);
  if (!/^[A-Za-z0-9._/-]+$/.test(rev) || rev.startsWith('-')) fail('METADATA_INVALID', `rev ${JSON.stringify(rev)} is not a commit, tag or branch name`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-julia-git-'));
  try {
    await run('git', ['clone', '--quiet', '--no-checkout', '--', url, dir]).catch((err) => fail('ARCHIVE_INVALID', `git clone ${url} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`));
    await run('git', ['-C', dir, '-c', 'core.autocrlf=false', 'checkout', '--quiet', rev]).catch(() => fail('ARCHIVE_INVALID', `${url} has no revision ${rev}`));
    const { stdout } = await run('git', ['-C', dir, 'ls-tree', '-r', 'HEAD']);
    if (stdout.split('\n').some((l) => l.startsWith('160000 '))) fail('ARCHIVE_INVALID', 'the package has git submodules; their contents cannot be reproduced from a tarball');
    const root = subdir ? path.join(dir, subdir) : dir;
    if (subdir && (subdir.includes('..') || !fs.existsSync(root))) fail('METADATA_INVALID', `subdir ${subdir} is not in ${url} at ${rev}`);
    return await readDirTree(root);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Larder's registration API for a hosted Julia repo, under `/{repo}/api/`: create a registry,
 * register a package version (from a tarball of its tree, or a git URL and revision), yank.
 */
export async function juliaApiRoutes(app: FastifyInstance, { registry, repo }: { registry: Registry; repo: Repo }): Promise<void> {
  const { limits } = registry.config;
  async function principal(req: FastifyRequest): Promise<Principal> {
    const p = await principalFromHeader(registry.auth, req.headers.authorization);
    if (!p) throw new LarderError('AUTH_REQUIRED', 'this needs a token: send Authorization: Bearer <token>');
    return p;
  }
  // Read per request: the limits in effect are those of registry.config when the upload arrives.
  const limitsFor = (kind: 'juliaPackage' | 'juliaArtifact') => ({ maxUnpackedSize: unpackedLimit(registry.config, kind), maxEntries: limits.maxArchiveEntries });
  app.setErrorHandler(jsonErrorHandler('julia api request'));
  await app.register(multipart, { limits: { fileSize: limits.maxArchiveSize, files: 100, fields: 0 } });
  app.addContentTypeParser(['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: limits.maxArchiveSize }, (_req, body, done) => done(null, body));

  app.post('/api/registries', async (req, reply) => {
    const p = await principal(req);
    const b = (req.body ?? {}) as { name?: unknown; uuid?: unknown; description?: unknown; trusted_registries?: unknown };
    if (typeof b.name !== 'string' || typeof b.uuid !== 'string') fail('METADATA_INVALID', 'send {"name": "MyRegistry", "uuid": "<uuid>", "description": "…", "trusted_registries": ["<registry uuid>"]}');
    if (b.trusted_registries !== undefined && (!Array.isArray(b.trusted_registries) || !b.trusted_registries.every((d) => typeof d === 'string'))) fail('METADATA_INVALID', 'trusted_registries must be a list of registry UUIDs');
    const tree = await createRegistry(registry, repo, p, { name: b.name, uuid: b.uuid, repoUrl: `${publicBaseUrl(registry.config, req)}/${repo.name}/${b.name}.git`, description: typeof b.description === 'string' ? b.description : undefined, trustedRegistries: b.trusted_registries as string[] | undefined });
    reply.code(201);
    return { name: b.name, uuid: b.uuid, tree };
  });

  app.put('/api/registries/:uuid/packages', { bodyLimit: limits.maxArchiveSize }, async (req, reply) => {
    const p = await principal(req);
    const { uuid } = req.params as { uuid: string };
    let tree: FileTree | undefined;
    const artifacts: FileTree[] = [];
    try {
      if (req.isMultipart()) {
        // A package tarball plus the artifacts its Artifacts.toml names, in one request.
        let pkg: Buffer | null = null;
        for await (const part of req.parts()) {
          if (part.type !== 'file') continue;
          const data = await part.toBuffer();
          if (part.fieldname === 'package') pkg = data;
          else if (part.fieldname === 'artifact') artifacts.push(await treeFromTarball(data, limitsFor('juliaArtifact')));
          else fail('BODY_MALFORMED', `unknown part "${part.fieldname}"; send "package" and any number of "artifact" tarballs`);
        }
        if (!pkg) fail('BODY_MALFORMED', 'the multipart registration has no "package" part');
        tree = await treeFromTarball(pkg, limitsFor('juliaPackage'));
      } else if (Buffer.isBuffer(req.body)) {
        tree = await treeFromTarball(req.body, limitsFor('juliaPackage'));
      } else {
        const b = (req.body ?? {}) as { git?: unknown; rev?: unknown; subdir?: unknown };
        if (typeof b.git !== 'string' || typeof b.rev !== 'string') fail('BODY_MALFORMED', 'send the package tree as a tarball (Content-Type: application/gzip), or JSON {"git": "<url>", "rev": "<commit or tag>", "subdir": "…"}');
        tree = await treeFromGit(b.git, b.rev, typeof b.subdir === 'string' ? b.subdir : undefined);
      }
      const query = req.query as { repo?: string };
      const base = publicBaseUrl(registry.config, req);
      const result = await registerPackage(registry, repo, p, uuid, tree, { repoUrl: query.repo, baseUrl: base });
      const artifactTrees = [];
      for (const a of artifacts) artifactTrees.push(await storeArtifact(registry, repo, p, a));
      reply.code(201);
      return { ...result, artifacts: artifactTrees };
    } finally {
      // Large files of the trees were spooled to disk (spool.ts).
      for (const t of [tree, ...artifacts]) if (t) await disposeTree(t);
    }
  });

  // Artifacts (a package's Artifacts.toml names them by tree hash); served at /artifact/{hash}.
  app.put('/api/artifacts', { bodyLimit: limits.maxArchiveSize }, async (req, reply) => {
    const p = await principal(req);
    if (!Buffer.isBuffer(req.body)) fail('BODY_MALFORMED', 'send the artifact as a tarball (Content-Type: application/gzip)');
    const tree = await treeFromTarball(req.body, limitsFor('juliaArtifact'));
    const treeHash = await storeArtifact(registry, repo, p, tree).finally(() => disposeTree(tree));
    reply.code(201);
    return { 'git-tree-sha1': treeHash };
  });

  for (const [method, yanked] of [['POST', true], ['DELETE', false]] as const) {
    app.route({
      method,
      url: '/api/registries/:uuid/packages/:name/:version/yank',
      handler: async (req) => {
        const p = await principal(req);
        const { uuid, name, version } = req.params as { uuid: string; name: string; version: string };
        return { tree: await setJuliaYanked(registry, repo, p, uuid, name, version, yanked) };
      },
    });
  }
}
