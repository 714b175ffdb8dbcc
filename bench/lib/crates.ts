import fs from 'node:fs';
import path from 'node:path';
import { indexPath } from '../../src/formats/cargo/names.js';
import { makeCrate, newCrateJson, publishBody, sha256Hex } from '../../test/support/cargo.js';
import { request } from './http.js';

/** A published (or to-be-published) crate version and the SHA-256 of its .crate. */
export interface CrateVersion {
  name: string;
  vers: string;
  cksum: string;
}

export interface PreparedCrate extends CrateVersion {
  /** The publish frame (cargo.md §8.2) and the bare .crate, as files for the load process. */
  frameFile: string;
  crateFile: string;
}

/** Writes `count` small crates: names cycle through `names` (prefixed), versions 1.0.0, 1.0.1, … per round. */
export async function prepareCrates(dir: string, prefix: string, names: number, count: number): Promise<PreparedCrate[]> {
  fs.mkdirSync(dir, { recursive: true });
  const out: PreparedCrate[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${(i % names).toString(36)}`;
    const vers = `1.0.${Math.floor(i / names)}`;
    const crate = await makeCrate({ name, vers });
    const frameFile = path.join(dir, `${name}-${vers}.frame`);
    const crateFile = path.join(dir, `${name}-${vers}.crate`);
    fs.writeFileSync(frameFile, publishBody(newCrateJson({ name, vers }), crate));
    fs.writeFileSync(crateFile, crate);
    out.push({ name, vers, cksum: sha256Hex(crate), frameFile, crateFile });
  }
  return out;
}

/** Reads each crate's index file once; returns the versions not found with their checksum, and the index bytes read. */
export async function checkIndex(
  url: string,
  crates: CrateVersion[],
): Promise<{ missing: string[]; indexBytes: number; indexLines: number }> {
  const byName = new Map<string, CrateVersion[]>();
  for (const c of crates) {
    const list = byName.get(c.name);
    if (list) list.push(c);
    else byName.set(c.name, [c]);
  }
  const missing: string[] = [];
  let indexBytes = 0;
  let indexLines = 0;
  for (const [name, versions] of byName) {
    const res = await request(`${url}/cargo/index/${indexPath(name)}`);
    const lines =
      res.status === 200
        ? res.body
            .toString('utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { vers: string; cksum: string })
        : [];
    indexBytes += res.status === 200 ? res.body.length : 0;
    indexLines += lines.length;
    const cksums = new Map(lines.map((l) => [l.vers, l.cksum]));
    for (const v of versions) if (cksums.get(v.vers) !== v.cksum) missing.push(`${name}@${v.vers}`);
  }
  return { missing, indexBytes, indexLines };
}

/** Throws unless every version is in its crate's index file, with the right checksum. */
export async function verifyIndex(url: string, crates: CrateVersion[]): Promise<void> {
  const { missing } = await checkIndex(url, crates);
  if (missing.length)
    throw new Error(`${missing.length} published version(s) missing from the index, e.g. ${missing.slice(0, 5).join(', ')}`);
}
