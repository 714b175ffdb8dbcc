/**
 * The write API of a MoonBit repo, as the closed `mooncake` client sends it (protocols/moonbit.md §9)
 * and as `larder moonbit publish|yank` uses it: `POST api/v0/publish` (multipart `token` + `file`),
 * `POST api/v0/yank`, and the deprecate payload of §14.3 at `POST api/v0/deprecate`.
 */
import multipart, { type Multipart } from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fail, LarderError } from '../../core/errors.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { requireHosted, writeGate } from '../../http/gates.js';
import { readMultipart } from '../../http/multipart-parts.js';
import { requirePermission, type Principal } from '../../registry/auth.js';
import { tokenFromAuthorization } from '../../registry/credentials.js';
import { reserveUpload } from '../../registry/upload-budget.js';
import { publishModule } from './publish.js';
import { setYanked } from './yank.js';

const HOW_TO =
  'this needs a token: send Authorization: Bearer <token>, or a multipart field "token" before "file" (create one with `larder token create --scopes publish`)';

const DRY_RUN_DETAIL = 'Dry run completed successfully. No changes were made: the module passed every check and was not published.';

const truthy = (v: unknown) => typeof v === 'string' && ['true', '1', 'yes'].includes(v.trim().toLowerCase());

/** A publish as read from the multipart body: the principal (header or `token` field), the zip, dry run. */
interface PublishBody {
  p: Principal;
  zip: Buffer;
  dryRun: boolean;
}

/** Every write route of a MoonBit repo. Proxies and groups refuse them (405) before credentials or body. */
export async function publishRoutes(app: FastifyInstance, { registry, repo }: RouteContext): Promise<void> {
  const { limits } = registry.config;
  const gate = writeGate(registry.auth, repo, HOW_TO);
  const reserve = reserveUpload(registry.uploads);
  // Before any byte of the body: read-only repos refuse; a token in a header is checked now.
  const headerPrincipals = new WeakMap<object, Principal>();
  const publishGuard = async (req: FastifyRequest) => {
    requireHosted(repo);
    if (tokenFromAuthorization(req.headers.authorization)) headerPrincipals.set(req, await gate.check(req, 'publish'));
  };

  await app.register(multipart, {
    limits: { fileSize: limits.maxArchiveSize, files: 1, fields: 10, fieldSize: 64 * 1024, parts: 11 },
  });

  /** Reads the parts in order: a token field must come before the file, so nothing is read for an unknown caller. */
  async function readParts(req: FastifyRequest, parts: AsyncIterable<Multipart>): Promise<PublishBody> {
    let p = headerPrincipals.get(req) ?? null;
    let zip: Buffer | null = null;
    let dryRun = false;
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') fail('BODY_MALFORMED', `unknown file part "${part.fieldname}"; send the module zip as "file"`);
        if (zip) fail('BODY_MALFORMED', 'the publish has two "file" parts; send one module zip');
        if (!p) {
          part.file.resume();
          throw new LarderError('AUTH_REQUIRED', `${HOW_TO}; the "token" field came after the file or not at all`);
        }
        zip = await part.toBuffer();
        continue;
      }
      const value = String(part.value);
      if (part.fieldname === 'token') {
        // A header token wins; a field token is the mooncake client's way (checked like a header).
        if (!headerPrincipals.has(req)) {
          const token = value.trim();
          if (!token) throw new LarderError('AUTH_REQUIRED', HOW_TO);
          p = await registry.auth.authenticate(token);
          requirePermission(p, 'publish', repo.name);
        }
      } else if (part.fieldname === 'dry_run' || part.fieldname === 'dry-run') dryRun = truthy(value);
      else
        fail(
          'BODY_MALFORMED',
          `unknown field "${part.fieldname}"; send "token" and then "file" (the module zip), and optionally "dry_run"`,
        );
    }
    if (!p) throw new LarderError('AUTH_REQUIRED', HOW_TO);
    if (!zip) fail('BODY_MALFORMED', 'the publish has no "file" part; send the module zip (from `moon package`) as "file"');
    return { p, zip, dryRun };
  }

  app.post('/api/v0/publish', { onRequest: publishGuard, preParsing: reserve }, async (req, reply) => {
    if (!req.isMultipart())
      fail('BODY_MALFORMED', 'send the publish as multipart/form-data with fields "token" and "file" (the zip from `moon package`)');
    const body = await readMultipart(req, (parts) => readParts(req, parts));
    const dryRun = body.dryRun || truthy((req.query as { dry_run?: unknown; 'dry-run'?: unknown }).dry_run);
    const result = await publishModule(registry, repo, body.p, body.zip, dryRun);
    reply.header('cache-control', 'no-cache');
    if (result.dryRun) return reply.code(202).send({ detail: DRY_RUN_DETAIL, module: result.module, version: result.version });
    return { status: 'ok', module: result.module, version: result.version, checksum: result.checksum };
  });

  const yankGuard = async (req: FastifyRequest) => void (await gate.check(req, 'yank'));

  app.post('/api/v0/yank', { onRequest: yankGuard, preParsing: reserve }, async (req) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b.module !== 'string' || typeof b.version !== 'string')
      fail(
        'BODY_MALFORMED',
        'send JSON {"module": "<user>/<name>", "version": "0.1.0", "reason": "why, and what to use instead", "undo": false}',
      );
    const { module, version } = b as { module: string; version: string };
    const { yanked, reason } = yankFields(b);
    await setYanked(registry, repo, gate.of(req), { module, version, yanked, reason });
    return { status: 'ok', module, version, yanked, reason };
  });

  // The deprecate mutation of current clients (§14.3): a whole module, every version, with a reason.
  app.post('/api/v0/deprecate', { onRequest: yankGuard, preParsing: reserve }, async (req) => {
    const raw = (req.body ?? {}) as Record<string, unknown>;
    const b = (raw.Deprecate && typeof raw.Deprecate === 'object' ? raw.Deprecate : raw) as Record<string, unknown>;
    if (typeof b.module !== 'string')
      fail(
        'BODY_MALFORMED',
        'send JSON {"Deprecate": {"module": "<user>/<name>", "reason": "why, and what to use instead", "undo": false}}',
      );
    const module = b.module;
    const { yanked, reason } = yankFields(b);
    const versions = await setYanked(registry, repo, gate.of(req), { module, version: null, yanked, reason });
    return { status: 'ok', module, versions, yanked, reason };
  });
}

/** `reason` and `undo` of a yank or deprecate body, checked. */
function yankFields(b: Record<string, unknown>): { yanked: boolean; reason: string | null } {
  if (b.undo !== undefined && typeof b.undo !== 'boolean') fail('BODY_MALFORMED', '"undo" must be true or false');
  if (b.reason !== undefined && b.reason !== null && typeof b.reason !== 'string') fail('BODY_MALFORMED', '"reason" must be a string');
  const yanked = b.undo !== true;
  const reason = yanked && typeof b.reason === 'string' && b.reason.trim() !== '' ? b.reason : null;
  if (reason !== null && reason.length > 1000) fail('BODY_MALFORMED', '"reason" is longer than 1000 characters; say it shorter');
  return { yanked, reason };
}
