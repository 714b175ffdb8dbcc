import type { Generated } from 'kysely';
import type { Millis } from '../../storage/schema.js';

/** A registry held by a hosted Julia repo; its files live in index_docs under `registry/{uuid}/`. */
export interface JuliaRegistriesTable {
  id: Generated<number>;
  repo_id: number;
  uuid: string;
  name: string;
  tree_hash: string;
  updated_at: Millis;
  /** JSON list of registry UUIDs (in the same repo) whose packages may be dependencies: set at creation (`depends_on`). Not Pkg's per-package `trusted_registries`, which lives in Package.toml. */
  depends_on: string;
}

/** A served tarball (registry, package or artifact), by its git tree hash; the bytes are a blob. */
export interface JuliaTarballsTable {
  repo_id: number;
  kind: 'registry' | 'package' | 'artifact';
  /** The registry's or package's UUID; empty for artifacts. */
  uuid: string;
  tree_hash: string;
  sha256: string;
  size: number;
  created_at: Millis;
}

/**
 * Why a version was yanked, when the yank said (Versions.toml has only `yanked = true`, so the reason lives in
 * Larder's rows and shows on the package page); removed when the version is unyanked.
 */
export interface JuliaYankReasonsTable {
  repo_id: number;
  registry_uuid: string;
  package_uuid: string;
  version: string;
  reason: string;
  yanked_at: Millis;
}

/**
 * The last dependency-confusion check of a repo's `/registries` listing (registry-conflicts.ts), by the listing's
 * ETag: it reads whole registry tarballs, so it is made once per listing for every process and node, not once each.
 */
export interface JuliaRegistryChecksTable {
  repo_id: number;
  registries_etag: string;
  /** JSON list of `RegistryConflict`. */
  conflicts: string;
}

export type JuliaTables = {
  julia_registries: JuliaRegistriesTable;
  julia_tarballs: JuliaTarballsTable;
  julia_yank_reasons: JuliaYankReasonsTable;
  julia_registry_checks: JuliaRegistryChecksTable;
};
