import { describe, expect, it } from 'vitest';
import { bazelMigrations } from '../formats/bazel/migrations.js';
import { briocheMigrations } from '../formats/brioche/migrations.js';
import { cargoMigrations } from '../formats/cargo/migrations.js';
import { juliaMigrations } from '../formats/julia/migrations.js';
import { moonbitMigrations } from '../formats/moonbit/migrations.js';
import { FORMATS } from './context.js';

describe('the formats a start opens', () => {
  it("name each format's migrations as its migrations module defines them, in the same order", () => {
    const defined: Record<string, Array<{ name: string }>> = {
      cargo: cargoMigrations,
      bazel: bazelMigrations,
      julia: juliaMigrations,
      moonbit: moonbitMigrations,
      brioche: briocheMigrations,
    };
    expect(FORMATS.map((f) => f.format).sort()).toEqual(Object.keys(defined).sort());
    for (const f of FORMATS)
      expect(
        f.migrations.map((m) => m.name),
        f.format,
      ).toEqual(defined[f.format]!.map((m) => m.name));
  });
});
