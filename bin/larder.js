#!/usr/bin/env node
// The `larder` command: runs the compiled CLI, bundled by `npm run build` (scripts/bundle.js) into CommonJS files (the
// entry dist/bundle/larder.cjs, and chunks it requires on first use, those a start of `larder serve` loads together read
// from one pack each, dist/bundle/packs/), and compiles each file with a V8 code cache, so a start neither resolves
// ~1,000 modules nor parses megabytes of JavaScript (cold start, issue 14). A file's cache
// (<file>.<build>.<v8 tag>.cache) is made at build time by a trained start; one that is missing or rejected (another
// Node, other V8 flags) is written again when this process exits. With --enable-source-maps the bundle is required the
// ordinary way, because Node registers source maps only for modules its own loader compiles.
// CommonJS (bin/package.json): an ES module entry starts Node's ES module loader, a few milliseconds of every start.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const { createRequire } = Module;
const path = require('node:path');
const v8 = require('node:v8');
const vm = require('node:vm');

// `larder --version` is answered here: the version is package.json's, as src/core/version.ts reads it.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../package.json'), 'utf8'));
  process.stdout.write(`${typeof pkg.version === 'string' ? pkg.version : '0.0.0'}\n`);
} else {
  // Before anything is compiled: the flags are part of the code caches' names (bin/v8-flags.js).
  require('./v8-flags.js').applyLarderV8Flags();
  const file = path.join(__dirname, '../dist/bundle/larder.cjs');
  const bundle = process.sourceMapsEnabled || process.env.LARDER_CODE_CACHE === 'off' ? createRequire(file)(file) : runCached(file);
  void bundle.main(process.argv);
}

/**
 * Runs the bundle's entry with the code cache, and each chunk it requires (`./<name>.cjs` beside it) the same way. A
 * chunk in a pack (dist/bundle/packs.json says which: the chunks a start loads together) comes from its pack, read and
 * compiled once for all its chunks; each chunk still runs only when it is first required.
 */
function runCached(entry) {
  const dir = path.dirname(entry);
  const outside = createRequire(entry);
  let packOf = {};
  try {
    packOf = JSON.parse(fs.readFileSync(path.join(dir, 'packs.json'), 'utf8'));
  } catch {
    // No packs: every chunk from its own file.
  }
  /** Chunks run (their module), and the chunks of packs read but not run yet (the function that runs one). */
  const loaded = new Map();
  const packed = new Map();
  /** Files compiled without a cache: theirs are written at exit (one listener for all). */
  const unwritten = [];
  const require = (id) => {
    if (!id.startsWith('./') || !id.endsWith('.cjs') || id.includes('/', 2)) return outside(id);
    const name = id.slice(2);
    const done = loaded.get(name);
    if (done) return done.exports;
    if (!packed.has(name) && packOf[name]) {
      const pack = { exports: {} };
      compile(path.join(dir, packOf[name]))(pack.exports, require, pack, path.join(dir, packOf[name]), dir);
      for (const [chunk, run] of Object.entries(pack.exports)) if (!loaded.has(chunk)) packed.set(chunk, run);
    }
    const run = packed.get(name) ?? compile(path.join(dir, name));
    packed.delete(name);
    const file = path.join(dir, name);
    const mod = new Module(file, null);
    mod.filename = file;
    loaded.set(name, mod);
    run.call(mod.exports, mod.exports, require, mod, file, dir);
    mod.loaded = true;
    return mod.exports;
  };
  Object.assign(require, { resolve: outside.resolve, cache: outside.cache, main: outside.main });
  /** Compiles one file as Node's CommonJS loader would, with its code cache when one fits; returns its module function. */
  const compile = (file) => {
    // The bundle is ASCII (scripts/bundle.js checks), so latin1 makes the one-byte string without decoding UTF-8.
    const source = fs.readFileSync(file, 'latin1');
    // The build id at the end of each file names its cache: V8 itself checks only the source's length.
    const build = /\/\/ larder-build:(\w+)\s*$/.exec(source.slice(-100))?.[1] ?? 'none';
    const cacheFile = `${file}.${build}.${v8.cachedDataVersionTag()}.cache`;
    let cachedData;
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
    const script = new vm.Script(`${Module.wrapper[0]}${source}${Module.wrapper[1]}`, { filename: file, cachedData });
    if (cachedData === undefined || script.cachedDataRejected) {
      if (unwritten.length === 0) process.once('exit', () => unwritten.forEach(writeCache));
      unwritten.push({ script, cacheFile });
    }
    return script.runInThisContext();
  };
  return require(`./${path.basename(entry)}`);
}

/** Writes what V8 compiled in this run (the functions that ran, not only the top level) for the next start. */
function writeCache({ script, cacheFile }) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile);
  } catch {
    // A read-only installation starts without a cache.
    fs.rmSync(tmp, { force: true });
  }
}
