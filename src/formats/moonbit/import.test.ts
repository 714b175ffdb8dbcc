/**
 * `larder import moonbit` below the CLI: what a user sees in the repo after importing an index
 * (documents byte-identical, rows, yanks, zips), and that every refusal changes nothing.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeZip } from '../../../test/support/archives.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { registryState } from '../../../test/support/state.js';
import { tempDir } from '../../../test/support/tmp.js';
import { inTransaction } from '../../registry/tx.js';
import { importMoonbit } from './import.js';
import { readImportSource } from './import-source.js';
import { reposSnippet, readToolsConfig } from './registry-tools.js';
import { appendVersion, moonbitDb } from './store.js';
import { verifyMoonbitRepo } from './verify.js';

const run = promisify(execFile);
const FIXTURE = path.resolve('../shared/fixtures/moonbit-sample');
const work = tempDir('larder-moonbit-import-');
afterAll(() => work.remove());

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const line = (o: Record<string, unknown>) => `${JSON.stringify(o)}\n`;

/** Writes files below a fresh directory and returns it. */
function tree(name: string, files: Record<string, string | Buffer>): string {
  const root = path.join(work.path, name);
  for (const [rel, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), body);
  }
  return root;
}

async function gitCommitAll(dir: string, branch: string): Promise<void> {
  const git = (...a: string[]) => run('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...a]);
  await git('init', '-q', '-b', branch);
  await git('add', '-A');
  await git('commit', '-qm', 'index');
}

let t: TestApp;
beforeEach(async () => {
  t = await openTestApp();
});
afterEach(async () => {
  await t.stop();
});
const repo = () => t.registry.repos.get('moonbit')!;
const doc = async (p: string) => (await t.registry.docs.get(repo().id, p))?.body;
const rows = () => moonbitDb(t.registry).selectFrom('moonbit_versions').selectAll().where('repo_id', '=', repo().id).execute();

describe('import moonbit: the mooncakes sample', () => {
  it('stores every index file byte-identical, one row per version, the yanks, and again changes nothing', async () => {
    const source = await readImportSource(t.registry, FIXTURE);
    expect(source.ignored).toEqual(['MANIFEST.sha256']);
    const s = await importMoonbit(t.registry, repo(), source);
    expect(s).toMatchObject({ added: 38, unchanged: 0, skippedLines: 0, zips: 0, yanked: 1, committed: true });
    for (const entry of fs.readFileSync(path.join(FIXTURE, 'MANIFEST.sha256'), 'utf8').trim().split('\n')) {
      const [hash, rel] = entry.split(/\s+\.\//);
      const body = await doc(rel!);
      expect(body && sha(Buffer.from(body)), rel).toBe(hash);
    }
    // Nested names: lex and lex/runtime side by side.
    expect(await doc('user/moonbitlang/lex/runtime.index')).toBeDefined();
    const all = await rows();
    expect(all.length).toBe(s.versions);
    const lex = all.find((r) => r.module === 'moonbitlang/lex' && r.version === '0.1.0')!;
    // yanked.json is kept as it is, and its entry yanks the version it names.
    expect(all.filter((r) => r.yanked).map((r) => [r.module, r.version, r.yanked_reason])).toEqual([
      ['mizchi/git', '0.2.0', 'This package has been renamed to mizchi/bit. Please use mizchi/bit instead.'],
    ]);
    expect(lex).toMatchObject({
      checksum: 'a12581cbb1d51136ee4c1dd59d72479f8ef7d37d124ff9161a1009e1c7547239',
      size: null,
      published_by: null,
    });
    // Imported without zips: the download is a 404, not a broken blob.
    expect(await t.registry.sources.get('moonbit')!.artifact('moonbitlang/lex/0.1.0')).toBeNull();
    expect((await verifyMoonbitRepo(t.registry, repo())).problems).toEqual([]);

    const before = await registryState(t.registry, t.data);
    const again = await importMoonbit(t.registry, repo(), await readImportSource(t.registry, FIXTURE));
    expect(again).toMatchObject({ added: 0, unchanged: 38, versions: 0, committed: false });
    expect(await registryState(t.registry, t.data)).toEqual(before);
  });

  it('refuses a module whose lines differ from what the repo serves, naming it, and writes nothing', async () => {
    await importMoonbit(t.registry, repo(), await readImportSource(t.registry, FIXTURE));
    const copy = path.join(work.path, 'edited-sample');
    fs.cpSync(FIXTURE, copy, { recursive: true });
    const file = path.join(copy, 'user/moonbitlang/lex.index');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('a12581cb', '00000000'));
    fs.mkdirSync(path.join(copy, 'user/zed'), { recursive: true });
    fs.writeFileSync(path.join(copy, 'user/zed/new.index'), line({ name: 'zed/new', version: '1.0.0', checksum: 'a'.repeat(64) }));
    const before = await registryState(t.registry, t.data);
    await expect(importMoonbit(t.registry, repo(), await readImportSource(t.registry, copy))).rejects.toMatchObject({
      code: 'VERSION_EXISTS',
      message: expect.stringContaining('moonbitlang/lex;'),
    });
    expect(await registryState(t.registry, t.data)).toEqual(before);
  });
});

describe('import moonbit: generated indexes', () => {
  const emoji = 'user/emoji_user/🦀.index';
  const cjk = 'user/zhang_san/数据/结构.index';

  it('keeps non-ASCII and nested names, unusable lines without rows, and lets a publish continue the file', async () => {
    const emojiBody = line({ name: 'emoji_user/🦀', version: '0.1.0', checksum: 'b'.repeat(64) }) + 'not json\n';
    const cjkBody =
      line({ name: 'zhang_san/数据/结构', version: '1.0.0', deps: null, checksum: 'c'.repeat(64) }) +
      line({ name: 'zhang_san/数据/结构', version: 'latest', checksum: 'd'.repeat(64) }) +
      line({ name: 'zhang_san/数据/结构', version: '1.1.0' });
    const yanked = JSON.stringify({ yankedPackages: [{ name: 'emoji_user/🦀', version: '0.1.0', reason: 'use 0.2.0' }], count: 1 });
    const root = tree('generated', { [emoji]: emojiBody, [cjk]: cjkBody, 'stats.json': '{}', 'yanked.json': yanked });
    const s = await importMoonbit(t.registry, repo(), await readImportSource(t.registry, root));
    expect(s).toMatchObject({ added: 2, versions: 2, skippedLines: 3, ignored: 1, yanked: 1 });
    expect(Buffer.from((await doc('yanked.json'))!).toString()).toBe(yanked);
    expect((await rows()).find((r) => r.yanked)).toMatchObject({ module: 'emoji_user/🦀', version: '0.1.0', yanked_reason: 'use 0.2.0' });
    expect(Buffer.from((await doc(emoji))!).toString()).toBe(emojiBody);
    expect(Buffer.from((await doc(cjk))!).toString()).toBe(cjkBody);
    expect((await rows()).map((r) => `${r.module}@${r.version}`).sort()).toEqual(['emoji_user/🦀@0.1.0', 'zhang_san/数据/结构@1.0.0']);

    // Larder's own publish appends to the imported file.
    const zip = makeZip([{ name: 'moon.mod.json', data: Buffer.from('{"name":"emoji_user/🦀","version":"0.2.0"}') }]);
    const staged = await t.registry.blobs.stage(Readable.from([zip]));
    const published = Buffer.from(JSON.stringify({ name: 'emoji_user/🦀', version: '0.2.0', checksum: staged.sha256 }));
    await inTransaction(t.registry, (uow) =>
      appendVersion(uow, t.registry, repo(), {
        module: 'emoji_user/🦀',
        version: '0.2.0',
        line: published,
        staged,
        description: null,
        publishedBy: null,
      }),
    );
    expect(Buffer.from((await doc(emoji))!).toString()).toBe(`${emojiBody}${published.toString()}\n`);
    expect((await verifyMoonbitRepo(t.registry, repo())).problems).toEqual([]);
  });

  it('reads a git index from its objects at a named branch, not from the work tree, and extends what it imported before', async () => {
    const v1 = line({ name: 'alice/json', version: '0.1.0', checksum: 'e'.repeat(64) });
    const root = tree('git-index', { 'user/alice/json.index': v1, 'README.md': '# index\n' });
    await gitCommitAll(root, 'registry-index');
    // Uncommitted edits are not imported.
    fs.writeFileSync(path.join(root, 'user/alice/json.index'), 'scribble\n');
    await expect(readImportSource(t.registry, root, { branch: 'main' })).rejects.toThrow(/no branch main; it has registry-index/);
    const first = await importMoonbit(t.registry, repo(), await readImportSource(t.registry, root, { branch: 'registry-index' }));
    expect(first).toMatchObject({ added: 1, versions: 1, ignored: 1 });
    expect(Buffer.from((await doc('user/alice/json.index'))!).toString()).toBe(v1);

    // The source grew by one line: the repo's file is extended, one more row.
    const v2 = v1 + line({ name: 'alice/json', version: '0.2.0', checksum: 'f'.repeat(64) });
    const bare = path.join(work.path, 'git-index-bare.git');
    fs.writeFileSync(path.join(root, 'user/alice/json.index'), v2);
    await run('git', ['-C', root, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qam', 'more']);
    await run('git', ['clone', '-q', '--bare', root, bare]);
    const second = await importMoonbit(t.registry, repo(), await readImportSource(t.registry, bare, { branch: 'registry-index' }));
    expect(second).toMatchObject({ added: 0, extended: 1, versions: 1 });
    expect(Buffer.from((await doc('user/alice/json.index'))!).toString()).toBe(v2);
  });

  it('refuses a source that is not an index, and --branch on a plain directory', async () => {
    const empty = tree('not-an-index', { 'README.md': 'hi' });
    await expect(readImportSource(t.registry, empty)).rejects.toThrow(/holds no index files/);
    await expect(readImportSource(t.registry, FIXTURE, { branch: 'main' })).rejects.toThrow(/not a git repository/);
    await expect(readImportSource(t.registry, path.join(work.path, 'nowhere'))).rejects.toThrow(/neither a directory nor/);
  });
});

describe('import moonbit: a moonbit-registry-tools store', () => {
  const good = makeZip([{ name: 'moon.mod.json', data: Buffer.from('{"name":"acme/util","version":"1.0.0"}') }]);
  const other = makeZip([{ name: 'moon.mod.json', data: Buffer.from('{"name":"acme/util","version":"1.1.0"}') }]);
  const index =
    line({ name: 'acme/util', version: '1.0.0', checksum: sha(good) }) +
    line({ name: 'acme/util', version: '1.1.0', checksum: sha(other) });
  const registryToml = `[registry]
name = "acme"
data_dir = "./store-data"

[[sources]]
name = "mooncakes"
url = "https://mooncakes.io"
priority = 100

[[sources]]
name = "Partner Registry"
url = "https://partner.example.com/registry"
priority = 50
[sources.auth]
type = "bearer"
token = "\${PARTNER}"

[[sources]]
name = "off"
url = "https://off.example.com"
enabled = false
`;

  it('imports its index and zips (checked against the lines) and maps its sources onto proxies and a group', async () => {
    const root = tree('store', {
      'registry.toml': registryToml,
      'store-data/index/user/acme/util.index': index,
      'store-data/packages/acme/util/1.0.0.zip': good,
      'store-data/packages/acme/util/1.1.0.zip': other,
      'store-data/packages/acme/gone/0.1.0.zip': good,
      // The tool's own publishes: `<user>/<name>` beside the mirrored clone; moved to the path moon reads.
      'store-data/index/acme/tool': line({ name: 'acme/tool', version: '0.1.0', checksum: 'c'.repeat(64) }),
      'store-data/index/notes/todo': 'not an index\n',
      'store-data/index/sources/partner/user/p/q.index': line({ name: 'p/q', version: '1.0.0', checksum: 'd'.repeat(64) }),
      'yanked.json': '{}',
    });
    await gitCommitAll(path.join(root, 'store-data/index'), 'main');
    const source = await readImportSource(t.registry, root);
    const s = await importMoonbit(t.registry, repo(), source);
    expect(s).toMatchObject({ added: 2, versions: 3, zips: 2, strayZips: 1 });
    expect(source.ignored.sort()).toEqual(['notes/todo', 'sources/partner/user/p/q.index']);
    expect(Buffer.from((await doc('user/acme/tool.index'))!).toString()).toContain('"acme/tool"');
    const artifact = await t.registry.sources.get('moonbit')!.artifact('acme/util/1.0.0');
    expect(artifact).toMatchObject({ sha256: sha(good), size: good.length });
    const v = await verifyMoonbitRepo(t.registry, repo());
    expect(v.problems).toEqual([]);
    expect(v.references.map((r) => r.what).sort()).toEqual(['module acme/util@1.0.0', 'module acme/util@1.1.0']);

    const snippet = reposSnippet('moonbit', readToolsConfig(root));
    expect(snippet).toContain('name = "partner-registry"\nformat = "moonbit"\nkind = "proxy"');
    expect(snippet).toContain('needed credentials');
    expect(snippet).toContain('members = ["moonbit", "partner-registry", "mooncakes"]');
    expect(snippet).not.toContain('off.example.com');
  });

  it('refuses a tampered zip, naming the file, and changes nothing', async () => {
    const root = tree('tampered-store', {
      'registry.toml': registryToml,
      'store-data/index/user/acme/util.index': index,
      'store-data/packages/acme/util/1.0.0.zip': good,
      'store-data/packages/acme/util/1.1.0.zip': Buffer.concat([other, Buffer.from('x')]),
    });
    // The process's staging directory appears with the first staged blob; make it exist before the snapshot.
    await (await t.registry.blobs.stage(Readable.from([good]))).discard();
    const before = await registryState(t.registry, t.data);
    const err = await importMoonbit(t.registry, repo(), await readImportSource(t.registry, root)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MANIFEST_MISMATCH', message: expect.stringContaining('packages/acme/util/1.1.0.zip') });
    expect(await registryState(t.registry, t.data)).toEqual(before);
  });
});
