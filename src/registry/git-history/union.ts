/**
 * A group's git history: the union of its members' histories, recorded as the group's own commits
 * whenever a member's tip moved, so a group serves one linear, fast-forward-only history whose commit
 * ids are the same on every node (they come from rows, not from when a node looked).
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../../storage/db.js';
import type { Database } from '../../storage/schema.js';
import { inTransaction } from '../tx.js';
import { recordGitCommit, type GitFileMode, type GitHistoryRef } from './record.js';
import { diffFiles, gitBlobId, historyTip, lockHistory, type HistoryFile, type HistoryTip } from './state.js';
import { currentGeneration, squashIfDue } from './view.js';

/** How a format unites its members' files. */
export interface UnionRules {
  /** The package a path belongs to (all of a package's files come from one member), or null for a repo-level file. */
  packageOf(path: string): string | null;
  /** A repo-level file several members have: the merged bytes, or undefined for "the first member's". */
  merge?(path: string, copies: Array<{ member: number; data: Uint8Array }>): Uint8Array | undefined;
}

const MARKER = 'Members: ';

/** The members' tips a union commit was built from: `repoId:head,…`. */
function membersKey(members: Array<{ ref: GitHistoryRef; tip: HistoryTip }>): string {
  return members.map((m) => `${m.ref.repoId}:${m.tip.head}`).join(',');
}

function recordedKey(message: string): string | null {
  const line = message.split('\n').find((l) => l.startsWith(MARKER));
  return line ? line.slice(MARKER.length).trim() : null;
}

/** The files of the union of `members`: the first member (in order, hosted first) with any file of a package wins all of it. */
export function uniteFiles(members: HistoryTip[], rules: UnionRules): Map<string, { mode: GitFileMode; data: Uint8Array; blob: string }> {
  const owner = new Map<string, number>();
  const levels = new Map<string, Array<{ member: number; file: HistoryFile }>>();
  const out = new Map<string, HistoryFile>();
  members.forEach((m, i) => {
    for (const [path, file] of m.files) {
      const pkg = rules.packageOf(path);
      if (pkg === null) {
        let list = levels.get(path);
        if (!list) levels.set(path, (list = []));
        list.push({ member: i, file });
        continue;
      }
      const chosen = owner.get(pkg);
      if (chosen === undefined) owner.set(pkg, i);
      if ((chosen ?? i) === i) out.set(path, file);
    }
  });
  for (const [path, copies] of levels) {
    const merged =
      copies.length > 1
        ? rules.merge?.(
            path,
            copies.map((c) => ({ member: c.member, data: c.file.data })),
          )
        : undefined;
    if (merged === undefined) out.set(path, copies[0]!.file);
    else out.set(path, { mode: copies[0]!.file.mode, data: merged, blob: gitBlobId(merged) });
  }
  return out;
}

/** How a group's history differs from the plain union of its members'. */
export interface UnionOptions {
  /** Files of the group itself, in place of its members' copies (Cargo's config.json naming the group's URLs). */
  own?: Array<{ path: string; data: Uint8Array }>;
  /**
   * Keep the history in generations (view.ts: `group` names the family) and squash it into one root commit past this
   * many commits.
   */
  squashAfter?: number;
}

/**
 * Records the group's next commit when a member's tip (or one of the group's own files) moved since the last one (one
 * indexed lookup per member when nothing did). `members` are in union order, hosted first. Returns the history to serve.
 */
export async function syncUnionHistory(
  store: { db: Kysely<Database>; dialect: Dialect },
  group: GitHistoryRef,
  members: GitHistoryRef[],
  rules: UnionRules,
  opts: UnionOptions = {},
): Promise<GitHistoryRef> {
  const generations = opts.squashAfter !== undefined;
  const own = opts.own ?? [];
  const ownKey = own.length ? `;own=${own.map((f) => `${f.path}:${gitBlobId(f.data)}`).join(',')}` : '';
  const resolve = async (db: Kysely<Database>) => (generations ? (await currentGeneration(db, group)).ref : group);
  const seen = await Promise.all(members.map(async (ref) => ({ ref, tip: await historyTip(store.db, ref) })));
  const current = await resolve(store.db);
  const ownTip = await historyTip(store.db, current);
  if (recordedKey(ownTip.message) === membersKey(seen) + ownKey) return current;
  await inTransaction(store, async (uow) => {
    await lockHistory(uow.trx, store.dialect, group);
    const ref = await resolve(uow.trx);
    // The members' tips again, under the lock: another node may have recorded newer ones since they were read above,
    // and a union of the older tips after it would step the group's history back (and forth again on the next read).
    const tips = await Promise.all(members.map(async (m) => ({ ref: m, tip: await historyTip(store.db, m, { trx: uow.trx }) })));
    const key = membersKey(tips) + ownKey;
    const now = await historyTip(store.db, ref, { trx: uow.trx });
    if (recordedKey(now.message) === key) return;
    const united = uniteFiles(
      tips.map((t) => t.tip),
      rules,
    );
    for (const f of own) united.set(f.path, { mode: '100644', data: f.data, blob: gitBlobId(f.data) });
    const changes = diffFiles(now.files, united);
    // A member moved without changing what the union shows (a hidden package): still recorded, so the key advances.
    await recordGitCommit(uow.trx, ref, {
      message: `Update from ${members.length} member${members.length === 1 ? '' : 's'}\n\n${MARKER}${key}\n`,
      changes,
    });
    if (generations) await squashIfDue(uow, store, group, opts.squashAfter!);
  });
  return resolve(store.db);
}
