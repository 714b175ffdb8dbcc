/**
 * What the real `git` sees of MoonBit publishes: the exact commands moon runs (protocols/moonbit.md
 * §2, §11) against the bare repository the `git/index` route serves (built by syncGitHistory), so
 * each publish is one fast-forward commit on `main` with one more line in the module's file.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitHistoryDir, syncGitHistory } from '../src/registry/git-history/build.js';
import { indexHistory } from '../src/formats/moonbit/store.js';
import { tokenFor } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { moduleZip, publishRequest } from './support/moonbit-publish.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const git = async (args: string[], cwd?: string) =>
  (await run('git', args, { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd ?? process.cwd() } })).stdout;

let t: TestApp;
let token: string;
const work = tempDir('larder-moon-git-');

beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
  token = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
});
afterAll(async () => {
  await t?.stop();
  work.remove();
});

/** The bare repository as the route would serve it now. */
async function bare(): Promise<string> {
  const ref = indexHistory(t.registry.repos.get('moon')!);
  return syncGitHistory(t.registry.db, { ...ref, dir: gitHistoryDir(t.data, ref), branch: 'main' });
}

async function publish(version: string): Promise<Buffer> {
  const zip = moduleZip({ name: 'alice/json', version });
  const res = await t.app.inject(await publishRequest('moon', token, zip));
  expect(res.statusCode, res.body).toBe(200);
  return zip;
}

describe('a MoonBit index as git sees it', () => {
  it('clones shallow, then pulls each publish as one fast-forward commit; a yank adds yanked.json', async () => {
    const z1 = await publish('0.1.0');
    const dir = path.join(work.path, 'index');
    await git(['clone', '--depth', '1', '--single-branch', '--no-tags', `file://${await bare()}`, dir]);
    expect((await git(['rev-parse', '--abbrev-ref', 'HEAD'], dir)).trim()).toBe('main');
    const line1 = JSON.stringify({ name: 'alice/json', version: '0.1.0', checksum: createHash('sha256').update(z1).digest('hex') });
    expect(fs.readFileSync(path.join(dir, 'user/alice/json.index'), 'utf8')).toBe(`${line1}\n`);

    const before = (await git(['rev-parse', 'HEAD'], dir)).trim();
    const z2 = await publish('0.2.0');
    await bare();
    const pull = await run('git', ['-C', dir, 'pull', 'origin', 'main'], { env: { ...process.env, HOME: work.path } });
    expect(pull.stdout).toMatch(/Fast-forward/);
    const line2 = JSON.stringify({ name: 'alice/json', version: '0.2.0', checksum: createHash('sha256').update(z2).digest('hex') });
    expect(fs.readFileSync(path.join(dir, 'user/alice/json.index'), 'utf8')).toBe(`${line1}\n${line2}\n`);
    expect((await git(['rev-list', '--count', `${before}..HEAD`], dir)).trim()).toBe('1');
    expect((await git(['log', '-1', '--format=%s'], dir)).trim()).toBe('Publish alice/json@0.2.0');

    // A refused publish (another zip for a published version) adds no commit, and neither does a retry of the same zip.
    const dup = await t.app.inject(
      await publishRequest('moon', token, moduleZip({ name: 'alice/json', version: '0.2.0', description: 'other' })),
    );
    expect(dup.statusCode).toBe(409);
    const retry = await t.app.inject(await publishRequest('moon', token, z2));
    expect(retry.statusCode, retry.body).toBe(200);
    const yank = await t.app.inject({
      method: 'POST',
      url: '/moon/api/v0/yank',
      payload: { module: 'alice/json', version: '0.1.0', reason: 'use 0.2.0' },
      headers: { authorization: `Bearer ${token}` },
    });
    expect(yank.statusCode, yank.body).toBe(200);
    await bare();
    const head = (await git(['rev-parse', 'HEAD'], dir)).trim();
    expect((await run('git', ['-C', dir, 'pull', 'origin', 'main'], { env: { ...process.env, HOME: work.path } })).stdout).toMatch(
      /Fast-forward/,
    );
    expect((await git(['rev-list', '--count', `${head}..HEAD`], dir)).trim()).toBe('1');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'yanked.json'), 'utf8'))).toMatchObject({
      yankedPackages: [{ name: 'alice/json', version: '0.1.0', reason: 'use 0.2.0' }],
      count: 1,
    });
    // Index lines are never edited by a yank.
    expect(fs.readFileSync(path.join(dir, 'user/alice/json.index'), 'utf8')).toBe(`${line1}\n${line2}\n`);
  });
});
