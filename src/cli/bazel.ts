import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { sri } from '../core/sri.js';

interface PublishFlags {
  registry: string;
  token?: string;
  module: string;
  archive?: string;
  stripPrefix?: string;
  archiveType?: string;
  sourceJson?: string;
  gitRemote?: string;
  gitCommit?: string;
  patch: string[];
  patchStrip?: string;
  overlay: string[];
  presubmit?: string;
  homepage?: string;
  maintainer: string[];
  repository: string[];
}

const collect = (v: string, all: string[]) => [...all, v];

/** Reads `module(name=…, version=…)` from a MODULE.bazel just far enough to build the URL. */
function moduleAndVersion(text: string): { module: string; version: string } {
  const call = /module\s*\(([\s\S]*?)\)/.exec(text)?.[1] ?? '';
  const arg = (k: string) => new RegExp(`${k}\\s*=\\s*["']([^"']+)["']`).exec(call)?.[1];
  const module = arg('name');
  const version = arg('version');
  if (!module || !version) throw new Error('MODULE.bazel has no module(name = "…", version = "…")');
  return { module, version };
}

/**
 * The presubmit.yml to send: --presubmit, else `.bcr/presubmit.yml` as the publish-to-bcr template lays it out (beside
 * the MODULE.bazel given, then in the current directory), since the registry's default policy (the BCR's) asks for one.
 */
function presubmitFile(flags: PublishFlags): string | undefined {
  if (flags.presubmit) return flags.presubmit;
  const dirs = [...new Set([path.resolve(path.dirname(flags.module)), process.cwd()])];
  const found = dirs.map((d) => path.join(d, '.bcr', 'presubmit.yml')).find((f) => fs.existsSync(f));
  if (found)
    process.stderr.write(`presubmit.yml: sending ${path.relative(process.cwd(), found) || found} (--presubmit FILE sends another)\n`);
  return found;
}

/**
 * The source.json of a git_repository source (remote, commit, strip_prefix, patches with their SRIs), laid out as BCR
 * tooling writes source.json: indent 4, a trailing newline. The server stores it byte for byte.
 */
function gitSourceJson(flags: PublishFlags): Buffer {
  if (!flags.gitRemote || !flags.gitCommit)
    throw new Error('--git-remote and --git-commit go together: the repository URL and the full commit id');
  if (flags.archive || flags.sourceJson) throw new Error('--git-remote names the source: leave out --archive and --source-json');
  const source: Record<string, unknown> = { type: 'git_repository', remote: flags.gitRemote, commit: flags.gitCommit };
  if (flags.stripPrefix) source.strip_prefix = flags.stripPrefix;
  if (flags.patch.length) {
    source.patches = Object.fromEntries(flags.patch.map((p) => [path.basename(p), sri(fs.readFileSync(p))]));
    source.patch_strip = Number(flags.patchStrip ?? 1);
  }
  return Buffer.from(`${JSON.stringify(source, null, 4)}\n`);
}

/** `larder bazel publish`: the client of Larder's Bazel publishing API. */
export function bazelCommands(program: Command): void {
  const bazel = program.command('bazel').description('Bazel registries');
  bazel
    .command('publish')
    .description('publish a module version to a Larder Bazel registry (HTTPS with a local CA: set NODE_EXTRA_CA_CERTS=ca.pem)')
    .requiredOption('--registry <url>', 'the registry URL, as given to bazel --registry')
    .option('--token <token>', 'a token with the publish scope (default: $LARDER_TOKEN)')
    .option('--module <file>', 'the MODULE.bazel to publish', 'MODULE.bazel')
    .option('--archive <file>', 'a source archive for Larder to host (.tar.gz, .tar.xz, .tar.zst, .tar.bz2, .tar, .zip, .ar, .deb, …)')
    .option('--strip-prefix <dir>', 'the directory inside the archive that is the module root')
    .option('--archive-type <type>', 'the archive type, when the file name does not tell')
    .option('--source-json <file>', 'a source.json naming an archive elsewhere (Larder downloads it to check its integrity)')
    .option('--git-remote <url>', 'the source is a git commit (a git_repository source, if the registry allows them): the repository URL')
    .option('--git-commit <sha>', 'with --git-remote: the full 40-hex commit id')
    .option('--patch <file>', 'a patch to apply (repeatable, in order)', collect, [])
    .option('--patch-strip <n>', 'like patch -p (default 1)')
    .option('--overlay <path=file>', 'a file to copy into the tree at path (repeatable)', collect, [])
    .option('--presubmit <file>', 'presubmit.yml, the CI matrix (default: .bcr/presubmit.yml beside MODULE.bazel or here, if present)')
    .option('--homepage <url>', 'homepage, for a new module')
    .option('--maintainer <email>', 'maintainer e-mail, for a new module (repeatable)', collect, [])
    .option('--repository <url>', 'source repository URL prefix, for a new module (repeatable)', collect, [])
    .action(async (flags: PublishFlags) => {
      const token = flags.token ?? process.env.LARDER_TOKEN;
      if (!token) throw new Error('no token: pass --token or set LARDER_TOKEN');
      const moduleText = fs.readFileSync(flags.module);
      const { module, version } = moduleAndVersion(moduleText.toString('utf8'));
      const form = new FormData();
      const file = (p: string) => new Blob([fs.readFileSync(p)]);
      form.append('MODULE.bazel', new Blob([moduleText]), 'MODULE.bazel');
      const git = flags.gitRemote || flags.gitCommit ? gitSourceJson(flags) : null;
      if (flags.archive) form.append('archive', file(flags.archive), path.basename(flags.archive));
      if (flags.sourceJson) form.append('source.json', file(flags.sourceJson), 'source.json');
      if (git) form.append('source.json', new Blob([new Uint8Array(git)]), 'source.json');
      // With a git source these live in the source.json built above.
      if (flags.stripPrefix && !git) form.append('strip_prefix', flags.stripPrefix);
      if (flags.archiveType) form.append('archive_type', flags.archiveType);
      if (flags.patchStrip && !git) form.append('patch_strip', flags.patchStrip);
      for (const p of flags.patch) form.append(`patches/${path.basename(p)}`, file(p), path.basename(p));
      for (const o of flags.overlay) {
        const eq = o.indexOf('=');
        if (eq <= 0) throw new Error(`--overlay ${o}: write it as path/in/tree=local/file`);
        form.append(`overlay/${o.slice(0, eq)}`, file(o.slice(eq + 1)), path.basename(o.slice(0, eq)));
      }
      const presubmit = presubmitFile(flags);
      if (presubmit) form.append('presubmit.yml', file(presubmit), 'presubmit.yml');
      if (flags.homepage || flags.maintainer.length || flags.repository.length) {
        form.append(
          'metadata',
          JSON.stringify({
            homepage: flags.homepage,
            maintainers: flags.maintainer.map((email) => ({ email })),
            repository: flags.repository,
          }),
        );
      }
      const url = `${flags.registry.replace(/\/+$/, '')}/api/modules/${module}/${version}`;
      const res = await fetch(url, { method: 'PUT', body: form, headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json().catch(() => null)) as { error?: { message: string }; source?: unknown } | null;
      if (!res.ok) throw new Error(`publishing ${module}@${version} failed (${res.status}): ${body?.error?.message ?? res.statusText}`);
      process.stdout.write(`published ${module}@${version}\nsource.json: ${JSON.stringify(body?.source)}\n`);
    });
}
