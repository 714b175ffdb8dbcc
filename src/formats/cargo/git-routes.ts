/**
 * Cargo's git index (cargo.md §14): the index files and config.json as a git repository over smart HTTP at
 * `/{repo}/git/index`, for `index = "https://host/repo/git/index"` without `sparse+` (Cargo's documented example,
 * and every Cargo before 1.68). Every kind serves it through `Source.gitHistory`; git authenticates with HTTP Basic
 * (the token as password, from a credential helper or .netrc), so a 401 carries a Basic challenge.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError, toLarderError } from '../../core/errors.js';
import { publicBaseUrl } from '../../http/base-url.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { acceptGitBodies, serveUploadPack } from '../../http/git-smart.js';
import { STALE_HEADER } from '../../http/send-doc.js';
import { requirePermission } from '../../registry/auth.js';
import { gitHistoryDir, syncGitHistory } from '../../registry/git-history/build.js';
import { cloneBytes, dropOldGenerations } from '../../registry/git-history/view.js';
import { principalFromHeader } from '../../registry/credentials.js';
import { GIT_INDEX_BRANCH, GIT_INDEX_HISTORY } from './parts.js';

/** Registers `/{repo}/git/index/*` (info/refs, git-upload-pack); pushes are refused. */
export async function cargoGitRoutes(app: FastifyInstance, { registry, repo, source }: RouteContext): Promise<void> {
  await app.register(async (git) => {
    acceptGitBodies(git);
    // A push's body is never read: it is refused first.
    git.addContentTypeParser('application/x-git-receive-pack-request', (_req, payload, done) => done(null, payload));
    // git shows a text/plain error body to its user ("remote: …"); a 401 must challenge with Basic for git to ask a
    // credential helper (Cargo's own challenge is for its API and sparse index).
    git.setErrorHandler((err, req, reply) => {
      const e = toLarderError(err);
      if (e.status >= 500) req.log.error({ reqId: req.id, err }, 'cargo git index request failed');
      if (e.status === 401) reply.header('www-authenticate', `Basic realm="Larder ${repo.name}", charset="UTF-8"`);
      reply.headers(e.headers).code(e.status).type('text/plain; charset=utf-8').send(`${e.message}\n`);
    });

    // Credentials before any body is read (a route-level hook, as every gate is).
    if (repo.visibility === 'private')
      git.addHook('onRequest', async (req) => {
        const p = await principalFromHeader(registry.auth, req.headers.authorization);
        if (!p)
          throw new LarderError(
            'AUTH_REQUIRED',
            `${repo.name} is private: give git a Larder token as the password (a credential helper or ~/.netrc for this host)`,
          );
        requirePermission(p, 'read', repo.name);
      });
    // What a history's cache last looked like (its pack directory's mtime): old generations and the clone size are
    // looked at again only when a sync wrote something, not on every git request.
    const seen = new Map<string, number>();
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const rest = (req.params as { '*': string })['*'];
      const service = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '').get('service');
      if (rest === 'git-receive-pack' || service === 'git-receive-pack')
        throw new LarderError(
          'GIT_PUSH_REFUSED',
          `the git index of ${repo.name} cannot be pushed to: publish crates with \`cargo publish --registry <name>\`; the index follows`,
        );
      await serveUploadPack(req, reply, {
        name: `${repo.name}/git/index`,
        rest,
        refusal: 'crates are published through the Web API',
        repository: async () => {
          const { ref, stale } = await source.gitHistory(GIT_INDEX_HISTORY, { baseUrl: publicBaseUrl(registry.config, req) });
          // The reply is written by git http-backend on the raw response: headers go there.
          if (stale) reply.raw.setHeader(STALE_HEADER, 'upstream unreachable; this is the last copy fetched');
          const dir = await syncGitHistory(registry.db, {
            ...ref,
            dir: gitHistoryDir(registry.config.data, ref),
            branch: GIT_INDEX_BRANCH,
          });
          const packs = fs.statSync(path.join(dir, 'objects', 'pack'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
          if (seen.get(dir) !== packs) {
            seen.set(dir, packs);
            // A squash starts a new generation in its own directory: the old one is of no use to anyone now.
            dropOldGenerations(registry.config.data, ref, GIT_INDEX_HISTORY);
            registry.metrics.gitCloneBytes.set({ repo: repo.name }, cloneBytes(dir));
          }
          return dir;
        },
      });
    };
    git.get('/git/index/*', handler);
    git.post('/git/index/*', handler);
  });
}
