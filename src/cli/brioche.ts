import type { Command } from 'commander';
import { fail } from '../core/errors.js';
import { checkPasswordRepo, setRepoPassword } from '../formats/brioche/password.js';
import { withRegistry, withStorageOptions, type StorageFlags } from './context.js';

/** Reads one line from a terminal without echoing it (raw mode); Ctrl-C aborts. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else if (ch >= ' ') line += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** All of a piped stdin, as lines. */
async function stdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
}

/**
 * The new password: asked twice on a terminal (no echo); from a pipe, the first line (a second
 * non-empty line must repeat it), so scripts and CI can set it. Never printed or logged.
 */
async function readNewPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden('new Brioche registry password: ');
    const again = await promptHidden('repeat it: ');
    if (first !== again) fail('METADATA_INVALID', 'the two passwords differ; nothing was changed');
    return first;
  }
  const [first = '', second = ''] = await stdinLines();
  if (second !== '' && second !== first) fail('METADATA_INVALID', 'the two passwords on stdin differ; nothing was changed');
  return first;
}

/** `larder brioche set-password REPO [--clear]`: the password brioche sends as Basic `admin:<password>`. */
export function briocheCommands(program: Command): void {
  const brioche = program.command('brioche').description('Brioche registries');
  withStorageOptions(
    brioche
      .command('set-password <repo>')
      .description(
        'set the registry password of a hosted Brioche repo (brioche sends it from BRIOCHE_REGISTRY_PASSWORD); it may set any tag of that repo. Prompts twice, or reads stdin when piped',
      )
      .option('--clear', 'remove the password (then only Larder tokens may set tags)'),
  ).action(async (repoName: string, flags: StorageFlags & { clear?: boolean }) => {
    await withRegistry(flags, async (r) => {
      const repo = r.repos.get(repoName);
      if (!repo) fail('REPO_NOT_FOUND', `there is no repository ${repoName}; \`larder repo list\` shows them`);
      checkPasswordRepo(repo);
      const password = flags.clear ? null : await readNewPassword();
      await setRepoPassword(r, repo, password);
      process.stdout.write(
        password === null
          ? `removed the registry password of ${repo.name}; tags are set with Larder tokens (publish scope) only\n`
          : `set the registry password of ${repo.name}; brioche sends it with BRIOCHE_REGISTRY_PASSWORD\n`,
      );
    });
  });
}
