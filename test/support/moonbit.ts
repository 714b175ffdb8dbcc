/**
 * MoonBit test helpers: module zips as `moon package` makes them (moon.mod.json at the zip root) and
 * a hosted publish written through the store (the same transaction a publish route runs).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { appendVersion, type NewModuleVersion } from '../../src/formats/moonbit/store.js';
import type { Registry } from '../../src/registry/registry.js';
import { inTransaction } from '../../src/registry/tx.js';
import { makeZip } from './archives.js';

/** A published module version as a test sees it. */
export interface TestModule {
  module: string;
  version: string;
  zip: Buffer;
  checksum: string;
  line: string;
}

/** The zip of a module version: moon.mod.json and one source file at the root. */
export function moduleZip(module: string, version: string, deps: Record<string, unknown> = {}): Buffer {
  const manifest = { name: module, version, deps, readme: 'README.md', license: 'Apache-2.0' };
  return makeZip([
    { name: 'moon.mod.json', data: Buffer.from(JSON.stringify(manifest, null, 2)) },
    { name: 'src/lib/lib.mbt', data: Buffer.from(`pub fn name() -> String { "${module}@${version}" }\n`) },
  ]);
}

/** Publishes a module version to a hosted repo through store.ts `appendVersion` (what the publish route does). */
export async function putModule(
  registry: Registry,
  repoName: string,
  module: string,
  version: string,
  opts: { deps?: Record<string, unknown>; description?: string; keywords?: string[] } = {},
): Promise<TestModule> {
  const repo = registry.repos.get(repoName);
  if (!repo) throw new Error(`no repo ${repoName}`);
  const zip = moduleZip(module, version, opts.deps ?? {});
  const checksum = createHash('sha256').update(zip).digest('hex');
  const manifest: Record<string, unknown> = { name: module, version, deps: opts.deps ?? {}, readme: 'README.md', license: 'Apache-2.0' };
  if (opts.description) manifest.description = opts.description;
  if (opts.keywords) manifest.keywords = opts.keywords;
  const line = JSON.stringify({ ...manifest, checksum });
  const staged = await registry.blobs.stage(Readable.from([zip]));
  const v: NewModuleVersion = {
    module,
    version,
    line: Buffer.from(line),
    staged,
    description: opts.description ?? null,
    publishedBy: null,
  };
  try {
    await inTransaction(registry, (uow) => appendVersion(uow, registry, repo, v));
  } catch (err) {
    await staged.discard();
    throw err;
  }
  return { module, version, zip, checksum, line };
}
