import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ownStagingName, processScratchDir, reapScratchDirs } from './staging.js';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

it('removes the scratch directories a dead process left in the temp dir, never a live one’s or unrelated ones', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'scratch-test-'));
  made.push(tmp);
  const host = ownStagingName().split('.')[0];
  // A process that cannot be running: pid 4194304 is above Linux's pid_max.
  const dead = path.join(tmp, `larder-tree-${host}.4194304.12345-AbC123`);
  const mine = path.join(tmp, `larder-tree-${ownStagingName()}-XyZ789`);
  const otherHost = path.join(tmp, 'larder-tree-elsewhere.4194304.12345-AbC123');
  const unrelated = path.join(tmp, 'larder-import-AbC123');
  for (const d of [dead, mine, otherHost, unrelated]) fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dead, 'sub', '1'), 'spooled bytes of a killed registration');

  expect(await reapScratchDirs(tmp)).toBe(1);
  expect(fs.existsSync(dead)).toBe(false);
  for (const d of [mine, otherHost, unrelated]) expect(fs.existsSync(d)).toBe(true);
});

it('names a new scratch directory for this process, so the next process can tell who left it', () => {
  const dir = processScratchDir('tree');
  made.push(dir);
  expect(path.basename(dir)).toMatch(new RegExp(`^larder-tree-${ownStagingName().replace(/\./g, '\\.')}-[A-Za-z0-9]{6}$`));
  expect(fs.statSync(dir).isDirectory()).toBe(true);
});
