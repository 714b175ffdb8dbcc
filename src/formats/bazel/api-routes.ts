import multipart, { type Multipart } from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fail } from '../../core/errors.js';
import { audit } from '../../registry/audit.js';
import type { Principal, Scope } from '../../registry/auth.js';
import { publicBaseUrl } from '../../http/base-url.js';
import { jsonErrorHandler } from '../../http/api-errors.js';
import { writeGate } from '../../http/gates.js';
import { reserveUpload } from '../../registry/upload-budget.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import { authorizeWrite, checkWriter } from '../../registry/owners.js';
import { moduleExists, moduleRef } from './owners.js';
import { readMultipart } from '../../http/multipart-parts.js';
import { parseMetadata, serializeMetadata, withYank, type BazelMetadata, type Maintainer } from './metadata.js';
import { publishBazelModule, type BazelPublish } from './publish.js';
import { writeModuleSearchEntry } from './search-entry.js';

/** Reads the multipart publish body into a BazelPublish (see the README for the part names). */
function readPublish(req: FastifyRequest, module: string, version: string): Promise<BazelPublish> {
  return readMultipart(req, (parts) => readParts(parts, module, version));
}

async function readParts(parts: AsyncIterable<Multipart>, module: string, version: string): Promise<BazelPublish> {
  const pub: BazelPublish = { module, version, moduleFile: Buffer.alloc(0), patches: new Map(), overlay: new Map() };
  let sawModule = false;
  for await (const part of parts) {
    const data = part.type === 'file' ? await part.toBuffer() : Buffer.from(String(part.value));
    const name = part.fieldname;
    if (name === 'MODULE.bazel') [pub.moduleFile, sawModule] = [data, true];
    else if (name === 'source.json') pub.sourceJson = data;
    else if (name === 'archive') pub.archive = { fileName: part.type === 'file' ? part.filename : 'archive', data };
    else if (name === 'presubmit.yml') pub.presubmit = data;
    else if (name === 'strip_prefix') pub.stripPrefix = data.toString();
    else if (name === 'archive_type') pub.archiveType = data.toString();
    else if (name === 'patch_strip') {
      pub.patchStrip = Number(data.toString());
      if (!Number.isInteger(pub.patchStrip) || pub.patchStrip < 0) fail('METADATA_INVALID', 'patch_strip must be a whole number ≥ 0');
    } else if (name.startsWith('patches/')) pub.patches.set(name.slice('patches/'.length), data);
    else if (name.startsWith('overlay/')) pub.overlay.set(name.slice('overlay/'.length), data);
    else if (name === 'allow_compatibility_level_change') pub.allowCompatibilityLevelChange = data.toString() === 'true';
    else if (name === 'metadata') pub.metadata = parseJsonField(data, 'metadata') as Partial<BazelMetadata>;
    else
      fail(
        'METADATA_INVALID',
        `unknown part "${name}"; expected MODULE.bazel, source.json or archive, patches/<name>, overlay/<path>, presubmit.yml, strip_prefix, archive_type, patch_strip, metadata, allow_compatibility_level_change`,
      );
  }
  if (!sawModule) fail('METADATA_INVALID', 'the publish has no MODULE.bazel part');
  return pub;
}

function parseJsonField(data: Buffer, what: string): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    fail('METADATA_INVALID', `${what} is not valid JSON`);
  }
}

/**
 * Larder's own publishing API for a Bazel registry (Bazel has none), mounted under
 * `/{repo}/api/`: publish, yank and unyank, and metadata edits, with scoped tokens and audit.
 */
export async function bazelApiRoutes(app: FastifyInstance, { registry, repo }: { registry: Registry; repo: Repo }): Promise<void> {
  const { limits } = registry.config;
  const gate = writeGate(
    registry.auth,
    repo,
    'this needs a token: send Authorization: Bearer <token> (create one with `larder token create --scopes publish`)',
  );
  const reserve = reserveUpload(registry.uploads);

  /**
   * The `onRequest` check of every write: token, scope and package limit for the module in the
   * URL, and ownership of it, before a byte of the body is read (the transaction checks ownership again).
   */
  const guard = (scope: Scope) => async (req: FastifyRequest) => {
    const { module } = req.params as { module: string };
    const p = await gate.check(req, scope, module);
    await checkWriter(registry.db, p, moduleRef(repo, module), await moduleExists(registry.db, repo, module));
  };

  app.setErrorHandler(jsonErrorHandler('bazel api request'));

  await app.register(multipart, {
    limits: { fileSize: limits.maxArchiveSize, files: 10_000, fields: 20, fieldSize: limits.maxMetadataSize },
  });

  app.put('/api/modules/:module/:version', { onRequest: guard('publish'), preParsing: reserve }, async (req, reply) => {
    const p = gate.of(req);
    const { module, version } = req.params as { module: string; version: string };
    if (!req.isMultipart()) fail('BODY_MALFORMED', 'send the publish as multipart/form-data (see the README for the parts)');
    const pub = await readPublish(req, module, version);
    const { sourceJson } = await publishBazelModule(registry, repo, p, pub, publicBaseUrl(registry.config, req));
    reply.code(201);
    return { module, version, source: JSON.parse(sourceJson.toString('utf8')) };
  });

  /** Rewrites a module's metadata.json, and its search entry, inside one transaction; a change that changes nothing writes nothing. */
  async function editMetadata(
    p: Principal,
    module: string,
    action: string,
    change: (m: BazelMetadata) => BazelMetadata,
  ): Promise<BazelMetadata> {
    const path = `modules/${module}/metadata.json`;
    return inTransaction(registry, async (uow) => {
      const doc = await registry.docs.read(uow, repo.id, path);
      if (!doc) fail('PACKAGE_NOT_FOUND', `module ${module} is not in registry ${repo.name}`);
      await authorizeWrite(uow.trx, registry.dialect, p, moduleRef(repo, module), true);
      const next = change(parseMetadata(doc, module));
      const body = serializeMetadata(next);
      // A repeat (a retried yank, the same edit twice) changes no byte: nothing is written, so no new ETag or audit entry.
      if (body.equals(doc)) return next;
      await registry.docs.put(uow, repo.id, path, body);
      await writeModuleSearchEntry(registry, uow, repo, module);
      await audit(uow.trx, { userId: p.userId, repoId: repo.id, action, subject: module });
      return next;
    });
  }

  for (const [method, yank] of [
    ['POST', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/api/modules/:module/:version/yank',
      onRequest: guard('yank'),
      preParsing: reserve,
      handler: async (req) => {
        const p = gate.of(req);
        const { module, version } = req.params as { module: string; version: string };
        const reason = yank ? (req.body as { reason?: unknown } | undefined)?.reason : null;
        if (yank && typeof reason !== 'string')
          fail('METADATA_INVALID', 'send {"reason": "…"}: what is wrong with this version and which to use instead');
        const m = await editMetadata(p, module, yank ? 'bazel.yank' : 'bazel.unyank', (cur) =>
          withYank(cur, module, version, reason as string | null),
        );
        return { module, yanked_versions: m.yanked_versions };
      },
    });
  }

  app.patch('/api/modules/:module', { onRequest: guard('publish'), preParsing: reserve }, async (req) => {
    const p = gate.of(req);
    const { module } = req.params as { module: string };
    const body = (req.body ?? {}) as { homepage?: unknown; maintainers?: unknown; repository?: unknown; deprecated?: unknown };
    const m = await editMetadata(p, module, 'bazel.metadata', (cur) => {
      const next = { ...cur };
      if (body.homepage !== undefined)
        next.homepage = typeof body.homepage === 'string' ? body.homepage : fail('METADATA_INVALID', 'homepage must be a string');
      if (body.maintainers !== undefined) {
        if (
          !Array.isArray(body.maintainers) ||
          body.maintainers.length === 0 ||
          !body.maintainers.every((x) => typeof x === 'object' && x !== null)
        )
          fail('METADATA_INVALID', 'maintainers must be a non-empty list of {email, name, github, …}');
        next.maintainers = body.maintainers as Maintainer[];
      }
      if (body.repository !== undefined) {
        if (!Array.isArray(body.repository) || !body.repository.every((x) => typeof x === 'string'))
          fail('METADATA_INVALID', 'repository must be a list of strings');
        next.repository = body.repository as string[];
      }
      if (body.deprecated === null) delete next.deprecated;
      else if (typeof body.deprecated === 'string') next.deprecated = body.deprecated;
      else if (body.deprecated !== undefined) fail('METADATA_INVALID', 'deprecated must be a string (the reason) or null');
      return next;
    });
    return m;
  });
}
