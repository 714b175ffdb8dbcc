/**
 * The mirror engine (`larder mirror`), shared by every format: fills a proxy repo ahead of need by
 * asking the format's `ProxyParts.mirrorPackage` for each package (which fetches its documents
 * through the proxy) and then fetching the artifacts it names through the proxy, so everything goes
 * through the same verification and storage as a client's request. What is stored is not fetched again.
 */
import { fail } from '../core/errors.js';
import type { ProxyContext, ProxyParts } from '../registry/source-parts.js';

/** What `larder mirror` was asked for. */
export interface MirrorOptions {
  /** Package names and globs (`serde*`, `rules_?`, `moonbitlang/*`, `[a-c]*`); `/` is an ordinary character. */
  patterns: string[];
  /** Only what the patterns name, not their dependencies. */
  strict?: boolean;
  /** Everything the upstream lists (no patterns). */
  full?: boolean;
  /** Stop at the first error. */
  failFast?: boolean;
  /** Packages and artifacts worked on at once (default 8). */
  concurrency?: number;
  /** Called whenever a count changes (often: throttle drawing). */
  onProgress?: (progress: MirrorProgress) => void;
}

/** Counts so far, for a progress bar. */
export interface MirrorProgress {
  packagesDone: number;
  /** Packages known so far (grows as globs match and dependencies are found). */
  packagesQueued: number;
  artifactsDone: number;
  artifactsQueued: number;
  /** Artifacts that were downloaded in this run (the others were already stored). */
  artifactsFetched: number;
  /** Bytes of the artifacts downloaded in this run. */
  bytesFetched: number;
  errors: number;
}

/** One failure, with what it concerns: `package serde`, `artifact serde/1.0.0`, `package listing`. */
export interface MirrorError {
  subject: string;
  message: string;
}

/** The outcome of a run. */
export interface MirrorReport extends MirrorProgress {
  /** Packages whose documents are now held, and artifacts now stored (fetched in this run or before). */
  packagesMirrored: number;
  artifactsHeld: number;
  /** Every failure, in the order they happened. */
  failures: MirrorError[];
  /** True when `--fail-fast` stopped the run at an error (what was still queued was not mirrored). */
  stopped: boolean;
  elapsedMs: number;
}

/** What the engine works on: a proxy source's context and its format's proxy parts. */
export interface MirrorTarget {
  context: ProxyContext;
  proxy: ProxyParts;
}

/** Default number of packages and artifacts in flight at once. */
export const DEFAULT_MIRROR_CONCURRENCY = 8;

/** True when a pattern is a glob rather than one package name. */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** A glob as a RegExp: `*` any run of characters (including `/`), `?` one, `[abc]`/`[a-z]`/`[!a]` a class. */
export function compileGlob(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

/** Refuses, before anything is fetched, what the format cannot do (globs or `--full` without a listing). */
export function checkMirrorRequest(proxy: ProxyParts, opts: Pick<MirrorOptions, 'patterns' | 'full'>, format: string): void {
  const globs = opts.patterns.filter(isGlob);
  if (opts.full && opts.patterns.length > 0) fail('CONFIG_INVALID', '--full mirrors every package: give no patterns with it');
  if (!opts.full && opts.patterns.length === 0)
    fail('CONFIG_INVALID', 'name the packages to mirror (names or globs such as "serde*"), or --full');
  if (!proxy.listPackages && (opts.full || globs.length > 0)) {
    const what = opts.full ? '--full' : `the glob ${globs.map((g) => `"${g}"`).join(', ')}`;
    fail('NOT_SUPPORTED', `${format} upstreams cannot list their packages, so ${what} cannot be mirrored; name the packages exactly`);
  }
}

type Task = { kind: 'package'; name: string; neededBy?: string } | { kind: 'artifact'; key: string; pkg: string };

/**
 * Mirrors what the patterns select (and their dependencies unless `strict`) into the proxy behind
 * `target`. Never throws for one package's failure: failures are listed in the report.
 */
export async function mirror(target: MirrorTarget, opts: MirrorOptions): Promise<MirrorReport> {
  const { context: ctx, proxy } = target;
  checkMirrorRequest(proxy, opts, ctx.repo.format);
  const started = Date.now();
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_MIRROR_CONCURRENCY));
  const globs = opts.patterns.filter(isGlob).map(compileGlob);
  const exact = opts.patterns.filter((p) => !isGlob(p));
  const p: MirrorProgress = {
    packagesDone: 0,
    packagesQueued: 0,
    artifactsDone: 0,
    artifactsQueued: 0,
    artifactsFetched: 0,
    bytesFetched: 0,
    errors: 0,
  };
  const failures: MirrorError[] = [];
  let packagesMirrored = 0;
  let artifactsHeld = 0;
  const report = () => opts.onProgress?.({ ...p });

  // Names already queued, so each package is mirrored once. `--full` needs none: the listing names each package once
  // and dependencies are not followed (they are in the listing), so memory stays bounded by the queues below.
  const seen = opts.full ? null : new Set<string>();
  const packages: Task[] = [];
  const artifacts: Task[] = [];
  const enqueuePackage = (name: string, neededBy?: string) => {
    if (seen) {
      if (seen.has(name)) return;
      seen.add(name);
    }
    packages.push({ kind: 'package', name, ...(neededBy ? { neededBy } : {}) });
    p.packagesQueued++;
  };
  for (const name of exact) enqueuePackage(name);

  const listing = opts.full || globs.length > 0 ? proxy.listPackages!(ctx)[Symbol.asyncIterator]() : null;
  let listingOpen = listing !== null;
  let listingBusy = false;
  let running = 0;
  let stopped = false;

  const failed = (subject: string, err: unknown) => {
    failures.push({ subject, message: err instanceof Error ? err.message : String(err) });
    p.errors++;
    if (opts.failFast) stopped = true;
  };

  // Workers sleep here when there is nothing to take but work is still running (it may queue more).
  let sleepers: Array<() => void> = [];
  const wake = () => {
    const s = sleepers;
    sleepers = [];
    for (const w of s) w();
  };

  /** The next name from the listing that a pattern selects, or null at its end. */
  const nextListed = async (): Promise<string | null> => {
    for (;;) {
      const r = await listing!.next();
      if (r.done) return null;
      if (opts.full || globs.some((g) => g.test(r.value))) return r.value;
    }
  };

  /** Artifacts first, then packages, then the listing: the queues stay short whatever the upstream's size. */
  const take = async (): Promise<Task | null> => {
    for (;;) {
      if (stopped) return null;
      const task = artifacts.shift() ?? packages.shift();
      if (task) return task;
      if (listingOpen && !listingBusy) {
        listingBusy = true;
        try {
          const name = await nextListed();
          if (name === null) listingOpen = false;
          else enqueuePackage(name);
        } catch (err) {
          listingOpen = false;
          failed('package listing', err);
        } finally {
          listingBusy = false;
          report();
          wake();
        }
        continue;
      }
      if (running === 0 && !listingBusy && !listingOpen) return null;
      await new Promise<void>((resolve) => sleepers.push(resolve));
    }
  };

  const runPackage = async (task: Extract<Task, { kind: 'package' }>) => {
    const plan = await proxy.mirrorPackage(ctx, task.name);
    if (!plan) {
      const why = task.neededBy ? ` (a dependency of ${task.neededBy})` : '';
      throw new Error(`not found at the upstream${why}`);
    }
    for (const key of plan.artifacts) {
      artifacts.push({ kind: 'artifact', key, pkg: task.name });
      p.artifactsQueued++;
    }
    if (!opts.strict && !opts.full) for (const dep of plan.dependencies) enqueuePackage(dep, task.name);
  };

  const runArtifact = async (task: Extract<Task, { kind: 'artifact' }>) => {
    const held = await ctx.registry.db
      .selectFrom('proxy_artifacts')
      .select('sha256')
      .where('repo_id', '=', ctx.repo.id)
      .where('key', '=', task.key)
      .executeTakeFirst();
    const got = await ctx.artifact(task.key);
    if (!got) throw new Error(`not found at the upstream (named by ${task.pkg})`);
    if (!held) {
      p.artifactsFetched++;
      p.bytesFetched += got.size;
    }
  };

  const worker = async () => {
    for (;;) {
      const task = await take();
      if (!task) break;
      running++;
      try {
        if (task.kind === 'package') {
          await runPackage(task);
          packagesMirrored++;
        } else {
          await runArtifact(task);
          artifactsHeld++;
        }
      } catch (err) {
        failed(task.kind === 'package' ? `package ${task.name}` : `artifact ${task.key}`, err);
      } finally {
        if (task.kind === 'package') p.packagesDone++;
        else p.artifactsDone++;
        running--;
        report();
        wake();
      }
    }
    wake();
  };

  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await listing?.return?.()?.catch(() => {});
  }
  return { ...p, packagesMirrored, artifactsHeld, failures, stopped, elapsedMs: Date.now() - started };
}
