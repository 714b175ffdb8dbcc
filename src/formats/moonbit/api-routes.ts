/**
 * What current `moon` asks of the `api` base (protocols/moonbit.md §14.3), for every kind, from the
 * source's catalogue: `moon search`, `moon view` (a module's manifest, a user's modules) and the
 * website's module list. Answers are never a 5xx or 429 for something that will not change.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { STALE_HEADER } from '../../http/send-doc.js';
import { moonbitReader } from './access.js';
import { catalogueOf, searchCatalogue, type Catalogue, type CatalogueModule, type CatalogueVersion } from './catalogue.js';

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

/** A version as moon view lists it: the yank fields only when yanked. */
function versionEntry(v: CatalogueVersion) {
  return v.yanked ? { version: v.version, yanked: true, yanked_reason: v.yankedReason } : { version: v.version };
}

/** A module as a user's list and the website's list show it (its latest version). */
function moduleEntry(m: CatalogueModule) {
  return { name: m.name, ...versionEntry(m.latest) };
}

/** `moon search`'s limit: a whole number, at most 100. */
function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_LIMIT;
  if (!/^\d{1,6}$/.test(raw))
    throw new LarderError('BODY_MALFORMED', `limit must be a whole number from 1 to ${MAX_LIMIT}, not ${JSON.stringify(raw)}`);
  return Math.min(Math.max(Number(raw), 1), MAX_LIMIT);
}

/** `alice/json` or `alice/json@1.0.0` (the `@` split in the last component, since names may nest). */
function parseModuleRef(raw: string): { module: string; version: string | null } {
  const slash = raw.lastIndexOf('/');
  const at = raw.lastIndexOf('@');
  return at > slash ? { module: raw.slice(0, at), version: raw.slice(at + 1) } : { module: raw, version: null };
}

/** Registers moon's API routes of one MoonBit repo. */
export async function apiRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  const reader = moonbitReader(ctx);
  /** The source's catalogue after the read check; a stale index is said in a header. */
  async function catalogue(req: FastifyRequest, reply: FastifyReply): Promise<Catalogue> {
    await reader(req);
    const { catalogue: c, stale } = await catalogueOf(ctx.registry, ctx.source);
    reply.header('cache-control', 'no-cache');
    if (stale) reply.header(STALE_HEADER, 'upstream unreachable; this is the last copy fetched');
    return c;
  }

  app.get('/api/v0/search', async (req, reply) => {
    const q = req.query as { kw?: string; limit?: string };
    const found = searchCatalogue(await catalogue(req, reply), typeof q.kw === 'string' ? q.kw : '', parseLimit(q.limit));
    return found.map((m) => ({ name: m.name, version: m.latest.version, description: m.description }));
  });

  app.get('/api/v0/manifest/*', async (req, reply) => {
    const c = await catalogue(req, reply);
    const { module, version } = parseModuleRef((req.params as { '*': string })['*']);
    const m = c.modules.get(module);
    const v = m && (version === null ? m.latest : m.versions.find((x) => x.version === version));
    if (!m || !v) throw new LarderError('PACKAGE_NOT_FOUND', 'Package not found');
    const { checksum: _checksum, ...metadata } = v.line;
    return {
      module: m.name,
      version: v.version,
      latest_version: m.latest.version,
      yanked: v.yanked,
      yanked_reason: v.yankedReason,
      metadata,
      versions: m.versions.map(versionEntry),
    };
  });

  app.get('/api/v0/user/:name', async (req, reply) => {
    const c = await catalogue(req, reply);
    const { name } = req.params as { name: string };
    const list = c.byUser.get(name);
    if (!list) throw new LarderError('USER_NOT_FOUND', `User not found: ${name} has no modules in ${ctx.repo.name}`);
    return { username: name, modules: list.map(moduleEntry) };
  });

  // The website's list (§9): every module at its latest version, with what its line says about it.
  app.get('/api/v0/modules', async (req, reply) => {
    const c = await catalogue(req, reply);
    return [...c.modules.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((m) => {
        const line = m.latest.line;
        return {
          ...moduleEntry(m),
          description: m.description,
          keywords: m.keywords,
          license: typeof line.license === 'string' ? line.license : null,
          repository: typeof line.repository === 'string' ? line.repository : null,
        };
      });
  });
}
