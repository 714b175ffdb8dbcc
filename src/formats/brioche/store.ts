/** Brioche's tables as Kysely sees them. */
import type { Generated } from 'kysely';
import type { Registry } from '../../registry/registry.js';

export interface BriocheObjectsTable {
  repo_id: number;
  key: string;
  sha256: string;
  size: number;
  created_at: number;
  created_by: number | null;
}

export interface BriocheTagsTable {
  id: Generated<number>;
  repo_id: number;
  project: string;
  tag: string;
  project_hash: string;
  previous_hash: string | null;
  current: number;
  set_at: number;
  set_by: number | null;
}

export interface BriocheSettingsTable {
  repo_id: number;
  password_hash: string | null;
  updated_at: number;
}

export type BriocheTables = {
  brioche_objects: BriocheObjectsTable;
  brioche_tags: BriocheTagsTable;
  brioche_settings: BriocheSettingsTable;
};

/** The database with Brioche's tables. */
export function briocheDb(registry: Registry) {
  return registry.db.withTables<BriocheTables>();
}
