/**
 * Replayed publishes (issue 13): `PUT /{repo}/api/modules/{m}/{v}` repeated with byte-identical content — a load
 * balancer's retry of a publish whose answer was lost — is answered as the success it was and changes nothing (no
 * download, no document, no audit entry); other content for a published version is refused as it always was; the same
 * holds when the repeat races the first attempt into its transaction (SQLite and PostgreSQL). Also: repeats of yank,
 * unyank, metadata edits and owner changes change nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sri } from '../../core/sri.js';
import { tarGz } from '../../../test/support/archives.js';
import { moduleFile, publishBody, type Part, type PublishBodyOptions } from '../../../test/support/bazel.js';
import { tokenFor } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { countDelta, holdFirstStage, rowCounts } from '../../../test/support/replay.js';
import { registryState } from '../../../test/support/state.js';

const REPOS = [{ name: 'bazel', format: 'bazel' as const, kind: 'hosted' as const, visibility: 'public' as const }];
const PRESUBMIT = (platform: string) =>
  `matrix:\n  platform: [${platform}]\n  bazel: [7.x]\ntasks:\n  verify_targets:\n    platform: \${{ platform }}\n    bazel: \${{ bazel }}\n`;
const PATCH = `--- a/lib.cc\n+++ b/lib.cc\n@@ -1 +1 @@\n-int answer() { return 41; }\n+int answer() { return 42; }\n`;
const EXISTS = (m: string, v: string) =>
  new RegExp(`^${m}@${v.replace(/\./g, '\\.')} is already published, and published versions never change; publish a new version$`);
const SAME_MOMENT = (m: string, v: string) =>
  new RegExp(`^${m}@${v.replace(/\./g, '\\.')} was published at the same moment by another request$`);

/** A source archive under `prefix/` with its MODULE.bazel and a lib.cc the patch below applies to. */
function archiveOf(prefix: string, moduleText: string, lib = 'int answer() { return 41; }\n'): Promise<Buffer> {
  return tarGz([
    { name: `${prefix}/MODULE.bazel`, body: moduleText },
    { name: `${prefix}/lib.cc`, body: lib },
  ]);
}

/** Every part a publish with a hosted archive can carry. */
async function fullParts(module: string, version: string): Promise<Part[]> {
  const text = moduleFile(module, version, '    bazel_compatibility = [">=7.2.1"],\n');
  return [
    ['MODULE.bazel', text],
    ['archive', await archiveOf(`${module}-${version}`, text), `${module}-${version}.tar.gz`],
    ['strip_prefix', `${module}-${version}`],
    ['patches/fix.patch', PATCH],
    ['overlay/BUILD.bazel', 'cc_library(name = "lib", srcs = ["lib.cc"])\n'],
    ['presubmit.yml', PRESUBMIT('debian11')],
    ['metadata', JSON.stringify({ homepage: 'https://example.com/', maintainers: [{ email: 'a@example.com' }] })],
  ];
}

/** A plain publish with a hosted archive and nothing else. */
async function plainParts(module: string, version: string, lib?: string): Promise<Part[]> {
  const text = moduleFile(module, version);
  return [
    ['MODULE.bazel', text],
    ['archive', await archiveOf('src', text, lib), 'src.tar.gz'],
    ['strip_prefix', 'src'],
  ];
}

async function publish(
  t: TestApp,
  module: string,
  version: string,
  parts: Part[],
  token: string,
  options?: PublishBodyOptions,
): Promise<LightMyRequestResponse> {
  const { payload, contentType } = await publishBody(parts, options);
  return t.app.inject({
    method: 'PUT',
    url: `/bazel/api/modules/${module}/${version}`,
    payload,
    headers: { 'content-type': contentType, authorization: `Bearer ${token}` },
  });
}

const errorOf = (res: LightMyRequestResponse): string => (JSON.parse(res.body) as { error: { message: string } }).error.message;

describe('publish replays', () => {
  let t: TestApp;
  let alice: string;
  let full: Part[];
  let firstAnswer: unknown;
  let archiveServer: http.Server;
  let archiveHits = 0;
  let external: { archive: Buffer; url: string };

  beforeAll(async () => {
    t = await openTestApp({ repos: REPOS, outbound: { allowPrivate: ['127.0.0.1'] } });
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'] });
    full = await fullParts('replayed', '1.0.0');
    const res = await publish(t, 'replayed', '1.0.0', full, alice);
    expect(res.statusCode, res.body).toBe(201);
    firstAnswer = res.json();
    const archive = await archiveOf('ext', moduleFile('external', '1.0.0'));
    archiveServer = http.createServer((_req, reply) => {
      archiveHits++;
      reply.end(archive);
    });
    await new Promise<void>((resolve) => archiveServer.listen(0, '127.0.0.1', resolve));
    external = { archive, url: `http://127.0.0.1:${(archiveServer.address() as AddressInfo).port}/ext.tar.gz` };
  });
  afterAll(async () => {
    await t?.stop();
    await new Promise((resolve) => archiveServer?.close(resolve));
  });

  /** Sends a repeat and expects the answer of the first publish, with every row, blob and document exactly as before. */
  async function replayed(module: string, version: string, parts: Part[], answer: unknown, token = alice): Promise<void> {
    const before = await registryState(t.registry, t.data);
    const res = await publish(t, module, version, parts, token);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toEqual(answer);
    expect(await registryState(t.registry, t.data)).toEqual(before);
  }

  /** Sends a publish and expects its refusal, with everything exactly as before. */
  async function refused(parts: Part[], status: number, message: RegExp, token = alice, version = '1.0.0'): Promise<void> {
    const before = await registryState(t.registry, t.data);
    const res = await publish(t, 'replayed', version, parts, token);
    expect(res.statusCode, res.body).toBe(status);
    expect(errorOf(res)).toMatch(message);
    expect(await registryState(t.registry, t.data)).toEqual(before);
  }

  it('answers an identical repeat as the success it was, writing nothing (no row, document, audit entry, blob)', async () => {
    await replayed('replayed', '1.0.0', full, firstAnswer);
    await replayed('replayed', '1.0.0', full, firstAnswer);
  });

  it('answers a repeat of a source.json publish without downloading the archive again', async () => {
    const text = moduleFile('external', '1.0.0');
    const parts: Part[] = [
      ['MODULE.bazel', text],
      ['source.json', JSON.stringify({ url: external.url, integrity: sri(external.archive), strip_prefix: 'ext' })],
    ];
    const first = await publish(t, 'external', '1.0.0', parts, alice);
    expect(first.statusCode, first.body).toBe(201);
    expect(archiveHits).toBe(1);
    await replayed('external', '1.0.0', parts, first.json());
    expect(archiveHits).toBe(1);
  });

  it('does not compare the metadata part: metadata.json belongs to the module, and seeds it only when it is new', async () => {
    const parts = full.map((p): Part => (p[0] === 'metadata' ? ['metadata', JSON.stringify({ homepage: 'https://other.example/' })] : p));
    await replayed('replayed', '1.0.0', parts, firstAnswer);
  });

  it('refuses other content for the version with the refusal it always had, changing nothing', async () => {
    const without = (name: string) => full.filter((p) => p[0] !== name);
    const replacing = (name: string, value: Part[1], fileName?: string): Part[] =>
      full.map((p): Part => (p[0] === name ? [name, value, fileName ?? p[2]] : p));
    const text = full[0][1] as string;
    const variants: Array<[string, Part[], PublishBodyOptions?]> = [
      ['other archive bytes', replacing('archive', await archiveOf('replayed-1.0.0', text, 'int answer() { return 41; } // x\n'))],
      ['another archive file name', replacing('archive', full[1][1], 'other.tar.gz')],
      ['another MODULE.bazel', replacing('MODULE.bazel', text.replace('module(', '# changed\nmodule('))],
      ['another strip_prefix', replacing('strip_prefix', 'elsewhere')],
      ['no patch', without('patches/fix.patch')],
      ['another patch', replacing('patches/fix.patch', PATCH.replace('42', '43'))],
      ['an extra patch', [...full, ['patches/more.patch', PATCH]]],
      ['no overlay', without('overlay/BUILD.bazel')],
      ['no presubmit.yml', without('presubmit.yml'), { presubmit: false }],
      ['another presubmit.yml', replacing('presubmit.yml', PRESUBMIT('macos'))],
      ['patch_strip 0', [...full, ['patch_strip', '0']]],
    ];
    for (const [what, parts, options] of variants) {
      const before = await registryState(t.registry, t.data);
      const res = await publish(t, 'replayed', '1.0.0', parts, alice, options);
      expect([res.statusCode, errorOf(res)], what).toEqual([409, expect.stringMatching(EXISTS('replayed', '1.0.0'))]);
      expect(await registryState(t.registry, t.data), what).toEqual(before);
    }
    // The source.json Larder wrote, sent back without the archive: the hosted archive would be missing.
    const written = Buffer.from(JSON.stringify((firstAnswer as { source: unknown }).source, null, 4) + '\n');
    await refused([...without('archive'), ['source.json', written]], 409, EXISTS('replayed', '1.0.0'));
    await refused([...full, ['source.json', written]], 409, EXISTS('replayed', '1.0.0'));
  });

  it('answers a repeat after a yank with success and leaves the version yanked', async () => {
    const next = await fullParts('replayed', '1.1.0');
    expect((await publish(t, 'replayed', '1.1.0', next, alice)).statusCode).toBe(201);
    const yank = await t.app.inject({
      method: 'POST',
      url: '/bazel/api/modules/replayed/1.0.0/yank',
      payload: { reason: 'use 1.1.0' },
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(yank.statusCode, yank.body).toBe(200);
    await replayed('replayed', '1.0.0', full, firstAnswer);
    const meta = JSON.parse((await t.app.inject({ method: 'GET', url: '/bazel/modules/replayed/metadata.json' })).body);
    expect(meta.yanked_versions).toEqual({ '1.0.0': 'use 1.1.0' });
  });

  it('refuses a repeat by a token that could not publish the module now', async () => {
    const readOnly = await tokenFor(t.registry, 'alice', { scopes: ['read', 'yank'] });
    await refused(full, 403, /lacks the "publish" scope/, readOnly);
    const otherPackages = await tokenFor(t.registry, 'alice', { scopes: ['publish'], packagePattern: 'other*' });
    await refused(full, 403, /limited to packages matching "other\*"/, otherPackages);
    const bob = await tokenFor(t.registry, 'bob', { scopes: ['publish'] });
    await refused(full, 403, /you \(bob\) are not an owner of module replayed/, bob);
  });

  it('changes nothing on repeats of yank, unyank, metadata edits, owner add and owner remove', async () => {
    await tokenFor(t.registry, 'carol', { scopes: ['read'] });
    const send = (method: 'POST' | 'DELETE' | 'PATCH' | 'PUT', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: { authorization: `Bearer ${alice}` }, ...(payload ? { payload } : {}) });
    const steps: Array<[string, () => Promise<LightMyRequestResponse>]> = [
      ['unyank', () => send('DELETE', '/bazel/api/modules/replayed/1.0.0/yank')],
      ['yank', () => send('POST', '/bazel/api/modules/replayed/1.0.0/yank', { reason: 'use 1.1.0' })],
      ['homepage edit', () => send('PATCH', '/bazel/api/modules/replayed', { homepage: 'https://example.com/replayed' })],
      ['deprecate', () => send('PATCH', '/bazel/api/modules/replayed', { deprecated: 'use other' })],
      ['yank of the latest (deprecated)', () => send('POST', '/bazel/api/modules/replayed/1.1.0/yank', { reason: 'deprecated' })],
      ['undeprecate', () => send('PATCH', '/bazel/api/modules/replayed', { deprecated: null })],
      // Yanked already for this reason: a repeat, even though the latest version may not be yanked any more.
      ['yank of the latest, repeated', () => send('POST', '/bazel/api/modules/replayed/1.1.0/yank', { reason: 'deprecated' })],
      ['owner add', () => send('PUT', '/-/api/repos/bazel/packages/replayed/owners', { users: ['carol'] })],
      ['owner remove', () => send('DELETE', '/-/api/repos/bazel/packages/replayed/owners', { users: ['carol'] })],
    ];
    for (const [what, step] of steps) {
      const once = await step();
      expect(once.statusCode, `${what}: ${once.body}`).toBe(200);
      const after = await registryState(t.registry, t.data);
      const again = await step();
      expect([again.statusCode, again.json()], what).toEqual([once.statusCode, once.json()]);
      expect(await registryState(t.registry, t.data), `${what} repeated changed the registry`).toEqual(after);
    }
  });
});

/** Races of two publishes of one version into their transactions, on each database. */
function raceSuite(open: () => Promise<TestApp>): void {
  let t: TestApp;
  let alice: string;
  /** What one publish of a new module adds, table by table. */
  let onePublish: Record<string, number>;

  beforeAll(async () => {
    t = await open();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
    const before = await rowCounts(t.registry);
    expect((await publish(t, 'solo', '1.0.0', await plainParts('solo', '1.0.0'), alice)).statusCode).toBe(201);
    onePublish = countDelta(before, await rowCounts(t.registry));
    expect(onePublish).toMatchObject({ bazel_versions: 1, bazel_archives: 1, blobs: 1, audit_log: 1, package_owners: 1 });
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Checks the rows moved as one publish moves them, and the hosted archive is the one in `parts`. */
  async function leftAsOnePublish(module: string, before: Record<string, number>, parts: Part[]): Promise<void> {
    expect(countDelta(before, await rowCounts(t.registry))).toEqual(onePublish);
    const archive = await t.app.inject({ method: 'GET', url: `/bazel/archives/${module}/1.0.0/src.tar.gz` });
    expect(archive.rawPayload.equals(parts[1][1] as Buffer)).toBe(true);
  }

  it('answers two identical publishes sent at once with success, storing one version', async () => {
    const parts = await plainParts('twin', '1.0.0');
    const before = await rowCounts(t.registry);
    const results = await Promise.all([publish(t, 'twin', '1.0.0', parts, alice), publish(t, 'twin', '1.0.0', parts, alice)]);
    expect(results.map((r) => r.statusCode)).toEqual([201, 201]);
    expect(results[1].json()).toEqual(results[0].json());
    await leftAsOnePublish('twin', before, parts);
  });

  it('answers a repeat that meets the first attempt committing inside its transaction with success', async () => {
    const parts = await plainParts('raced', '1.0.0');
    const before = await rowCounts(t.registry);
    const held = holdFirstStage(t.registry);
    try {
      // The repeat passes its checks (no such version yet) and waits; the first attempt commits meanwhile.
      const repeat = publish(t, 'raced', '1.0.0', parts, alice);
      await held.reached;
      const first = await publish(t, 'raced', '1.0.0', parts, alice);
      expect(first.statusCode, first.body).toBe(201);
      held.release();
      const res = await repeat;
      expect([res.statusCode, res.json()]).toEqual([201, first.json()]);
    } finally {
      held.release();
      held.restore();
    }
    await leftAsOnePublish('raced', before, parts);
  });

  it('refuses a different publish that meets the first one inside its transaction, as before', async () => {
    const winner = await plainParts('contested', '1.0.0');
    const loser = await plainParts('contested', '1.0.0', 'int answer() { return 7; }\n');
    const before = await rowCounts(t.registry);
    const held = holdFirstStage(t.registry);
    try {
      const late = publish(t, 'contested', '1.0.0', loser, alice);
      await held.reached;
      expect((await publish(t, 'contested', '1.0.0', winner, alice)).statusCode).toBe(201);
      held.release();
      const res = await late;
      expect([res.statusCode, errorOf(res)]).toEqual([409, expect.stringMatching(SAME_MOMENT('contested', '1.0.0'))]);
    } finally {
      held.release();
      held.restore();
    }
    await leftAsOnePublish('contested', before, winner);
  });

  it('lets one of two different publishes sent at once in and refuses the other', async () => {
    const bodies = await Promise.all(['1', '2'].map((n) => plainParts('split', '1.0.0', `int answer() { return ${n}; }\n`)));
    const before = await rowCounts(t.registry);
    const results = await Promise.all(bodies.map((parts) => publish(t, 'split', '1.0.0', parts, alice)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    expect(errorOf(results.find((r) => r.statusCode === 409)!)).toMatch(/already published|published at the same moment/);
    await leftAsOnePublish('split', before, bodies[results[0].statusCode === 201 ? 0 : 1]);
  });
}

describe('publish replays racing (SQLite)', () => {
  raceSuite(() => openTestApp({ repos: REPOS }));
});

describe('publish replays racing (PostgreSQL)', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });
  raceSuite(async () => openTestApp({ repos: REPOS, database: await pg.newDatabase() }));
});
