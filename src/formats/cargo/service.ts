import { PassThrough, type Readable } from 'node:stream';
import semver from 'semver';
import type { Kysely } from 'kysely';
import { unpackedLimit } from '../../core/config.js';
import { fail, LarderError } from '../../core/errors.js';
import { audit } from '../../registry/audit.js';
import { requirePermission, type Principal } from '../../registry/auth.js';
import { authorizeWrite, changeOwners, checkWriter, listOwners, validateLogins, type PackageRef } from '../../registry/owners.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction, type UnitOfWork } from '../../registry/tx.js';
import type { Database } from '../../storage/schema.js';
import type { StagedBlob } from '../../storage/blobs.js';
import { inspectCrateArchive } from './crate-archive.js';
import { indexLineFromNewCrate, serializeIndexLine, validateIndexLine, withYanked } from './index-line.js';
import { indexPath, normCrateName } from './names.js';
import { parseNewCrate, storedMetadata, type NewCrate } from './new-crate.js';
import type { PublishFrame } from './publish-frame.js';
import type { CargoCrateRow, CargoTables, CargoVersionRow } from './schema.js';
import { replayDifference } from './replay.js';
import { streamSha256, writeOrReplay } from '../../registry/replay.js';
import { defaultVersion, versionKey } from './semver.js';
import { storeBlob } from '../../registry/blob-records.js';
import { dependencyNames, keywordsOf } from './search-fields.js';
import { readIndexLine } from './index-file.js';
import { putReadme } from '../../registry/readmes.js';
import { removeSearchEntry, searchPackages, upsertSearchEntry } from '../../registry/search/index.js';
import {
  crateByName,
  crateByNameForUpdate,
  insertCrate,
  insertVersion,
  updateCrate,
  updateCrateDescribed,
  versionByKey,
  versionLines,
} from './statements.js';

type CargoDb = Kysely<Database & CargoTables>;

export interface PublishResult {
  name: string;
  vers: string;
  warnings: string[];
}

export interface OwnerEntry {
  id: number;
  login: string;
  name: string | null;
}

export interface SearchHit {
  name: string;
  max_version: string;
  description: string | null;
}

export interface CrateFile {
  cksum: string;
  size: number;
}

/** The hosted Cargo registry of one repo: publish, yank, owners, search, and the index it keeps. */
export class CargoService {
  private readonly db: CargoDb;

  constructor(
    private readonly registry: Registry,
    readonly repo: Repo,
  ) {
    this.db = registry.db.withTables<CargoTables>();
  }

  private async findCrate(name: string): Promise<CargoCrateRow | undefined> {
    return crateByName.first(this.db, { repoId: this.repo.id, normName: normCrateName(name) });
  }

  /** How ownership names a crate: its normalised name, with Cargo's wording and hint. */
  crateRef(crate: Pick<CargoCrateRow, 'name'>): PackageRef {
    return {
      repo: this.repo,
      id: normCrateName(crate.name),
      display: crate.name,
      label: `crate \`${crate.name}\``,
      addHint: (login) => `ask an owner to run \`cargo owner --add ${login} ${crate.name}\``,
    };
  }

  /** The ownership ref of a crate named in any spelling, or null when there is no such crate. */
  async findCrateRef(name: string): Promise<PackageRef | null> {
    const crate = await this.findCrate(name);
    return crate ? this.crateRef(crate) : null;
  }

  /** Throws unless the principal may change this crate: an owner, or an admin. */
  private async requireOwner(p: Principal, crate: CargoCrateRow): Promise<void> {
    await checkWriter(this.registry.db, p, this.crateRef(crate), true);
  }

  /**
   * Checks that would reject the publish, done before the archive is read so bad requests cost nothing. Returns the
   * stored version when this one exists already: the publish is then a replay or a conflict, which `publish` tells apart.
   */
  private async precheck(p: Principal, meta: NewCrate, ownIndexUrls: string[]): Promise<CargoVersionRow | undefined> {
    const existing = await this.findCrate(meta.name);
    if (existing) {
      if (existing.name !== meta.name) {
        fail(
          'NAME_COLLISION',
          `crate \`${meta.name}\` collides with the existing crate \`${existing.name}\` (names differing only in case or '-' versus '_' are the same crate); publish under the name \`${existing.name}\``,
        );
      }
      await this.requireOwner(p, existing);
      const stored = await this.storedVersion(existing.id, meta.vers);
      if (stored) return stored;
    }
    for (const dep of meta.deps) {
      if (dep.registry && !ownIndexUrls.includes(dep.registry)) continue;
      if (!(await this.findCrate(dep.name))) {
        fail(
          'DEPENDENCY_INVALID',
          `dependency \`${dep.name}\` is not in this registry; publish it here first, or depend on it from the registry that has it`,
        );
      }
    }
    return undefined;
  }

  /** The version of a crate that `vers` would be (build metadata ignored), read afresh; undefined when there is none. */
  private async storedVersion(crateId: number, vers: string): Promise<CargoVersionRow | undefined> {
    return versionByKey.first(this.db, { crateId, versKey: versionKey(vers) });
  }

  /**
   * A publish of a version that exists: success when it would store exactly what is stored (a load balancer's retry of a
   * publish whose answer was lost), else the refusal it always was. Metadata is compared first, so a conflicting publish
   * is still refused before its .crate is read; an identical one has its .crate hashed, and nothing is written.
   */
  private async replay(frame: PublishFrame, meta: NewCrate, stored: CargoVersionRow, ownIndexUrls: string[]): Promise<PublishResult> {
    const exists = () =>
      fail(
        'VERSION_EXISTS',
        `crate \`${meta.name}\` version ${stored.vers} is already published${stored.vers !== meta.vers ? ` (build metadata does not make ${meta.vers} a new version)` : ''}; bump the version in Cargo.toml`,
      );
    if (replayDifference(stored, meta, ownIndexUrls) !== null) exists();
    const [cksum] = await Promise.all([streamSha256(frame.crate), frame.done]);
    if (replayDifference(stored, meta, ownIndexUrls, cksum) !== null) exists();
    return this.replayed(meta);
  }

  /** The race a replay may lose (the first attempt committed while this one was under way): decided on a fresh read. */
  private async replayAfterRace(meta: NewCrate, cksum: string, ownIndexUrls: string[]): Promise<PublishResult> {
    const crate = await this.findCrate(meta.name);
    const stored = crate && crate.name === meta.name ? await this.storedVersion(crate.id, meta.vers) : undefined;
    if (!stored || replayDifference(stored, meta, ownIndexUrls, cksum) !== null) {
      fail(
        'VERSION_EXISTS',
        `crate \`${meta.name}\` version ${meta.vers} was published at the same moment by another request; bump the version in Cargo.toml`,
      );
    }
    return this.replayed(meta);
  }

  private replayed(meta: NewCrate): PublishResult {
    this.registry.log.info(
      { repo: this.repo.name, crate: meta.name, vers: meta.vers },
      'publish repeated with identical content (a retry): answered as the success it was, nothing written',
    );
    return { name: meta.name, vers: meta.vers, warnings: [] };
  }

  /** Validates and stores a publish; the index file is updated before this resolves. */
  async publish(p: Principal, frame: PublishFrame, ownIndexUrls: string[]): Promise<PublishResult> {
    let staged: StagedBlob | undefined;
    try {
      const meta = parseNewCrate(frame.metadataJson);
      requirePermission(p, 'publish', this.repo.name, meta.name);
      const stored = await this.precheck(p, meta, ownIndexUrls);
      if (stored) return await this.replay(frame, meta, stored, ownIndexUrls);
      const blob = (staged = await this.receiveCrate(frame, meta));
      const line = indexLineFromNewCrate(meta, blob.sha256, Date.now(), ownIndexUrls);
      validateIndexLine(line);
      return await writeOrReplay(
        () => this.commitPublish(p, meta, serializeIndexLine(line), blob),
        async () => {
          await blob.discard();
          return this.replayAfterRace(meta, blob.sha256, ownIndexUrls);
        },
      );
    } catch (err) {
      frame.crate.destroy();
      await staged?.discard();
      const code = err instanceof LarderError ? err.code : 'INTERNAL';
      this.registry.metrics.publishFailures.inc({ repo: this.repo.name, format: 'cargo', code });
      throw err;
    }
  }

  /**
   * Streams the .crate once, into the blob store and through the archive checks at the same time; a small one is
   * received whole first (`SMALL_CRATE`), then hashed, written and checked from memory: the same checks and outcome.
   */
  private async receiveCrate(frame: PublishFrame, meta: NewCrate): Promise<StagedBlob> {
    const { limits } = this.registry.config;
    const archiveLimits = { maxUnpackedSize: unpackedLimit(this.registry.config, 'crate'), maxEntries: limits.maxArchiveEntries };
    if (frame.crateLength <= SMALL_CRATE) {
      const bytes = await receiveWhole(frame.crate);
      const [inspected, staged] = await Promise.allSettled([
        inspectCrateArchive(bytes, meta, archiveLimits),
        this.registry.blobs.stage(bytes, { maxSize: limits.maxCrateSize }),
      ]);
      const failure = [inspected, staged, await settle(frame.done)].find((r) => r.status === 'rejected') as
        PromiseRejectedResult | undefined;
      if (failure) {
        if (staged.status === 'fulfilled') await staged.value.discard();
        throw failure.reason;
      }
      return (staged as PromiseFulfilledResult<StagedBlob>).value;
    }
    const toStore = new PassThrough();
    const toInspect = new PassThrough();
    // `pipe` does not forward errors: a body cut off mid-crate must fail both readers.
    frame.crate.on('error', (err) => {
      toStore.destroy(err);
      toInspect.destroy(err);
    });
    frame.crate.pipe(toStore);
    frame.crate.pipe(toInspect);
    const stage = this.registry.blobs.stage(toStore, { maxSize: limits.maxCrateSize });
    const inspect = inspectCrateArchive(toInspect, meta, archiveLimits);
    const [staged, inspected] = await Promise.allSettled([stage, inspect]);
    const failure = [inspected, staged, await settle(frame.done)].find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failure) {
      if (staged.status === 'fulfilled') await staged.value.discard();
      throw failure.reason;
    }
    return (staged as PromiseFulfilledResult<StagedBlob>).value;
  }

  /** Stores a new version in one transaction; a unique violation means another request stored this version first. */
  private async commitPublish(p: Principal, meta: NewCrate, line: string, blob: StagedBlob): Promise<PublishResult> {
    const now = Date.now();
    // The unit waits on nothing but the database: concurrent publishes may share its COMMIT (SQLite group commit).
    await inTransaction(
      this.registry,
      async (uow) => {
        const { crate, created } = await this.lockOrCreateCrate(uow, meta, now);
        if (!created && crate.name !== meta.name) {
          fail(
            'NAME_COLLISION',
            `crate \`${meta.name}\` collides with the existing crate \`${crate.name}\`; publish under the name \`${crate.name}\``,
          );
        }
        await authorizeWrite(uow.trx, this.registry.dialect, p, this.crateRef(crate), !created);
        const metadata = storedMetadata(meta);
        await insertVersion.all(uow.trx, {
          crateId: crate.id,
          vers: meta.vers,
          versKey: versionKey(meta.vers),
          line,
          cksum: blob.sha256,
          size: blob.size,
          pubtime: now,
          publishedBy: p.userId,
          metadata,
        });
        await storeBlob(uow, blob);
        // The README as `cargo publish` read it (readme_file names where it came from); the page renders it.
        if (meta.readme?.trim()) {
          await putReadme(uow.trx, { repoId: this.repo.id, package: normCrateName(crate.name), version: meta.vers, markdown: meta.readme });
        }
        // The search entry's description and keywords are this publish's: no need to read back what was just written.
        await this.rewriteIndexFile(uow, crate, { description: meta.description, newestMetadata: metadata });
        await audit(uow.trx, {
          userId: p.userId,
          repoId: this.repo.id,
          action: 'cargo.publish',
          subject: `${meta.name}@${meta.vers}`,
          detail: { cksum: blob.sha256, size: blob.size },
        });
      },
      { group: true },
    );
    this.registry.metrics.publishes.inc({ repo: this.repo.name, format: 'cargo' });
    return { name: meta.name, vers: meta.vers, warnings: [] };
  }

  /**
   * Fetches the crate row, creating it for a first publish, and on PostgreSQL locks it: concurrent
   * publishes of one crate then rewrite its index file one after another and never lose a line.
   * SQLite serialises writers anyway.
   */
  private async lockOrCreateCrate(uow: UnitOfWork, meta: NewCrate, now: number): Promise<{ crate: CargoCrateRow; created: boolean }> {
    const key = { repoId: this.repo.id, normName: normCrateName(meta.name) };
    const select = this.registry.dialect === 'postgres' ? crateByNameForUpdate : crateByName;
    const found = await select.first(uow.trx, key);
    if (found) return { crate: found, created: false };
    // Two first publishes of one new crate race here: the loser's insert waits for the winner and does nothing.
    const inserted = await insertCrate.first(uow.trx, { ...key, name: meta.name, description: meta.description, now });
    if (inserted) return { crate: inserted, created: true };
    const winner = await select.first(uow.trx, key);
    if (!winner) throw new Error(`crate ${meta.name}: neither inserted nor found`);
    return { crate: winner, created: false };
  }

  /**
   * Recomputes a crate's index file and search fields from its versions, inside the transaction. `published` is set by a
   * publish: the description it stores and the metadata of the version it added (the newest).
   */
  private async rewriteIndexFile(
    uow: UnitOfWork,
    crate: CargoCrateRow,
    published?: { description: string | null; newestMetadata: string },
  ): Promise<void> {
    const description = published?.description;
    const versions = await versionLines.all(uow.trx, { crateId: crate.id });
    const body = Buffer.from(versions.map((v) => v.line + '\n').join(''), 'utf8');
    await this.registry.docs.put(uow, this.repo.id, indexPath(crate.name), body);
    const live = versions.filter((v) => !v.yanked).map((v) => v.vers);
    const max = live.length ? live.reduce((a, b) => (semver.gt(b, a) ? b : a)) : null;
    const updatedAt = Date.now();
    if (description !== undefined) await updateCrateDescribed.all(uow.trx, { id: crate.id, maxVersion: max, updatedAt, description });
    else await updateCrate.all(uow.trx, { id: crate.id, maxVersion: max, updatedAt });
    await this.updateSearchEntry(uow, crate, versions, updatedAt, published);
  }

  /**
   * Keeps the crate's search entry current (registry/search): the version a new dependant gets, what it depends
   * on, the newest publish's keywords; gone while every version is yanked.
   */
  private async updateSearchEntry(
    uow: UnitOfWork,
    crate: CargoCrateRow,
    versions: ReadonlyArray<{ vers: string; line: string; yanked: number }>,
    now: number,
    published?: { description: string | null; newestMetadata: string },
  ): Promise<void> {
    const ref = { repoId: this.repo.id, package: normCrateName(crate.name) };
    const latest = defaultVersion(versions.map((v) => ({ vers: v.vers, yanked: Boolean(v.yanked) })));
    if (latest === null) return removeSearchEntry(uow.trx, this.registry.dialect, ref);
    const line = readIndexLine(versions.find((v) => v.vers === latest)?.line ?? '');
    const { description, newestMetadata } = published ?? (await this.searchFields(uow, crate));
    await upsertSearchEntry(uow.trx, this.registry.dialect, {
      ...ref,
      format: 'cargo',
      name: crate.name,
      description,
      keywords: keywordsOf(newestMetadata),
      latestVersion: latest,
      updatedAt: now,
      dependencies: dependencyNames(line?.deps ?? []),
    });
  }

  /** The stored description of a crate and the publish metadata of its newest version (for a yank's search entry). */
  private async searchFields(uow: UnitOfWork, crate: CargoCrateRow): Promise<{ description: string | null; newestMetadata?: string }> {
    const trx = uow.trx.withTables<CargoTables>();
    const { description } = await trx.selectFrom('cargo_crates').select('description').where('id', '=', crate.id).executeTakeFirstOrThrow();
    const newest = await trx
      .selectFrom('cargo_versions')
      .select('metadata')
      .where('crate_id', '=', crate.id)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return { description, newestMetadata: newest?.metadata };
  }

  /** Sets or clears the yanked flag of one version; idempotent. */
  async setYanked(p: Principal, name: string, vers: string, yanked: boolean): Promise<void> {
    requirePermission(p, 'yank', this.repo.name, name);
    const crate = await this.findCrate(name);
    if (!crate) fail('PACKAGE_NOT_FOUND', `crate \`${name}\` does not exist in this registry`);
    await this.requireOwner(p, crate);
    await inTransaction(this.registry, async (uow) => {
      const trx = uow.trx.withTables<CargoTables>();
      // The lock publish takes first: otherwise a yank and a publish of one crate deadlock (40P01) or drop a line.
      if (this.registry.dialect === 'postgres')
        await trx.selectFrom('cargo_crates').select('id').where('id', '=', crate.id).forUpdate().execute();
      const version = await trx
        .selectFrom('cargo_versions')
        .select(['id', 'line', 'yanked'])
        .where('crate_id', '=', crate.id)
        .where('vers', '=', vers)
        .executeTakeFirst();
      if (!version) fail('VERSION_NOT_FOUND', `crate \`${crate.name}\` has no version ${vers}`);
      if (Boolean(version.yanked) === yanked) return;
      await trx
        .updateTable('cargo_versions')
        .set({ yanked: yanked ? 1 : 0, line: withYanked(version.line, yanked) })
        .where('id', '=', version.id)
        .execute();
      await this.rewriteIndexFile(uow, crate);
      await audit(uow.trx, {
        userId: p.userId,
        repoId: this.repo.id,
        action: yanked ? 'cargo.yank' : 'cargo.unyank',
        subject: `${crate.name}@${vers}`,
      });
    });
  }

  async listOwners(name: string): Promise<OwnerEntry[]> {
    const crate = await this.findCrate(name);
    if (!crate) fail('PACKAGE_NOT_FOUND', `crate \`${name}\` does not exist in this registry`);
    return listOwners(this.registry.db, this.crateRef(crate));
  }

  /** Adds or removes owners by login; returns the message Cargo prints. */
  async changeOwners(p: Principal, name: string, logins: unknown, add: boolean): Promise<string> {
    requirePermission(p, 'owners', this.repo.name, name);
    validateLogins(logins);
    const crate = await this.findCrate(name);
    if (!crate) fail('PACKAGE_NOT_FOUND', `crate \`${name}\` does not exist in this registry`);
    await changeOwners(this.registry, p, this.crateRef(crate), logins, add);
    const list = logins.join(', ');
    return add ? `user(s) ${list} added as owner(s) of crate ${crate.name}` : `user(s) ${list} removed as owner(s) of crate ${crate.name}`;
  }

  /**
   * Crates matching the query, ranked by the shared search service (registry/search): the exact name first, then
   * names starting with it, then words of names, keywords and descriptions. Yanked-only crates have no entry.
   */
  async search(query: string, perPage: number): Promise<{ crates: SearchHit[]; total: number }> {
    const { hits, total } = await searchPackages(this.registry.db, this.registry.dialect, {
      query,
      repoIds: [this.repo.id],
      formats: ['cargo'],
      limit: perPage,
    });
    return { crates: hits.map((h) => ({ name: h.name, max_version: h.latestVersion ?? '', description: h.description })), total };
  }

  /** The stored .crate of a version (the name as Cargo sends it, any case), or null. */
  async crateFile(name: string, vers: string): Promise<CrateFile | null> {
    const row = await this.db
      .selectFrom('cargo_versions')
      .innerJoin('cargo_crates', 'cargo_crates.id', 'cargo_versions.crate_id')
      .select(['cargo_versions.cksum', 'cargo_versions.size'])
      .where('cargo_crates.repo_id', '=', this.repo.id)
      .where('cargo_crates.norm_name', '=', normCrateName(name))
      .where('cargo_versions.vers', '=', vers)
      .executeTakeFirst();
    return row ?? null;
  }
}

/** A .crate up to this size is received whole before it is checked and stored (most crates are far smaller). */
const SMALL_CRATE = 256 * 1024;

/** The bytes of a crate stream, or the stream's error (a body cut off mid-crate). */
async function receiveWhole(crate: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of crate) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

async function settle(p: Promise<void>): Promise<PromiseSettledResult<void>> {
  return Promise.allSettled([p]).then((r) => r[0]);
}
