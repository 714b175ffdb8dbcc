import type { Generated, Selectable } from 'kysely';
import type { Millis } from '../../storage/schema.js';

export interface CargoCratesTable {
  id: Generated<number>;
  repo_id: number;
  name: string;
  /** Lower case with `-` folded to `_`: the key that makes `Foo-bar` and `foo_bar` one crate. */
  norm_name: string;
  description: string | null;
  /** Highest non-yanked version, kept current by publish and yank so search needs no scan. */
  max_version: string | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface CargoVersionsTable {
  id: Generated<number>;
  crate_id: number;
  vers: string;
  /** The version without build metadata: `1.0.0` and `1.0.0+x` may not both exist. */
  vers_key: string;
  /** The index line exactly as served (without the trailing newline). */
  line: string;
  yanked: number;
  cksum: string;
  size: number;
  pubtime: Millis;
  published_by: number | null;
  /** Publish metadata that does not go into the index (description, readme, …) as JSON. */
  metadata: string;
}

export type CargoTables = {
  cargo_crates: CargoCratesTable;
  cargo_versions: CargoVersionsTable;
};

export type CargoCrateRow = Selectable<CargoCratesTable>;
export type CargoVersionRow = Selectable<CargoVersionsTable>;
