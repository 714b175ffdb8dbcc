import type { RepoVerification } from '../../registry/format.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { lineVersions, yankedEntries } from './import.js';
import { parseIndexLines } from './index-line.js';
import { archiveKey, indexPath, moduleOfIndexPath, YANKED_PATH } from './names.js';
import { moonbitDb } from './store.js';

/**
 * A MoonBit repo is consistent when each version row has exactly one line in its module's index file,
 * with the row's checksum (moon takes the last line naming a version: a second one would change what
 * it downloads), every line moon can use has a row, yanked.json lists exactly the yanked rows, and
 * each zip's blob is the one the checksum names. Lines moon cannot use are kept as imported.
 */
export async function verifyMoonbitRepo(registry: Registry, repo: Repo): Promise<RepoVerification> {
  const db = moonbitDb(registry);
  const out: RepoVerification = { checked: {}, problems: [], references: [] };
  const rows = await db
    .selectFrom('moonbit_versions')
    .select(['module', 'version', 'checksum', 'size', 'yanked', 'yanked_reason'])
    .where('repo_id', '=', repo.id)
    .orderBy('module')
    .orderBy('version')
    .execute();
  const docs = await db.selectFrom('index_docs').select(['path', 'body']).where('repo_id', '=', repo.id).execute();
  const byPath = new Map(docs.map((d) => [d.path, Buffer.from(d.body)]));
  const rowKeys = new Set(rows.map((r) => archiveKey(r.module, r.version)));

  const linesOf = new Map<string, Array<{ version: string; checksum?: unknown }>>();
  for (const r of rows) {
    const what = `module ${r.module}@${r.version}`;
    if (r.size !== null) out.references.push({ sha256: r.checksum, size: Number(r.size), what });
    const path = indexPath(r.module);
    const body = byPath.get(path);
    if (!body) {
      out.problems.push(`${what}: its index file ${path} is missing; restore the database and documents from a backup`);
      continue;
    }
    if (!linesOf.has(path)) linesOf.set(path, parseIndexLines(body));
    const naming = linesOf.get(path)!.filter((l) => l.version === r.version);
    const matching = naming.filter((l) => typeof l.checksum === 'string' && l.checksum.toLowerCase() === r.checksum);
    if (naming.length === 0) out.problems.push(`${what}: ${path} has no line for this version`);
    else if (matching.length !== 1 || naming.length !== 1)
      out.problems.push(
        `${what}: ${path} has ${naming.length} lines naming this version, ${matching.length} with the checksum ${r.checksum} the database holds; moon uses the last one`,
      );
  }
  let files = 0;
  for (const [path, body] of byPath) {
    const module = moduleOfIndexPath(path);
    if (!module) continue;
    files++;
    for (const version of lineVersions(body).versions.keys())
      if (!rowKeys.has(archiveKey(module, version)))
        out.problems.push(`${path} has a line for ${module}@${version} that the database does not know; its download would be a 404`);
  }

  const yankedRows = rows.filter((r) => r.yanked);
  const listedBody = byPath.get(YANKED_PATH);
  const listed = listedBody ? yankedEntries(listedBody) : new Map<string, string | null>();
  if (yankedRows.length && !listedBody) out.problems.push(`${YANKED_PATH} is missing, but ${yankedRows.length} version(s) are yanked`);
  for (const r of yankedRows) {
    const key = archiveKey(r.module, r.version);
    if (!listed.has(key)) out.problems.push(`${YANKED_PATH} does not list ${r.module}@${r.version}, which is yanked`);
    else if ((listed.get(key) ?? null) !== (r.yanked_reason ?? null))
      out.problems.push(`${YANKED_PATH} gives ${r.module}@${r.version} another reason than the database`);
  }
  // Entries for versions this repo does not hold are kept as imported (a mirror's yanked.json names upstream's).
  for (const r of rows)
    if (!r.yanked && listed.has(archiveKey(r.module, r.version)))
      out.problems.push(`${YANKED_PATH} lists ${r.module}@${r.version}, which is not yanked in the database`);

  out.checked = { 'index files': files, versions: rows.length, zips: out.references.length };
  return out;
}
