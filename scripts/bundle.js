// Bundles the compiled CLI (dist/cli/main.js) into dist/bundle/ for bin/larder.js: one CommonJS file to read instead
// of ~1,000 modules to resolve at every start (cold start, issue 14), so that bin/larder.js can compile it with a V8 code
// cache (Node 20 has no compile cache for modules; `vm.Script` takes `cachedData` for a script). Packages only some
// requests or configurations need go to dist/bundle/vendor/, one CommonJS file each, required on first use.
// Native and optional packages stay outside and load from node_modules as before.
// Last, a start of `larder serve` trains the code cache (scripts/train-code-cache.js).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { trainCodeCache } from './train-code-cache.js';

const require = createRequire(import.meta.url);
const OUT = 'dist/bundle';

/** Loaded only with `import()`: each becomes dist/bundle/vendor/<name>.cjs, outside the file every start compiles. */
const LAZY = ['undici', 'markdown-it', 'sanitize-html', 'reflect-metadata', '@peculiar/x509', 'hash-wasm', 'yauzl'];
const vendorFile = (name) => `vendor/${name.replace(/^@/, '').replace(/\//g, '-')}.cjs`;

fs.rmSync(OUT, { recursive: true, force: true });

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Fewer bytes to read and parse at every start; names are kept for stack traces, the map has the rest.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: Object.fromEntries(LAZY.map((name) => [vendorFile(name).replace(/\.cjs$/, ''), require.resolve(name)])),
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
});

await build({
  ...common,
  entryPoints: { larder: 'dist/cli/main.js' },
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
  external: ['better-sqlite3', 'pg', '@aws-sdk/*'],
  // `import()` of what stays outside becomes require(): a script compiled by `vm.Script` has no module loader.
  supported: { 'dynamic-import': false },
  // The one `import.meta.url` Larder reads (src/core/version.ts: ../../package.json) is the bundle's own URL.
  define: { 'import.meta.url': '__larderImportMetaUrl' },
  banner: { js: "const __larderImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
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

// bin/larder.js reads the bundle as latin1 (no UTF-8 decoding, a one-byte string): escape what esbuild leaves non-ASCII
// (a regular expression, a licence comment). Then a build id at the end names the code cache: V8 checks only the
// source's length, and a cache must never outlive the bundle it was made for.
const main = `${OUT}/larder.cjs`;
const text = fs.readFileSync(main, 'utf8').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
fs.writeFileSync(main, `${text}// larder-build:${crypto.randomBytes(8).toString('hex')}\n`, 'latin1');

await trainCodeCache(main);
