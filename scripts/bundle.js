// Bundles the compiled CLI (dist/cli/main.js) into dist/bundle/ for bin/larder.js: CommonJS files to read instead of
// ~1,000 modules to resolve at every start (cold start, issue 14), so that bin/larder.js can compile each with a V8 code
// cache (Node 20 has no compile cache for modules; `vm.Script` takes `cachedData` for a script).
// The bundle is split where the code says `import()` (esbuild splits only ES modules: the chunks are built as ES modules
// and then converted one by one to CommonJS): larder.cjs holds the CLI's definitions, and what a command runs (`serve`'s
// start, then its routes after it listens, every other command) is a chunk required on first use, so a start reads,
// deserialises and runs only what it uses. Packages only some requests or configurations need go to
// dist/bundle/vendor/, one CommonJS file each, required on first use. Native addons and optional packages stay outside
// and load from node_modules as before. Last, a start of `larder serve` trains the code caches (scripts/train-code-cache.js).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { build } from 'esbuild';
import { trainCodeCache } from './train-code-cache.js';

const require = createRequire(import.meta.url);
const OUT = 'dist/bundle';

/** Loaded only with `import()`: each becomes dist/bundle/vendor/<name>.cjs, outside the file every start compiles. */
const LAZY = ['undici', 'markdown-it', 'sanitize-html', 'reflect-metadata', '@peculiar/x509', 'hash-wasm', 'yauzl'];
const vendorFile = (name) => `vendor/${name.replace(/^@/, '').replace(/\//g, '-')}.cjs`;

fs.rmSync(OUT, { recursive: true, force: true });

const common = {
  platform: 'node',
  target: 'node20',
  // Fewer bytes to read and parse at every start; names are kept for stack traces, the map has the rest.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};

await build({
  ...common,
  bundle: true,
  format: 'cjs',
  sourcemap: true,
  entryPoints: Object.fromEntries(LAZY.map((name) => [vendorFile(name).replace(/\.cjs$/, ''), require.resolve(name)])),
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
});

// 1. ES modules, split at every `import()`, into a scratch directory (with their source maps).
const esm = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-bundle-'));
try {
  const split = await build({
    ...common,
    bundle: true,
    format: 'esm',
    splitting: true,
    sourcemap: 'linked',
    entryPoints: { larder: 'dist/cli/main.js' },
    // Named by content: a chunk's name (and so its code cache's) changes only when its code does.
    chunkNames: '[name]-[hash]',
    outdir: esm,
    outExtension: { '.js': '.cjs' },
    // better-sqlite3's JavaScript is bundled; its native addon is loaded by path (src/storage/sqlite-open.ts).
    external: ['pg', '@aws-sdk/*'],
    // The one `import.meta.url` Larder reads (src/core/version.ts: ../../package.json) is the bundle's own URL.
    define: { 'import.meta.url': '__larderImportMetaUrl' },
    banner: { js: "const __larderImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    metafile: true,
    plugins: [
      {
        name: 'lazy-vendor',
        setup(b) {
          const names = new RegExp(`^(${LAZY.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
          b.onResolve({ filter: names }, (args) => ({ path: `./${vendorFile(args.path)}`, external: true }));
        },
      },
    ],
  });
  // 2. Each file on its own to CommonJS: `import`/`export` between chunks become require() and getters (live bindings
  // kept); `import()` becomes require() too, since a script compiled by `vm.Script` has no module loader.
  // Which modules went into which chunk: LARDER_BUNDLE_META=FILE writes esbuild's metafile (to see what a start loads).
  if (process.env.LARDER_BUNDLE_META) fs.writeFileSync(process.env.LARDER_BUNDLE_META, JSON.stringify(split.metafile));
  const files = Object.keys(split.metafile.outputs).filter((f) => f.endsWith('.cjs'));
  await build({
    ...common,
    bundle: false,
    format: 'cjs',
    sourcemap: true,
    entryPoints: files,
    outdir: OUT,
    outExtension: { '.js': '.cjs' },
    supported: { 'dynamic-import': false },
  });
} finally {
  fs.rmSync(esm, { recursive: true, force: true });
}

// bin/larder.js reads each file as latin1 (no UTF-8 decoding, a one-byte string): escape what esbuild leaves non-ASCII
// (a regular expression, a licence comment). Then a build id at the end names the code caches: V8 checks only the
// source's length, and a cache must never outlive the file it was made for.
const build_ = crypto.randomBytes(8).toString('hex');
for (const f of fs.readdirSync(OUT).filter((f) => f.endsWith('.cjs'))) {
  const file = path.join(OUT, f);
  const text = fs.readFileSync(file, 'utf8').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  fs.writeFileSync(file, `${text}// larder-build:${build_}\n`, 'latin1');
}

await trainCodeCache(`${OUT}/larder.cjs`);
