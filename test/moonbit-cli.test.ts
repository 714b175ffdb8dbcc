/** `larder moonbit publish|yank` against a running server, as a module author runs them. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tokenFor } from './support/cargo.js';
import { larder as cli } from './support/cli.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { tempDir } from './support/tmp.js';

const work = tempDir('larder-moon-cli-');
let server: TestLarder;
let token: string;

beforeAll(async () => {
  server = await startTestLarder({ repos: [{ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
  token = await tokenFor(server.registry, 'alice', { scopes: ['publish', 'yank'] });
});
afterAll(async () => {
  await server?.stop();
  work.remove();
});

/** Every entry of a zip: name → Unix mode and bytes, in zip order. */
async function entries(zip: Buffer): Promise<Array<{ name: string; mode: number; data: Buffer }>> {
  const z = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.fromBuffer(zip, { lazyEntries: true }, (e, f) => (e ? rej(e) : res(f))));
  const out: Array<{ name: string; mode: number; data: Buffer }> = [];
  await new Promise<void>((resolve, reject) => {
    z.on('end', resolve).on('error', reject);
    z.on('entry', (e: yauzl.Entry) => {
      z.openReadStream(e, async (err, s) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        for await (const c of s as Readable) chunks.push(c as Buffer);
        out.push({ name: e.fileName, mode: e.externalFileAttributes >>> 16, data: Buffer.concat(chunks) });
        z.readEntry();
      });
    });
    z.readEntry();
  });
  return out;
}

function write(rel: string, text: string, mode = 0o644): void {
  const p = path.join(work.path, 'mod', rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  fs.chmodSync(p, mode);
}

it('zips a module the way moon package does, publishes it, prints the server detail, and yanks', async () => {
  const manifest = '{\n  "name": "alice/cli",\n  "version": "0.1.0",\n  "deps": {}\n}\n';
  write('moon.mod.json', manifest);
  write('src/lib/lib.mbt', 'pub fn f() -> Int { 1 }\n');
  write('src/lib/moon.pkg.json', '{}\n');
  write('scripts/gen.sh', '#!/bin/sh\necho hi\n', 0o755);
  write('.gitignore', '# build output\n*.log\n/secret.txt\nbuild-cache/\n!keep.log\n');
  write('debug.log', 'noise\n');
  write('src/deep.log', 'noise\n');
  write('secret.txt', 'do not ship\n');
  write('src/secret.txt', 'this one ships (the rule is anchored)\n');
  write('build-cache/x', 'cache\n');
  for (const dir of ['target', '.mooncakes', '_build', '.git']) write(`${dir}/junk`, 'never\n');
  const registry = `${server.url}/moon`;

  const dry = await cli(work.path, ['moonbit', 'publish', 'mod', '--registry', registry, '--token', token, '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/^Dry run completed successfully\. No changes were made/);
  expect(dry.stderr).toMatch(/negation "!keep\.log" is not honoured/);

  const pub = await cli(work.path, ['moonbit', 'publish', 'mod', '--registry', `${registry}/`], { LARDER_TOKEN: token });
  expect(pub.code, pub.stderr).toBe(0);
  const checksum = /sha256 ([0-9a-f]{64})/.exec(pub.stdout)?.[1];
  expect(pub.stdout).toContain('published alice/cli@0.1.0');
  const line = (await server.registry.docs.get(server.registry.repos.get('moon')!.id, 'user/alice/cli.index'))!.body.toString();
  expect(line).toBe(`${JSON.stringify({ name: 'alice/cli', version: '0.1.0', deps: {}, checksum })}\n`);

  const blob = await server.registry.blobs.open(checksum!);
  const chunks: Buffer[] = [];
  for await (const c of blob!.stream()) chunks.push(c as Buffer);
  const zip = Buffer.concat(chunks);
  expect(createHash('sha256').update(zip).digest('hex')).toBe(checksum);
  const got = await entries(zip);
  expect(got.map((e) => [e.name, (e.mode & 0o777).toString(8)])).toEqual([
    ['.gitignore', '644'],
    ['moon.mod.json', '644'],
    ['scripts/', '755'],
    ['scripts/gen.sh', '755'],
    ['src/', '755'],
    ['src/lib/', '755'],
    ['src/lib/lib.mbt', '644'],
    ['src/lib/moon.pkg.json', '644'],
    ['src/secret.txt', '644'],
  ]);
  expect(got.find((e) => e.name === 'moon.mod.json')!.data.toString()).toBe(manifest);

  // The same zip again is a retry of the publish, answered as its success and changing nothing (issue 13).
  const retry = await cli(work.path, ['moonbit', 'publish', 'mod', '--registry', registry, '--token', token]);
  expect(retry.code, retry.stderr).toBe(0);
  // Another zip for the same version is refused; the CLI prints the server's detail.
  write('src/lib/lib.mbt', 'pub fn f() -> Int { 2 }\n');
  const again = await cli(work.path, ['moonbit', 'publish', 'mod', '--registry', registry, '--token', token]);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/publish failed \(409\): Version Error: The version you are attempting to upload \(0\.1\.0\) is duplicated/);

  const yank = await cli(work.path, [
    'moonbit',
    'yank',
    'alice/cli',
    '0.1.0',
    '--reason',
    'use 0.2.0',
    '--registry',
    registry,
    '--token',
    token,
  ]);
  expect(yank.code, yank.stderr).toBe(0);
  expect(yank.stdout).toContain('yanked alice/cli@0.1.0');
  const yanked = JSON.parse((await server.registry.docs.get(server.registry.repos.get('moon')!.id, 'yanked.json'))!.body.toString());
  expect(yanked).toMatchObject({ yankedPackages: [{ name: 'alice/cli', version: '0.1.0', reason: 'use 0.2.0' }], count: 1 });

  const none = await cli(work.path, ['moonbit', 'publish', 'nowhere', '--registry', registry, '--token', token]);
  expect(none.code).not.toBe(0);
  expect(none.stderr).toMatch(/no moon\.mod\.json/);
});
