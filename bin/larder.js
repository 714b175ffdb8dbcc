#!/usr/bin/env node
// The `larder` command: runs the compiled CLI, bundled into one CommonJS file by `npm run build` (scripts/bundle.js), and
// compiles it with a V8 code cache so a start neither resolves ~1,000 modules nor parses megabytes of JavaScript (issue 14).
// The cache (dist/bundle/larder.cjs.<build>.<v8 tag>.cache) is made at build time by a trained start; one that is missing
// or rejected (another Node, other V8 flags) is written again when this process exits. With --enable-source-maps the
// bundle is required the ordinary way, because Node registers source maps only for modules its own loader compiles.
import fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const file = fileURLToPath(new URL('../dist/bundle/larder.cjs', import.meta.url));
const bundle = process.sourceMapsEnabled || process.env.LARDER_CODE_CACHE === 'off' ? createRequire(file)(file) : runCached(file);
await bundle.main(process.argv);

/** Compiles and runs the bundle as Node's CommonJS loader would, with the code cache when one fits; returns its exports. */
function runCached(file) {
  // The bundle is ASCII (scripts/bundle.js checks), so latin1 makes the one-byte string without decoding UTF-8.
  const source = fs.readFileSync(file, 'latin1');
  // The build id at the end of the bundle names the cache: V8 itself checks only the source's length.
  const build = /\/\/ larder-build:(\w+)\s*$/.exec(source.slice(-100))?.[1] ?? 'none';
  const cacheFile = `${file}.${build}.${v8.cachedDataVersionTag()}.cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(`${Module.wrapper[0]}${source}${Module.wrapper[1]}`, { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => writeCache(script, cacheFile));
  const dir = path.dirname(file);
  const mod = new Module(file, null);
  mod.filename = file;
  script.runInThisContext()(mod.exports, createRequire(file), mod, file, dir);
  mod.loaded = true;
  return mod.exports;
}

/** Writes what V8 compiled in this run (the functions that ran, not only the top level) for the next start. */
function writeCache(script, cacheFile) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile);
  } catch {
    // A read-only installation starts without a cache.
    fs.rmSync(tmp, { force: true });
  }
}
