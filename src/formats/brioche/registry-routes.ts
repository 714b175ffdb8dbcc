/**
 * The registry of a Brioche repo, at `/{repo}/registry/` (protocols/brioche.md §2): the tag lookup
 * brioche resolves projects with, the bulk tag update `brioche publish` ends with, the health check,
 * and Larder's own tag history. The `?brioche=<version>` query brioche adds is ignored.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';
import { requireHosted } from '../../http/gates.js';
import { sendDoc } from '../../http/send-doc.js';
import { isProjectName, isTag, tagPath } from './keys.js';
import { registryWriter } from './registry-auth.js';
import { parseTagUpdates, setTags, tagHistory, type TagWriter } from './tags.js';

interface TagParams {
  name: string;
  tag: string;
}

/** Tags move: clients revalidate every time (ETag), never keep a copy unasked. */
const TAG_PRESENTATION = { contentType: 'application/json', cacheControl: 'no-cache' };

/** A body of JSON is all a tag update carries: a few hundred bytes per tag. */
const BODY_LIMIT = 1024 * 1024;

/** The reference server's 404, byte for byte. */
function notFound(reply: FastifyReply): FastifyReply {
  return reply.code(404).header('cache-control', 'no-cache').type('application/json').send('{"error":"not found"}');
}

/** Registers the registry routes of one repo (mounted under `/{repo}/registry`). */
export async function registryRoutes(app: FastifyInstance, { registry, repo, source }: RouteContext): Promise<void> {
  // A private repo's reads need credentials as brioche sends them on every request (trap 14);
  // a public repo ignores whatever a GET carries.
  const readGate = async (req: FastifyRequest) => {
    if (repo.visibility === 'private') await registryWriter(registry, repo, req.headers.authorization, 'read');
  };

  app.get('/v0/healthcheck', async (_req, reply) => reply.header('cache-control', 'no-cache').send({ status: 'ok' }));

  app.get<{ Params: TagParams }>('/v0/project-tags/:name/:tag', { onRequest: readGate }, async (req, reply) => {
    const { name, tag } = req.params;
    if (!isProjectName(name) || !isTag(tag)) return notFound(reply);
    const doc = await source.doc(tagPath(name, tag));
    return doc ? sendDoc(req, reply, doc, TAG_PRESENTATION) : notFound(reply);
  });

  // Larder's addition: every value the tag had in this repo (who, when, old and new hash), newest first.
  app.get<{ Params: TagParams }>('/v0/project-tags/:name/:tag/history', { onRequest: readGate }, async (req, reply) => {
    const { name, tag } = req.params;
    if (!isProjectName(name) || !isTag(tag)) return notFound(reply);
    const history = await tagHistory(registry, repo, name, tag);
    if (history.length === 0) return notFound(reply);
    return reply.header('cache-control', 'no-cache').send({ project: name, tag, history });
  });

  // Credentials are checked from the headers before a byte of the body is read; proxies and groups refuse first (405).
  const writers = new WeakMap<object, TagWriter>();
  app.post(
    '/v0/project-tags',
    {
      bodyLimit: BODY_LIMIT,
      onRequest: async (req) => {
        requireHosted(repo);
        writers.set(req, await registryWriter(registry, repo, req.headers.authorization, 'publish'));
      },
    },
    async (req) => {
      const updates = parseTagUpdates(req.body);
      const tags = await setTags(registry, source, writers.get(req)!, updates);
      return { tags };
    },
  );
}
