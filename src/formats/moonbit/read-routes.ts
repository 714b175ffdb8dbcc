/**
 * What `moon` reads from a registry (protocols/moonbit.md §3, §5, §6, §7), for every kind through
 * `ctx.source`: the git index over smart HTTP, zips by module version, `symbols.zip`, prebuilt Wasm
 * assets, and Larder's raw view of the index files (`index/<path>`) for tools and curl.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { acceptGitBodies, serveUploadPack } from '../../http/git-smart.js';
import { sendArtifact, sendDoc, STALE_HEADER } from '../../http/send-doc.js';
import { gitHistoryDir, syncGitHistory } from '../../registry/git-history/build.js';
import { moonbitReader } from './access.js';
import { archiveKey, indexViewPath, moduleOfIndexPath, parseArchiveKey } from './names.js';
import { ASSET_PREFIX, parseAssetKey } from './parts.js';
import { INDEX_BRANCH, INDEX_HISTORY } from './store.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const ZIP = { contentType: 'application/zip', cacheControl: IMMUTABLE };

/** The path a wildcard route matched, percent-decoded once by the router (`%2F` → `/`, `%2B` → `+`, a literal `+` kept). */
const wildcard = (req: FastifyRequest) => (req.params as { '*': string })['*'];

/** The module version an archive path names: `<user>/<name…>/<version>.zip`, whichever way the slashes were sent (§5.1, §14.2). */
export function archiveOfPath(path: string): { module: string; version: string } | null {
  return path.endsWith('.zip') ? parseArchiveKey(path.slice(0, -'.zip'.length)) : null;
}

/** Registers the read routes of one MoonBit repo. */
export async function readRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  const { registry, source } = ctx;
  const reader = moonbitReader(ctx);

  // The index as git (§3.1): smart HTTP upload-pack only, shallow and protocol v2 through git itself.
  await app.register(async (git) => {
    acceptGitBodies(git);
    // A push's body is never read: it is refused first, with the 403 moon's index promises (§3.1).
    git.addContentTypeParser('application/x-git-receive-pack-request', (_req, payload, done) => done(null, payload));
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      // git sends the credentials of a URL or a credential helper only after a Basic challenge.
      await reader(req).catch((err: unknown) => {
        if (err instanceof LarderError && err.status === 401)
          throw new LarderError(err.code, err.message, { ...err.headers, 'www-authenticate': `Basic realm="${ctx.repo.name}"` });
        throw err;
      });
      const rest = wildcard(req);
      const service = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '').get('service');
      if (rest === 'git-receive-pack' || service === 'git-receive-pack')
        throw new LarderError(
          'GIT_PUSH_REFUSED',
          `the index of ${ctx.repo.name} cannot be pushed to: publish modules with \`larder moonbit publish DIR --registry URL --token T\``,
        );
      await serveUploadPack(req, reply, {
        name: `${ctx.repo.name}/git/index`,
        rest,
        refusal: 'modules are published through the publish API',
        repository: async () => {
          const { ref, stale } = await source.gitHistory(INDEX_HISTORY);
          // The reply is written by git http-backend on the raw response: headers go there.
          if (stale) reply.raw.setHeader(STALE_HEADER, 'upstream unreachable; this is the last copy fetched');
          return syncGitHistory(registry.db, { ...ref, dir: gitHistoryDir(registry.config.data, ref), branch: INDEX_BRANCH });
        },
      });
    };
    git.get('/git/index/*', handler);
    git.post('/git/index/*', handler);
  });

  // Zips (§5): one encoded segment `alice%2Fjson%2F0.1.0.zip` or raw segments `alice/json/0.1.0.zip`; GET and HEAD.
  app.get('/user/*', async (req, reply) => {
    await reader(req);
    const k = archiveOfPath(wildcard(req));
    const found = k ? await source.artifact(archiveKey(k.module, k.version)) : null;
    if (!found)
      throw new LarderError(
        'VERSION_NOT_FOUND',
        k ? `module ${k.module} has no archive of version ${k.version} here` : `not an archive path: ${req.url}`,
      );
    return sendArtifact(req, reply, found, ZIP);
  });

  // Best effort for moon (§6): a 404 is only a warning; a 304 only ever answers an If-None-Match (trap 11).
  app.get('/symbols.zip', async (req, reply) => {
    await reader(req);
    const doc = await source.doc('symbols.zip');
    if (!doc) throw new LarderError('NOT_FOUND', `${ctx.repo.name} has no symbols.zip`);
    return sendDoc(req, reply, doc, { contentType: 'application/zip', cacheControl: 'no-cache' });
  });

  // Prebuilt Wasm and their `.sha256` (§7): routed to the source like zips; hosted repos hold none.
  app.get('/assets/*', async (req, reply) => {
    await reader(req);
    const key = `${ASSET_PREFIX}${wildcard(req)}`;
    const found = parseAssetKey(key) ? await source.artifact(key) : null;
    if (!found) throw new LarderError('NOT_FOUND', 'Prebuilt wasm asset does not exist');
    const contentType = key.endsWith('.sha256') ? 'text/plain; charset=utf-8' : 'application/wasm';
    return sendArtifact(req, reply, found, { contentType, cacheControl: IMMUTABLE });
  });

  // Larder's raw view of the index files: what the git tree holds, by path, with ETag/304.
  app.get('/index/*', async (req, reply) => {
    await reader(req);
    const path = wildcard(req);
    const isIndex = moduleOfIndexPath(path) !== null;
    const doc = indexViewPath(path) ? await source.doc(path) : null;
    if (!doc) throw new LarderError('NOT_FOUND', `the index of ${ctx.repo.name} has no file ${path}`);
    return sendDoc(req, reply, doc, {
      contentType: isIndex ? 'application/x-ndjson; charset=utf-8' : 'application/json; charset=utf-8',
      cacheControl: 'no-cache',
    });
  });
}
