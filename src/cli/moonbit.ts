import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { writeZip, type ZipFileEntry } from '../formats/moonbit/zip.js';

/** Directories `moon package` leaves out of a module zip: build output, downloaded dependencies, git. */
const SKIPPED_DIRS = new Set(['target', '.mooncakes', '_build', '.git']);

/** One rule of a root .gitignore, in the subset honoured (no `!` negation, no escapes). */
interface IgnoreRule {
  re: RegExp;
  /** Matched against the whole path below DIR (a `/` in the pattern), or against the entry's name. */
  anchored: boolean;
  dirOnly: boolean;
}

/** `*`, `?` and `**` of a .gitignore pattern as a regular expression over `/`-separated paths. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'u');
}

/**
 * The rules of DIR/.gitignore that are simple to honour: blank lines and `#` comments skipped,
 * `!` negations not honoured (reported), a trailing `/` for directories only, a leading or inner `/`
 * anchoring the pattern at DIR; nested .gitignore files are not read.
 */
export function readGitignore(dir: string, warn: (msg: string) => void): IgnoreRule[] {
  const file = path.join(dir, '.gitignore');
  if (!fs.existsSync(file)) return [];
  const rules: IgnoreRule[] = [];
  for (const raw of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    let line = raw.replace(/\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('!')) {
      warn(`.gitignore: negation "${line}" is not honoured; those files stay out of the zip`);
      continue;
    }
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.slice(0, -1);
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    if (line !== '') rules.push({ re: globToRegExp(line), anchored, dirOnly });
  }
  return rules;
}

function ignored(rules: IgnoreRule[], rel: string, isDir: boolean): boolean {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  return rules.some((r) => (!r.dirOnly || isDir) && r.re.test(r.anchored ? rel : name));
}

/**
 * The files of a module directory as `moon package` zips them: everything but target/, .mooncakes/,
 * _build/ and .git/ (at any depth) and what the root .gitignore excludes; symlinks are left out
 * (a registry refuses links) with a warning; executables keep their executable bit.
 */
export function moduleFiles(dir: string, warn: (msg: string) => void): ZipFileEntry[] {
  const rules = readGitignore(dir, warn);
  const out: ZipFileEntry[] = [];
  const walk = (abs: string, rel: string) => {
    for (const d of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const full = path.join(abs, d.name);
      if (d.isSymbolicLink()) {
        warn(`${r} is a symlink; left out of the zip (registries refuse links)`);
        continue;
      }
      if (d.isDirectory()) {
        if (SKIPPED_DIRS.has(d.name) || ignored(rules, r, true)) continue;
        walk(full, r);
      } else if (d.isFile()) {
        if (ignored(rules, r, false)) continue;
        out.push({ path: r, data: fs.readFileSync(full), executable: (fs.statSync(full).mode & 0o111) !== 0 });
      }
    }
  };
  walk(dir, '');
  return out;
}

/** Builds the module zip of DIR: moon.mod.json (or moon.mod) must be at its root. */
export function packageModule(dir: string, warn: (msg: string) => void): Buffer {
  if (!fs.existsSync(path.join(dir, 'moon.mod.json')) && !fs.existsSync(path.join(dir, 'moon.mod')))
    throw new Error(`${dir} has no moon.mod.json (or moon.mod): run this in the module's root directory, or pass it as DIR`);
  return writeZip(moduleFiles(dir, warn));
}

interface Flags {
  registry: string;
  token?: string;
}

function tokenOf(flags: Flags): string {
  const token = flags.token ?? process.env.LARDER_TOKEN;
  if (!token) throw new Error('no token: pass --token or set LARDER_TOKEN');
  return token;
}

/** The server's answer as text: `detail` of a MoonBit error, or the status line. */
async function detailOf(res: Response): Promise<{ body: Record<string, unknown> | null; detail: string }> {
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  return { body, detail: typeof body?.detail === 'string' ? body.detail : `${res.status} ${res.statusText}` };
}

/** `larder moonbit publish|yank`: the client of a MoonBit repo's publish API (protocols/moonbit.md §9). */
export function moonbitCommands(program: Command): void {
  const moonbit = program.command('moonbit').description('MoonBit (mooncakes) registries');
  moonbit
    .command('publish')
    .description('zip a module the way `moon package` does and publish it (HTTPS with a local CA: set NODE_EXTRA_CA_CERTS=ca.pem)')
    .argument('[dir]', 'the module directory (with moon.mod.json)', '.')
    .requiredOption('--registry <url>', 'the repo URL, as in MOONCAKES_REGISTRY')
    .option('--token <token>', 'a token with the publish scope (default: $LARDER_TOKEN)')
    .option('--dry-run', 'run every check on the server and publish nothing')
    .action(async (dir: string, flags: Flags & { dryRun?: boolean }) => {
      const token = tokenOf(flags);
      const zip = packageModule(path.resolve(dir), (m) => process.stderr.write(`warning: ${m}\n`));
      const form = new FormData();
      // The token before the file: the server reads the parts in order and refuses a file from an unknown caller.
      form.append('token', token);
      if (flags.dryRun) form.append('dry_run', 'true');
      form.append('file', new Blob([new Uint8Array(zip)], { type: 'application/zip' }), 'module.zip');
      const res = await fetch(`${flags.registry.replace(/\/+$/, '')}/api/v0/publish`, {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${token}` },
      });
      const { body, detail } = await detailOf(res);
      if (!res.ok) throw new Error(`publish failed (${res.status}): ${detail}`);
      if (res.status === 202) process.stdout.write(`${detail}\n`);
      else process.stdout.write(`published ${String(body?.module)}@${String(body?.version)} (sha256 ${String(body?.checksum)})\n`);
    });
  moonbit
    .command('yank')
    .description('mark a module version yanked (listed in yanked.json; index lines never change)')
    .argument('<module>', 'the module, <user>/<name>')
    .argument('<version>', 'the version')
    .requiredOption('--registry <url>', 'the repo URL, as in MOONCAKES_REGISTRY')
    .option('--token <token>', 'a token with the yank scope (default: $LARDER_TOKEN)')
    .option('--reason <text>', 'why, and what to use instead')
    .option('--undo', 'unyank')
    .action(async (module: string, version: string, flags: Flags & { reason?: string; undo?: boolean }) => {
      const token = tokenOf(flags);
      const res = await fetch(`${flags.registry.replace(/\/+$/, '')}/api/v0/yank`, {
        method: 'POST',
        body: JSON.stringify({ module, version, reason: flags.reason, undo: flags.undo === true }),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      const { detail } = await detailOf(res);
      if (!res.ok) throw new Error(`${flags.undo ? 'unyank' : 'yank'} failed (${res.status}): ${detail}`);
      process.stdout.write(`${flags.undo ? 'unyanked' : 'yanked'} ${module}@${version}\n`);
    });
}
