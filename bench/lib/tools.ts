import { spawnSync } from 'node:child_process';

// Shared with the tests, which install HAProxy and Chromium the same way.
export { ensureTools } from '../../test/support/debian.js';

/** The first line a tool prints about its version. */
export function toolVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? 'unknown'
  );
}
