/**
 * Group commit of Cargo publishes on SQLite (registry/group-commit.ts): concurrent publishes share one transaction,
 * each in its own savepoint. These tests put several publishes into one group for certain (their blob staging is held
 * until all have passed their checks, and a unit holds the group open until all wait for it) and check that a publish
 * failing inside the group leaves nothing, that the others land, and that the replay rule holds within a group.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupCommitStats } from '../../registry/group-commit.js';
import { inTransaction } from '../../registry/tx.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { countDelta, rowCounts } from '../../../test/support/replay.js';
import { expectCargoError, sha256Hex, simplePublishBody, tokenFor } from '../../../test/support/cargo.js';
import { indexPath } from './names.js';

const API = '/cargo/api/v1/crates';

function put(t: TestApp, body: Buffer, token: string): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'PUT', url: `${API}/new`, headers: { authorization: token }, payload: body });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > 2000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Sends the publishes so that all of them run in one group transaction: each is held at blob staging until all have
 * got there (past their checks), then a unit keeps a group open until every publish waits for it. Returns the answers
 * and the groups and units the writer ran meanwhile.
 */
async function publishInOneGroup(
  t: TestApp,
  bodies: Buffer[],
  token: string,
): Promise<{ answers: LightMyRequestResponse[]; groups: number; units: number }> {
  const blobs = t.registry.blobs;
  const stage = blobs.stage;
  let reached = 0;
  let releaseStages!: () => void;
  const stagesReleased = new Promise<void>((resolve) => (releaseStages = resolve));
  blobs.stage = async (source, opts) => {
    reached++;
    await stagesReleased;
    return stage.call(blobs, source, opts);
  };
  const before = groupCommitStats(t.registry.db);
  try {
    const answers = Promise.all(bodies.map((b) => put(t, b, token)));
    await until('every publish at blob staging', () => reached === bodies.length);
    let openGroup!: () => void;
    const groupHeld = new Promise<void>((resolve) => (openGroup = resolve));
    const holder = inTransaction(t.registry, () => groupHeld, { group: true });
    await until('the holding unit', () => groupCommitStats(t.registry.db).units === before.units + 1);
    releaseStages();
    await until('every publish waiting for the group', () => groupCommitStats(t.registry.db).waiting === bodies.length);
    openGroup();
    await holder;
    const done = await answers;
    const after = groupCommitStats(t.registry.db);
    return { answers: done, groups: after.groups - before.groups, units: after.units - before.units };
  } finally {
    blobs.stage = stage;
  }
}

describe('group commit of concurrent publishes (SQLite)', () => {
  let t: TestApp;
  let alice: string;

  beforeAll(async () => {
    t = await openTestApp();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const index = (name: string) => t.app.inject({ method: 'GET', url: `/cargo/index/${indexPath(name)}` });
  const stagingFiles = () => {
    const tmp = path.join(t.data, 'blobs', 'tmp');
    return fs.readdirSync(tmp, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  };

  it('lands the others when one publish of the group fails its checks, and leaves nothing of the failed one', async () => {
    const a = await simplePublishBody('grp-a', '1.0.0');
    const collides = await simplePublishBody('grp_a', '1.0.0', { description: 'same crate as grp-a' });
    const c = await simplePublishBody('grp-c', '1.0.0');
    const before = await rowCounts(t.registry);
    const { answers, groups, units } = await publishInOneGroup(t, [a.body, collides.body, c.body], alice);
    expect({ groups, units }).toEqual({ groups: 1, units: 4 });
    // Both `grp-a` and `grp_a` passed their checks before either existed; inside the group, whichever comes second
    // meets the first (uncommitted, same transaction) and is refused there.
    const [ra, rb, rc] = answers;
    expect(rc.statusCode, rc.body).toBe(200);
    expect([ra.statusCode, rb.statusCode].sort()).toEqual([200, 409]);
    const [won, lost] = ra.statusCode === 200 ? (['grp-a', 'grp_a'] as const) : (['grp_a', 'grp-a'] as const);
    expectCargoError(ra.statusCode === 200 ? rb : ra, 409, new RegExp(`^crate \`${lost}\` collides with the existing crate \`${won}\``));
    const lostCrate = ra.statusCode === 200 ? collides.crate : a.crate;
    const delta = countDelta(before, await rowCounts(t.registry));

    // What the group wrote is exactly what two publishes of new crates write, one after the other.
    const d = await simplePublishBody('grp-d', '1.0.0');
    const e = await simplePublishBody('grp-e', '1.0.0');
    const beforeTwo = await rowCounts(t.registry);
    expect((await put(t, d.body, alice)).statusCode).toBe(200);
    expect((await put(t, e.body, alice)).statusCode).toBe(200);
    expect(delta).toEqual(countDelta(beforeTwo, await rowCounts(t.registry)));

    expect((await index(won)).statusCode).toBe(200);
    expect((await index('grp-c')).statusCode).toBe(200);
    expect((await index(lost)).statusCode).toBe(404);
    const audit = await t.registry.db.selectFrom('audit_log').select('subject').where('subject', 'like', 'grp%').execute();
    expect(audit.map((r) => r.subject).sort()).toEqual([`${won}@1.0.0`, 'grp-c@1.0.0', 'grp-d@1.0.0', 'grp-e@1.0.0'].sort());
    expect(await t.registry.blobs.has(sha256Hex(lostCrate))).toBe(false);
    expect(stagingFiles()).toBe(0);
  });

  it('applies the replay rule between publishes of one version in one group', async () => {
    const first = await simplePublishBody('grp-same', '1.0.0');
    const other = await simplePublishBody('grp-same', '1.0.0', {}, { files: { 'src/other.rs': 'other content' } });
    const before = await rowCounts(t.registry);
    const { answers, groups } = await publishInOneGroup(t, [first.body, first.body, other.body], alice);
    expect(groups).toBe(1);
    // The first of the group to reach its insert lands; a publish identical to it is the success it was (a replay);
    // other content for the version is refused. Which one is first depends on when its blob was staged.
    const lines = (await index('grp-same')).body.trim().split('\n');
    expect(lines).toHaveLength(1);
    const stored = (JSON.parse(lines[0]) as { cksum: string }).cksum;
    const sent = [first.crate, first.crate, other.crate].map(sha256Hex);
    expect(sent).toContain(stored);
    expect(answers.map((r) => r.statusCode)).toEqual(sent.map((c) => (c === stored ? 200 : 409)));
    for (const r of answers.filter((x) => x.statusCode === 409))
      expectCargoError(r, 409, /version 1\.0\.0 was published at the same moment by another request/);
    const delta = countDelta(before, await rowCounts(t.registry));
    expect(delta.cargo_versions).toBe(1);
    expect(delta.audit_log).toBe(1);
    expect(stagingFiles()).toBe(0);
  });
});
