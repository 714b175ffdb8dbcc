import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fail, LarderError } from '../core/errors.js';
import { jsonErrorHandler } from './api-errors.js';
import { permits, requirePermission, type Principal } from '../registry/auth.js';
import { principalFromHeader } from '../registry/credentials.js';
import { changeOwners, checkWriter, listOwners, type PackageRef } from '../registry/owners.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';

const URL = '/-/api/repos/:repo/packages/:package/owners';
const HOW_TO = 'this needs a token: send Authorization: Bearer <token> (create one with `larder token create --scopes owners`)';

interface Target {
  repo: Repo;
  ref: PackageRef;
}

/**
 * Owners of any format's packages over Larder's JSON API: `GET/PUT/DELETE
 * /-/api/repos/{repo}/packages/{package}/owners` with `{"users":["login", …]}`. The package is
 * named as its format knows it (a crate name in any spelling, a module name, a Julia name or UUID).
 */
export async function ownersApiRoutes(app: FastifyInstance, { registry }: { registry: Registry }): Promise<void> {
  const targets = new WeakMap<FastifyRequest, Target & { p: Principal | null }>();

  async function resolve(req: FastifyRequest, p: Principal | null): Promise<Target> {
    const { repo: name, package: pkg } = req.params as { repo: string; package: string };
    const repo = registry.repos.get(name)!;
    const ref = await registry.formats.get(repo.format)?.packageRef?.(registry, repo, pkg);
    if (!ref) fail('PACKAGE_NOT_FOUND', `repository ${repo.name} has no package ${pkg}`);
    if (p && repo.visibility === 'private' && !permits(p, 'read', repo.name, ref.display))
      fail('PACKAGE_NOT_FOUND', `repository ${repo.name} has no package ${pkg}`);
    return { repo, ref };
  }

  function repoOf(req: FastifyRequest): Repo {
    const { repo: name } = req.params as { repo: string };
    const repo = registry.repos.get(name);
    if (!repo) fail('REPO_NOT_FOUND', `there is no repository ${name}; GET /-/api/repos lists them`);
    return repo;
  }

  await app.register(async (owners) => {
    owners.setErrorHandler(jsonErrorHandler('owners api request'));

    // Reading: anyone for a public repo; a reader of the repo for a private one.
    owners.get(URL, async (req) => {
      const repo = repoOf(req);
      const p = await principalFromHeader(registry.auth, req.headers.authorization);
      if (repo.visibility === 'private') {
        if (!p) throw new LarderError('AUTH_REQUIRED', `${repo.name} is private: ${HOW_TO.replace('owners', 'read')}`);
        requirePermission(p, 'read', repo.name);
      }
      const { ref } = await resolve(req, p);
      return { package: ref.id, users: (await listOwners(registry.db, ref)).map((u) => u.login) };
    });

    // Changing: the token, its `owners` scope and package limit, and ownership are checked from
    // the URL and headers before the body is read.
    const onRequest = async (req: FastifyRequest) => {
      const repo = repoOf(req);
      const p = await principalFromHeader(registry.auth, req.headers.authorization);
      if (!p) throw new LarderError('AUTH_REQUIRED', HOW_TO);
      requirePermission(p, 'owners', repo.name);
      const target = await resolve(req, p);
      requirePermission(p, 'owners', repo.name, target.ref.display);
      await checkWriter(registry.db, p, target.ref, true);
      targets.set(req, { ...target, p });
    };
    for (const [method, add] of [
      ['PUT', true],
      ['DELETE', false],
    ] as const) {
      owners.route({
        method,
        url: URL,
        onRequest,
        handler: async (req) => {
          const { ref, p } = targets.get(req)!;
          const users = await changeOwners(registry, p, ref, (req.body as { users?: unknown } | undefined)?.users, add);
          return { package: ref.id, users: users.map((u) => u.login) };
        },
      });
    }
  });
}
