import type { FastifyRequest } from 'fastify';
import { readGate } from '../../http/gates.js';
import type { RouteContext } from '../../http/format-plugin.js';
import type { Principal } from '../../registry/auth.js';

/** What a client of a private repo must do to read it: moon sends no credentials itself, git can (§3.1, trap 14). */
export const MOONBIT_READ_HOWTO =
  'moon sends no credentials: give git a token (a credential helper, or https://<user>:<token>@host/... in MOONCAKES_REGISTRY)';

/** The read check of a MoonBit repo: null for a public repo, the reader for a private one, 401/403 otherwise. */
export function moonbitReader(ctx: RouteContext): (req: FastifyRequest) => Promise<Principal | null> {
  return readGate(ctx.registry.auth, ctx.repo, MOONBIT_READ_HOWTO);
}
