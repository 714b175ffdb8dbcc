import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory under the OS temp dir; `remove` deletes it and everything in it. */
export function tempDir(prefix = 'larder-test-'): { path: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Every file below `dir` with its size, for "nothing changed" assertions. */
export function snapshotFiles(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        // A file removed between the listing and its stat (a running server's probe file) is not there any more.
        const stat = fs.statSync(p, { throwIfNoEntry: false });
        if (stat) out[path.relative(dir, p)] = stat.size;
      }
    }
  };
  walk(dir);
  return out;
}
