import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Per-process staging directories under a blob store's `tmp/`. Several processes share one data
 * directory (`serve --workers N`, the CLI beside the server), so each stages uploads in its own
 * `tmp/{host}.{pid}.{start}/`; a directory whose process is gone (kill -9, power cut) holds nothing
 * anyone will commit, and the next process to open the store removes it.
 */

const HOST = os.hostname().replace(/[^A-Za-z0-9-]/g, '_');
const OWNER_DIR = /^(.+)\.(\d+)\.(\d+)$/;

/** Loose files in `tmp/` itself (written before per-process directories) are removed past this age. */
export const LOOSE_TMP_AGE_MS = 60 * 60 * 1000;

/**
 * When a process started, in clock ticks since boot (Linux /proc), or 0 where unknown: with the
 * pid it names a process exactly, so a reused pid is never taken for the dead owner.
 */
function startTicks(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces and parentheses, so count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    if (process.platform === 'linux') return null;
    try {
      process.kill(pid, 0);
      return 0;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? 0 : null;
    }
  }
}

/** This process's staging directory name. */
export function ownStagingName(): string {
  return `${HOST}.${process.pid}.${startTicks(process.pid) ?? 0}`;
}

/** True when the staging directory `name` may belong to a running process (or another host's). */
export function stagingOwnerAlive(name: string): boolean {
  const m = OWNER_DIR.exec(name);
  if (!m) return true;
  if (m[1] !== HOST) return true;
  const ticks = startTicks(Number(m[2]));
  return ticks !== null && (ticks === 0 || Number(m[3]) === 0 || ticks === Number(m[3]));
}

const SCRATCH_DIR = /^larder-([a-z]+)-(.+\.\d+\.\d+)-[A-Za-z0-9]{6}$/;

/**
 * A fresh scratch directory under the OS temp dir (spooled trees, checked clones), named for this
 * process so that, should it be killed before removing it, the next process can tell it is dead.
 * `purpose` is lower-case letters only.
 */
export function processScratchDir(purpose: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `larder-${purpose}-${ownStagingName()}-`));
}

/** Removes the scratch directories (`processScratchDir`) of processes on this host that are gone; returns how many. */
export async function reapScratchDirs(tmp = os.tmpdir()): Promise<number> {
  const names = await fsp.readdir(tmp).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const m = SCRATCH_DIR.exec(name);
    if (!m || m[2] === ownStagingName() || stagingOwnerAlive(m[2])) continue;
    await fsp.rm(path.join(tmp, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

export interface StaleStaging {
  /** Directories of processes that are gone. */
  deadDirs: string[];
  /** Loose files directly in `tmp/` older than `looseAgeMs`. */
  looseFiles: string[];
  /** Files inside the dead directories (what a crash left). */
  files: number;
}

/** What in `tmpDir` no running process will commit: dead owners' directories and old loose files. */
export async function findStaleStaging(tmpDir: string, opts: { looseAgeMs?: number; now?: number } = {}): Promise<StaleStaging> {
  const looseAge = opts.looseAgeMs ?? LOOSE_TMP_AGE_MS;
  const now = opts.now ?? Date.now();
  const out: StaleStaging = { deadDirs: [], looseFiles: [], files: 0 };
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(tmpDir, { withFileTypes: true });
  } catch {
    return out;
  }
  const own = ownStagingName();
  for (const e of entries) {
    const p = path.join(tmpDir, e.name);
    if (e.isDirectory()) {
      if (e.name === own || stagingOwnerAlive(e.name)) continue;
      out.deadDirs.push(p);
      out.files += (await fsp.readdir(p).catch(() => [])).length;
    } else {
      const st = await fsp.stat(p).catch(() => null);
      if (st && now - st.mtimeMs >= looseAge) out.looseFiles.push(p);
    }
  }
  return out;
}

/** Removes what `findStaleStaging` found; returns the number of files removed. */
export async function removeStaleStaging(stale: StaleStaging): Promise<number> {
  for (const d of stale.deadDirs) await fsp.rm(d, { recursive: true, force: true });
  for (const f of stale.looseFiles) await fsp.rm(f, { force: true });
  return stale.files + stale.looseFiles.length;
}

/**
 * This process's staging directory under `tmpDir`, created on first use; opening it first removes
 * what dead processes left, so a restart after kill -9 starts clean.
 */
export class StagingDir {
  /** Open stores per directory: several registries in one process (tests, nodes) share one. */
  private static readonly users = new Map<string, number>();
  readonly path: string;
  private ready: Promise<void> | null = null;
  private closed = false;

  constructor(readonly tmpDir: string) {
    this.path = path.join(tmpDir, ownStagingName());
    StagingDir.users.set(this.path, (StagingDir.users.get(this.path) ?? 0) + 1);
  }

  /** Removes dead processes' staging now (called when a store opens). */
  async reap(): Promise<number> {
    return removeStaleStaging(await findStaleStaging(this.tmpDir));
  }

  /** The directory, created if needed. */
  async dir(): Promise<string> {
    this.ready ??= fsp.mkdir(this.path, { recursive: true }).then(() => undefined);
    try {
      await this.ready;
    } catch (err) {
      this.ready = null;
      throw err;
    }
    // Someone (gc on another host, an operator) may have removed it meanwhile.
    if (!fs.existsSync(this.path)) await fsp.mkdir(this.path, { recursive: true });
    return this.path;
  }

  /** Removes this process's directory at a clean shutdown (nothing is staged by then), once its last user closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const left = (StagingDir.users.get(this.path) ?? 1) - 1;
    if (left > 0) {
      StagingDir.users.set(this.path, left);
      return;
    }
    StagingDir.users.delete(this.path);
    // A store that is failing (a file where the directory was) must not fail the shutdown: the next process reaps it.
    await fsp.rm(this.path, { recursive: true, force: true }).catch(() => {});
  }
}
