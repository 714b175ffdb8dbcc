import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadConfig } from '../../src/core/config.js';
import { FORMATS } from '../../src/cli/context.js';
import { indexPath } from '../../src/formats/cargo/names.js';
import { formatPubtime, serializeIndexLine, type IndexDependency, type IndexLine } from '../../src/formats/cargo/index-line.js';
import { openRegistry } from '../../src/registry/registry.js';
import { inTransaction } from '../../src/registry/tx.js';

export interface IndexFile {
  name: string;
  /** Path relative to the index root, e.g. `ab/cd/abcd`. */
  path: string;
  body: Buffer;
}

/** Versions per crate: most crates have a few (≈1 KB), a Pareto tail has hundreds (≤ 100 KB). */
export function versionCount(i: number): number {
  const u = ((i * 2654435761) % 4294967296) / 4294967296 || 0.5;
  return Math.min(400, Math.max(1, Math.round(3 * Math.pow(u, -0.6))));
}

/** One crate's index file with `versions` lines, each like a real crates.io line (~250 bytes). */
export function indexFile(name: string, versions: number, deps: IndexDependency[] = []): IndexFile {
  const lines: string[] = [];
  for (let v = 0; v < versions; v++) {
    const vers = `${Math.floor(v / 100)}.${Math.floor(v / 10) % 10}.${v % 10}`;
    const line: IndexLine = {
      name,
      vers,
      deps,
      cksum: createHash('sha256').update(`${name}@${vers}`).digest('hex'),
      features: { default: ['std'], std: [] },
      yanked: false,
      links: null,
      rust_version: '1.70',
      pubtime: formatPubtime(Date.UTC(2025, 0, 1) + v * 86_400_000),
    };
    lines.push(serializeIndexLine(line) + '\n');
  }
  return { name, path: indexPath(name), body: Buffer.from(lines.join('')) };
}

/**
 * Writes the same index files into a Larder data directory (through the registry's own
 * index-document store, as publishes would) and as static files for nginx under `nginxRoot/cargo/index/`.
 * `files` may be a generator: they are written 1,000 per transaction and not kept, so 100,000 crates seed in bounded memory.
 * `repo`: the hosted Cargo repository to fill (the default config's `cargo`, or one a larder.toml in `data` defines);
 * `database`: a postgres:// URL to fill a cluster's shared database instead of the data dir's SQLite.
 */
export async function seedCargoIndex(
  data: string,
  files: Iterable<IndexFile>,
  nginxRoot: string | null,
  repoName = 'cargo',
  database = 'sqlite',
): Promise<void> {
  fs.mkdirSync(data, { recursive: true });
  const config = loadConfig({ cwd: data, env: {}, overrides: { data, database } });
  const registry = await openRegistry(config, FORMATS);
  const root = nginxRoot ? path.join(nginxRoot, 'cargo', 'index') : null;
  try {
    const repo = registry.repos.get(repoName);
    if (!repo || repo.kind !== 'hosted') throw new Error(`no hosted repository "${repoName}" to seed`);
    const it = files[Symbol.iterator]();
    for (let done = false; !done;) {
      const batch: IndexFile[] = [];
      for (let r = it.next(); ; r = it.next()) {
        if (r.done) {
          done = true;
          break;
        }
        batch.push(r.value);
        if (batch.length === 1000) break;
      }
      if (batch.length === 0) break;
      await inTransaction(registry, async (uow) => {
        for (const f of batch) await registry.docs.put(uow, repo.id, f.path, f.body);
      });
      if (root) {
        for (const f of batch) {
          fs.mkdirSync(path.dirname(path.join(root, f.path)), { recursive: true });
          fs.writeFileSync(path.join(root, f.path), f.body);
        }
      }
    }
  } finally {
    await registry.close();
  }
}
