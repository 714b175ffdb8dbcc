import type { Command } from 'commander';
import { parseDuration } from '../core/units.js';
import { parseScopes } from '../registry/auth.js';
import { createTokenWithS3Key, s3EnvLines } from '../registry/s3-keys.js';
import { clientBaseUrl } from '../http/start.js';
import { printTable, withRegistry, withStorageOptions, type StorageFlags } from './context.js';

interface CreateFlags extends StorageFlags {
  user: string;
  name?: string;
  scopes: string;
  repo?: string;
  package?: string;
  expires?: string;
  s3?: boolean;
}

const iso = (ms: number | null) => (ms == null ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** `larder token create|list|revoke`. */
export function tokenCommands(program: Command): void {
  const token = program.command('token').description('manage API tokens');
  withStorageOptions(token.command('create').description('create a token and print it (only the token, on stdout; it is shown once)'))
    .option('--user <login>', 'the user the token acts as', 'admin')
    .option('--name <name>', 'a label for `token list`')
    .option('--scopes <list>', 'comma list of read, publish, yank, owners, admin', 'read')
    .option('--repo <pattern>', 'limit to repositories matching this glob (e.g. "cargo-*")')
    .option('--package <pattern>', 'limit to packages matching this glob')
    .option('--expires <duration>', 'lifetime such as 30d, 12h, 2w (default: never)')
    .option('--s3', "also create an S3 access key bound to the token (Brioche's s3:// cache writes) and print it as AWS_* variables")
    .action(async (flags: CreateFlags) => {
      const scopes = parseScopes(flags.scopes);
      const expiresInMs = flags.expires ? parseDuration(flags.expires) : null;
      await withRegistry(flags, async (r) => {
        const req = {
          login: flags.user,
          name: flags.name,
          scopes,
          repoPattern: flags.repo ?? null,
          packagePattern: flags.package ?? null,
          expiresInMs,
        };
        if (!flags.s3) {
          const { token } = await r.auth.createToken(req);
          process.stdout.write(token + '\n');
          return;
        }
        // The token first (for BRIOCHE_REGISTRY_PASSWORD), then the key pair bound to it; both shown once.
        const { token, s3 } = await createTokenWithS3Key(r.auth, r.db, req);
        const base = clientBaseUrl(r.config, r.config.tls.mode !== 'off', r.config.listen.port);
        process.stdout.write([token, ...s3EnvLines(s3, base)].join('\n') + '\n');
      });
    });
  withStorageOptions(token.command('list').description('list tokens (never their secrets)'))
    .option('--user <login>', "only this user's tokens")
    .action(async (flags: StorageFlags & { user?: string }) => {
      await withRegistry(flags, async (r) => {
        const rows = await r.auth.listTokens(flags.user);
        printTable([
          ['ID', 'PREFIX', 'USER', 'NAME', 'SCOPES', 'REPO', 'PACKAGE', 'EXPIRES', 'LAST USED', 'STATE'],
          ...rows.map((t) => [
            String(t.id),
            t.prefix + '…',
            t.login,
            t.name,
            t.scopes,
            t.repo_pattern ?? '*',
            t.package_pattern ?? '*',
            iso(t.expires_at) || 'never',
            iso(t.last_used_at) || 'never',
            t.revoked_at ? 'revoked' : t.expires_at != null && t.expires_at <= Date.now() ? 'expired' : 'active',
          ]),
        ]);
      });
    });
  withStorageOptions(token.command('revoke <id-or-prefix>').description('revoke a token by id or prefix')).action(
    async (id: string, flags: StorageFlags) => {
      await withRegistry(flags, async (r) => {
        const row = await r.auth.revokeToken(id);
        process.stdout.write(`revoked token ${row.id} (${row.prefix}…)\n`);
      });
    },
  );
}
