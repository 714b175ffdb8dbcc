import type { Generated } from 'kysely';
import type { Millis } from '../../storage/schema.js';

/** One module version present in a hosted Bazel registry (its files live in index_docs). */
export interface BazelVersionsTable {
  id: Generated<number>;
  repo_id: number;
  module: string;
  version: string;
  created_at: Millis;
}

/** A source archive Larder hosts for a published version, served at a stable URL. */
export interface BazelArchivesTable {
  repo_id: number;
  module: string;
  version: string;
  file_name: string;
  sha256: string;
  size: number;
  created_at: Millis;
}

export type BazelTables = {
  bazel_versions: BazelVersionsTable;
  bazel_archives: BazelArchivesTable;
};
