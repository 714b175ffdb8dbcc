/**
 * The group source, shared by every format: one URL over member repos. A package is answered by one
 * member only — a hosted member that holds it, else the first other member that has it — so a name
 * published here is never taken from an upstream (dependency confusion). List documents merge.
 */
import { LRUCache } from 'lru-cache';
import { strongEtag } from '../core/hash.js';
import type { GitHistoryRef } from '../registry/git-history/record.js';
import { syncUnionHistory } from '../registry/git-history/union.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import {
  gitViewRules,
  HostedSource,
  type GitHistoryOptions,
  type Source,
  type SourceArtifact,
  type SourceDoc,
} from '../registry/source.js';
import { currentGeneration } from '../registry/git-history/view.js';
import { historyTip } from '../registry/git-history/state.js';
import type { SourceParts } from '../registry/source-parts.js';

/**
 * How long the member chosen for a package is kept before it is asked again. A write to a member's documents on any
 * node (a hosted publish, a proxy's refresh) drops the choice at once (IndexDocs.subscribe); the TTL is for what no
 * write here announces: a package appearing at a proxy member's upstream.
 */
const CHOICE_TTL_MS = 30_000;

/** A group repo of any format. */
export class GroupSource implements Source {
  private readonly hosted: HostedSource[];
  private readonly others: Source[];
  /** package → index of the member answering it in `members` (-1: none); made on first use (its 100,000 slots at once). */
  private choiceCache?: LRUCache<string, number>;
  private get choices(): LRUCache<string, number> {
    return (this.choiceCache ??= new LRUCache({ max: 100_000, ttl: CHOICE_TTL_MS }));
  }
  /** Choices being worked out, by package: an invalidation meanwhile removes the entry, and that choice is used once, not kept. */
  private readonly choosing = new Map<string, object>();
  private readonly merged = new LRUCache<string, { key: string; doc: SourceDoc }>({ max: 1_000 });
  private readonly warned = new Set<string>();
  readonly members: Source[];
  readonly fetchesArtifacts: boolean;
  readonly readsLocally: boolean;

  constructor(
    private readonly registry: Registry,
    readonly repo: Repo,
    members: Source[],
    private readonly parts: SourceParts,
  ) {
    // Hosted members first, each group in configured order.
    this.hosted = members.filter((m): m is HostedSource => m instanceof HostedSource);
    this.others = members.filter((m) => !(m instanceof HostedSource));
    this.members = [...this.hosted, ...this.others];
    this.fetchesArtifacts = members.some((m) => m.fetchesArtifacts === true);
    this.readsLocally = members.every((m) => m.readsLocally === true);
    const memberIds = new Set(memberRepos(members).map((r) => r.id));
    registry.docs.subscribe({
      changed: (repoId, path) => {
        if (!memberIds.has(repoId)) return;
        const pkg = parts.packageOfDoc(path);
        if (pkg === null) return;
        this.choices.delete(pkg);
        this.choosing.delete(pkg);
      },
      reset: () => {
        this.choices.clear();
        this.choosing.clear();
      },
    });
  }

  peek(path: string): SourceDoc | null | undefined {
    const pkg = this.parts.packageOfDoc(path);
    if (pkg === null) return undefined;
    const chosen = this.choices.get(pkg);
    if (chosen === undefined) return undefined;
    return chosen < 0 ? null : this.members[chosen]!.peek(path);
  }

  async doc(path: string): Promise<SourceDoc | null> {
    const pkg = this.parts.packageOfDoc(path);
    if (pkg === null) return this.repoLevelDoc(path);
    const member = await this.memberFor(pkg, (m) => m.doc(path).then((d) => d !== null));
    return member ? member.doc(path) : null;
  }

  async artifact(key: string): Promise<SourceArtifact | null> {
    const pkg = this.parts.packageOfArtifact(key);
    if (pkg !== null) {
      const member = await this.memberFor(pkg, (m) => m.artifact(key).then((a) => a !== null));
      return member ? member.artifact(key) : null;
    }
    // Content-addressed keys name no package: the first member that has the bytes.
    for (const m of this.members) {
      const found = await m.artifact(key);
      if (found) return found;
    }
    return null;
  }

  /**
   * The one member that answers for a package: a hosted member holding it (then no other member is
   * asked), else the first other member that has it, probed with the package's own document when the
   * format has one (so all of a package's files come from the same member), else with `has`.
   */
  private async memberFor(pkg: string, has: (m: Source) => Promise<boolean>): Promise<Source | null> {
    const cached = this.choices.get(pkg);
    if (cached !== undefined) return cached < 0 ? null : this.members[cached]!;
    const token = {};
    this.choosing.set(pkg, token);
    let chosen = -1;
    try {
      for (let i = 0; i < this.hosted.length && chosen < 0; i++) if (await this.hosted[i]!.hasPackage(pkg)) chosen = i;
      if (chosen >= 0) {
        if (this.others.length > 0) this.noteConfusion(pkg);
      } else {
        const probe = this.parts.packageDoc?.(pkg) ?? null;
        for (let j = 0; j < this.others.length && chosen < 0; j++) {
          const m = this.others[j]!;
          if (probe !== null ? (await m.doc(probe)) !== null : await has(m)) chosen = this.hosted.length + j;
        }
      }
      // A member's write announced while the members were asked (the hosted one published it) may be missing from
      // this answer: it is used for this request and not kept.
      if (this.choosing.get(pkg) === token) this.choices.set(pkg, chosen);
    } finally {
      if (this.choosing.get(pkg) === token) this.choosing.delete(pkg);
    }
    return chosen < 0 ? null : this.members[chosen]!;
  }

  async gitHistory(name: string, opts: GitHistoryOptions = {}): Promise<{ ref: GitHistoryRef; stale: boolean }> {
    const members = await Promise.all(this.members.map((m) => m.gitHistory(name, opts)));
    const family = { repoId: this.repo.id, history: name };
    const merge = this.parts.group?.mergeDoc;
    const view = this.parts.gitView?.history === name ? this.parts.gitView : undefined;
    let own: Array<{ path: string; data: Uint8Array }> | undefined;
    let squashAfter: number | undefined;
    if (view) {
      // The group's own root files (config.json names the group); without public_url the first recorded ones stay.
      const { rules, base } = gitViewRules(this.registry, this.repo, view, opts);
      squashAfter = rules.squashAfter;
      const tip = rules.fixedBase ? null : await historyTip(this.registry.db, (await currentGeneration(this.registry.db, family)).ref);
      own = rules.rootFiles((tip && rules.recordedBase(tip.files)) ?? base);
    }
    const ref = await syncUnionHistory(
      this.registry,
      family,
      members.map((m) => m.ref),
      {
        packageOf: (p) => this.parts.packageOfDoc(p),
        ...(merge
          ? {
              merge: (p, copies) =>
                merge(
                  p,
                  copies.map((c) => {
                    const body = Buffer.from(c.data);
                    return {
                      repo: this.members[c.member]!.repo,
                      doc: { body, etag: strongEtag(body), updatedAt: 0, lastModified: '', stale: false },
                    };
                  }),
                ),
            }
          : {}),
      },
      view ? { own, squashAfter } : {},
    );
    return { ref, stale: members.some((m) => m.stale) };
  }

  /** A hosted package that an upstream member also has is the dependency-confusion case: refused, logged, counted. */
  private noteConfusion(pkg: string): void {
    if (this.warned.has(pkg)) return;
    this.warned.add(pkg);
    const probe = this.parts.packageDoc?.(pkg) ?? null;
    if (probe === null) return;
    void (async () => {
      for (const m of this.others) {
        const shadowed = await m.doc(probe).catch(() => null);
        if (!shadowed) continue;
        this.registry.metrics.confusionRefused.inc({ repo: this.repo.name });
        this.registry.log.warn(
          { repo: this.repo.name, package: pkg, shadowed: m.repo.name },
          `group ${this.repo.name}: ${pkg} is hosted in this group, so ${m.repo.name}'s package of that name is never served (dependency confusion refused)`,
        );
        return;
      }
    })();
  }

  /** A document that belongs to no package: merged when the format merges it, else the first member's. */
  private async repoLevelDoc(path: string): Promise<SourceDoc | null> {
    const found: Array<{ repo: Repo; doc: SourceDoc }> = [];
    for (const m of this.members) {
      const doc = await m.doc(path);
      if (doc) found.push({ repo: m.repo, doc });
      if (doc && !this.parts.group?.mergeDoc) return doc;
    }
    if (found.length === 0) return null;
    const key = found.map((f) => f.doc.etag).join(',');
    const cached = this.merged.get(path);
    if (cached?.key === key) return { ...cached.doc, stale: found.some((f) => f.doc.stale) };
    const body = this.parts.group?.mergeDoc?.(path, found);
    if (body === undefined) return found[0]!.doc;
    const updatedAt = Math.max(...found.map((f) => f.doc.updatedAt));
    const doc: SourceDoc = {
      body,
      etag: strongEtag(body),
      updatedAt,
      lastModified: new Date(updatedAt).toUTCString(),
      stale: found.some((f) => f.doc.stale),
    };
    this.merged.set(path, { key, doc });
    return doc;
  }
}

/** The repos whose documents a group's answers come from: its members, and the members of member groups. */
function memberRepos(members: readonly Source[]): Repo[] {
  return members.flatMap((m) => [m.repo, ...memberRepos(m.members ?? [])]);
}
