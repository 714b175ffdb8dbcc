import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { disposeTree } from '../formats/julia/spool.js';
import { canonicalTarball } from '../formats/julia/tarball.js';
import { readDirTree } from '../formats/julia/tree-hash.js';

interface ServerFlags {
  server: string;
  token?: string;
}

/** Calls Larder's Julia API and prints its JSON answer, or fails with its message. */
async function call(
  flags: ServerFlags,
  method: string,
  path: string,
  body: BodyInit,
  contentType: string,
): Promise<Record<string, unknown>> {
  const token = flags.token ?? process.env.LARDER_TOKEN;
  if (!token) throw new Error('no token: pass --token or set LARDER_TOKEN');
  const res = await fetch(`${flags.server.replace(/\/+$/, '')}${path}`, {
    method,
    body,
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
  });
  const json = (await res.json().catch(() => ({}))) as { error?: { message: string } } & Record<string, unknown>;
  if (!res.ok) throw new Error(`${res.status}: ${json.error?.message ?? res.statusText}`);
  return json;
}

/** `larder julia registry create` and `larder julia register`. */
export function juliaCommands(program: Command): void {
  const julia = program.command('julia').description('Julia registries (the --server is the JULIA_PKG_SERVER URL of a hosted repo)');
  julia
    .command('create-registry <name>')
    .description('create an empty registry in a hosted julia repository')
    .requiredOption('--server <url>', 'the Pkg server URL, e.g. https://host/julia')
    .option('--token <token>', 'an admin token (default: $LARDER_TOKEN)')
    .option('--uuid <uuid>', 'the registry UUID (default: a new random one)')
    .option('--description <text>', 'a description')
    .action(async (name: string, flags: ServerFlags & { uuid?: string; description?: string }) => {
      const out = await call(
        flags,
        'POST',
        '/api/registries',
        JSON.stringify({ name, uuid: flags.uuid ?? randomUUID(), description: flags.description }),
        'application/json',
      );
      process.stdout.write(`created registry ${out.name} (${out.uuid}), tree ${out.tree}\n`);
    });
  julia
    .command('register [dir]')
    .description('register the package version in DIR (its Project.toml says which), or one from --git/--rev')
    .requiredOption('--server <url>', 'the Pkg server URL, e.g. https://host/julia')
    .requiredOption('--registry <uuid>', 'the registry UUID')
    .option('--token <token>', 'a token with the publish scope (default: $LARDER_TOKEN)')
    .option('--git <url>', 'register from a git repository the server may fetch (https; see [outbound] in larder.toml)')
    .option('--rev <rev>', 'with --git: the commit or tag')
    .option('--subdir <dir>', 'with --git: the package directory inside the repository')
    .action(async (dir: string | undefined, flags: ServerFlags & { registry: string; git?: string; rev?: string; subdir?: string }) => {
      const path = `/api/registries/${flags.registry}/packages`;
      let out: Record<string, unknown>;
      if (flags.git) {
        if (!flags.rev) throw new Error('--git needs --rev');
        out = await call(flags, 'PUT', path, JSON.stringify({ git: flags.git, rev: flags.rev, subdir: flags.subdir }), 'application/json');
      } else {
        const tree = await readDirTree(dir ?? '.');
        const tarball = await canonicalTarball(tree).finally(() => disposeTree(tree));
        out = await call(flags, 'PUT', path, new Blob([new Uint8Array(tarball)]), 'application/gzip');
      }
      process.stdout.write(`registered at ${out.path}: package tree ${out.packageTree}, registry tree ${out.registryTree}\n`);
    });
}
