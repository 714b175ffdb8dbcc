import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unpackedLimit } from '../../core/config.js';
import { fail } from '../../core/errors.js';
import { readMultipart } from '../../http/multipart-parts.js';
import { publicBaseUrl } from '../../http/base-url.js';
import { jsonErrorHandler } from '../../http/api-errors.js';
import { writeGate } from '../../http/gates.js';
import { checkWriter, type PackageRef } from '../../registry/owners.js';
import { reserveUpload } from '../../registry/upload-budget.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { juliaPackageRef, packagesIn } from './owners.js';
import { createRegistry, registerPackage, setJuliaYanked, storeArtifact } from './register.js';
import { disposeTree } from './spool.js';
import { treeFromTarball } from './tarball.js';
import { treeFromGit } from './git-source.js';
import type { FileTree } from './tree-hash.js';

/**
 * Larder's registration API for a hosted Julia repo, under `/{repo}/api/`: create a registry,
 * register a package version (from a tarball of its tree, or a git URL and revision), yank.
 */
export async function juliaApiRoutes(app: FastifyInstance, { registry, repo }: { registry: Registry; repo: Repo }): Promise<void> {
  const { limits } = registry.config;
  // Credentials and permission come from the headers before the body is read; the body then
  // reserves its size from the process-wide upload budget before it is buffered.
  const gate = writeGate(registry.auth, repo, 'this needs a token: send Authorization: Bearer <token>');
  const reserve = reserveUpload(registry.uploads);
  // Read per request: the limits in effect are those of registry.config when the upload arrives.
  const limitsFor = (kind: 'juliaPackage' | 'juliaArtifact') => ({
    maxUnpackedSize: unpackedLimit(registry.config, kind),
    maxEntries: limits.maxArchiveEntries,
  });
  app.setErrorHandler(jsonErrorHandler('julia api request'));
  await app.register(multipart, { limits: { fileSize: limits.maxArchiveSize, files: 100, fields: 0 } });
  app.addContentTypeParser(
    ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit: limits.maxArchiveSize },
    (_req, body, done) => done(null, body),
  );

  // Creating a registry changes the repo itself (what /registries lists to every client): admins only.
  app.post(
    '/api/registries',
    { onRequest: async (req) => void (await gate.check(req, 'admin')), preParsing: reserve },
    async (req, reply) => {
      const p = gate.of(req);
      const b = (req.body ?? {}) as {
        name?: unknown;
        uuid?: unknown;
        description?: unknown;
        depends_on?: unknown;
        trusted_registries?: unknown;
      };
      if (typeof b.name !== 'string' || typeof b.uuid !== 'string')
        fail('METADATA_INVALID', 'send {"name": "MyRegistry", "uuid": "<uuid>", "description": "…", "depends_on": ["<registry uuid>"]}');
      if (b.trusted_registries !== undefined)
        fail(
          'METADATA_INVALID',
          'trusted_registries belongs to one package (its Package.toml): set it when registering, with ?trusted_registries=<uuid>,…; ' +
            'the registries whose packages this registry may depend on are "depends_on"',
        );
      if (b.depends_on !== undefined && (!Array.isArray(b.depends_on) || !b.depends_on.every((d) => typeof d === 'string')))
        fail('METADATA_INVALID', 'depends_on must be a list of registry UUIDs');
      const tree = await createRegistry(registry, repo, p, {
        name: b.name,
        uuid: b.uuid,
        repoUrl: `${publicBaseUrl(registry.config, req)}/${repo.name}/${b.name}.git`,
        description: typeof b.description === 'string' ? b.description : undefined,
        dependsOn: b.depends_on as string[] | undefined,
      });
      reply.code(201);
      return { name: b.name, uuid: b.uuid, tree };
    },
  );

  // The package is named only inside the body: the token's package limit and ownership are checked once it is read.
  const registerHooks = { onRequest: async (req: FastifyRequest) => void (await gate.check(req, 'publish')), preParsing: reserve };
  app.put('/api/registries/:uuid/packages', { bodyLimit: limits.maxArchiveSize, ...registerHooks }, async (req, reply) => {
    const p = gate.of(req);
    const { uuid } = req.params as { uuid: string };
    let tree: FileTree | undefined;
    const artifacts: FileTree[] = [];
    try {
      if (req.isMultipart()) {
        // A package tarball plus the artifacts its Artifacts.toml names, in one request.
        const pkg = await readMultipart(req, async (parts) => {
          let found: Buffer | null = null;
          for await (const part of parts) {
            if (part.type !== 'file') continue;
            const data = await part.toBuffer();
            if (part.fieldname === 'package') found = data;
            else if (part.fieldname === 'artifact') artifacts.push(await treeFromTarball(data, limitsFor('juliaArtifact')));
            else fail('BODY_MALFORMED', `unknown part "${part.fieldname}"; send "package" and any number of "artifact" tarballs`);
          }
          return found;
        });
        if (!pkg) fail('BODY_MALFORMED', 'the multipart registration has no "package" part');
        tree = await treeFromTarball(pkg, limitsFor('juliaPackage'));
      } else if (Buffer.isBuffer(req.body)) {
        tree = await treeFromTarball(req.body, limitsFor('juliaPackage'));
      } else {
        const b = (req.body ?? {}) as { git?: unknown; rev?: unknown; subdir?: unknown };
        if (typeof b.git !== 'string' || typeof b.rev !== 'string')
          fail(
            'BODY_MALFORMED',
            'send the package tree as a tarball (Content-Type: application/gzip), or JSON {"git": "<url>", "rev": "<commit or tag>", "subdir": "…"}',
          );
        tree = await treeFromGit(registry, b.git, b.rev, typeof b.subdir === 'string' ? b.subdir : undefined);
      }
      const query = req.query as { repo?: string; trusted_registries?: string | string[] };
      const base = publicBaseUrl(registry.config, req);
      // Pkg's per-package trusted_registries (Package.toml): `?trusted_registries=<uuid>,<uuid>`; empty removes it.
      const trusted =
        query.trusted_registries === undefined
          ? undefined
          : [query.trusted_registries].flat().flatMap((u) => u.split(',').filter((x) => x !== ''));
      const result = await registerPackage(registry, repo, p, uuid, tree, {
        repoUrl: query.repo,
        baseUrl: base,
        trustedRegistries: trusted,
      });
      const owned = juliaPackageRef(repo, result.uuid, result.name);
      const artifactTrees = [];
      for (const a of artifacts) artifactTrees.push(await storeArtifact(registry, repo, p, owned, a));
      reply.code(201);
      return { ...result, artifacts: artifactTrees };
    } finally {
      // Large files of the trees were spooled to disk (spool.ts).
      for (const t of [tree, ...artifacts]) if (t) await disposeTree(t);
    }
  });

  /** The package a URL names in a registry, refused before the body unless the caller may publish it and owns it. */
  async function artifactPackage(req: FastifyRequest): Promise<PackageRef> {
    const { uuid, name } = req.params as { uuid: string; name: string };
    const p = await gate.check(req, 'publish', name);
    const found = (await packagesIn(registry, repo, uuid)).find((x) => x.name === name);
    if (!found)
      fail(
        'PACKAGE_NOT_FOUND',
        `no package ${name} in registry ${uuid} of ${repo.name}; register it first (a new package can bring its artifacts in a multipart registration)`,
      );
    const ref = juliaPackageRef(repo, found.uuid, found.name);
    await checkWriter(registry.db, p, ref, true);
    artifactRefs.set(req, ref);
    return ref;
  }
  const artifactRefs = new WeakMap<FastifyRequest, PackageRef>();

  // Artifacts (a package's Artifacts.toml names them by tree hash); served at /artifact/{hash}.
  app.put(
    '/api/registries/:uuid/packages/:name/artifacts',
    { bodyLimit: limits.maxArchiveSize, onRequest: async (req) => void (await artifactPackage(req)), preParsing: reserve },
    async (req, reply) => {
      const p = gate.of(req);
      if (!Buffer.isBuffer(req.body)) fail('BODY_MALFORMED', 'send the artifact as a tarball (Content-Type: application/gzip)');
      const tree = await treeFromTarball(req.body, limitsFor('juliaArtifact'));
      const treeHash = await storeArtifact(registry, repo, p, artifactRefs.get(req)!, tree).finally(() => disposeTree(tree));
      reply.code(201);
      return { 'git-tree-sha1': treeHash };
    },
  );

  for (const [method, yanked] of [
    ['POST', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/api/registries/:uuid/packages/:name/:version/yank',
      onRequest: async (req) => void (await gate.check(req, 'yank', (req.params as { name: string }).name)),
      preParsing: reserve,
      handler: async (req) => {
        const { uuid, name, version } = req.params as { uuid: string; name: string; version: string };
        const reason = yanked ? yankReason(req.body) : null;
        return { tree: await setJuliaYanked(registry, repo, gate.of(req), uuid, name, version, yanked, reason) };
      },
    });
  }
}

/** The optional `{"reason": "…"}` of a yank (shown on the package page), checked. */
function yankReason(body: unknown): string | null {
  if (body === undefined || body === null) return null;
  if (typeof body !== 'object' || Buffer.isBuffer(body) || Array.isArray(body))
    fail('BODY_MALFORMED', 'send no body, or JSON {"reason": "why, and which version to use instead"}');
  const reason = (body as { reason?: unknown }).reason;
  if (reason !== undefined && reason !== null && typeof reason !== 'string') fail('BODY_MALFORMED', '"reason" must be a string');
  if (typeof reason !== 'string' || reason.trim() === '') return null;
  if (reason.length > 1000) fail('BODY_MALFORMED', '"reason" is longer than 1000 characters; say it shorter');
  return reason;
}
