// Bundles the compiled CLI (dist/cli/main.js) into dist/bundle/ for bin/larder.js: CommonJS files to read instead of
// ~1,000 modules to resolve at every start (cold start, issue 14), so that bin/larder.js can compile each with a V8 code
// cache (Node 20 has no compile cache for modules; `vm.Script` takes `cachedData` for a script).
// The bundle is split where the code says `import()` (esbuild splits only ES modules: the chunks are built as ES modules
// and then converted one by one to CommonJS): larder.cjs holds the entry, and what a command runs (the CLI's
// definitions; `serve`'s start, then its routes after it listens; every other command) is in chunks required on first
// use, so a start reads, deserialises and runs only what it uses; the chunks a start of `larder serve` loads together
// are also packed into one file each (dist/bundle/packs/, PACKS below). Packages only some requests or configurations need go to
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

/**
 * What a start of `larder serve` loads together, by the entry points (source files) whose chunks go in: `main` the CLI,
 * `serve` what it needs to listen, `router` what it loads once listening. Each pack holds its entry points' chunks and
 * every chunk they import (but none an earlier pack holds); bin/larder.js reads a pack when it first needs one of them.
 */
const PACKS = {
  main: [/^dist\/cli\/main\.js$/],
  serve: [/^dist\/cli\/serve\.js$/],
  router: [
    /^dist\/http\/server\.js$/,
    /node_modules\/pino\/pino\.js$/,
    /node_modules\/prom-client\/index\.js$/,
    /^dist\/formats\/[^/]+\/routes\.js$/,
  ],
};

/** Chunk file names by pack, from the split build's metafile (its outputs, their entry points and static imports). */
function packsOf(metafile) {
  const outputs = metafile.outputs;
  const closure = (out, into) => {
    if (into.has(out)) return into;
    into.add(out);
    for (const i of outputs[out].imports) if (i.kind === 'import-statement' && outputs[i.path]) closure(i.path, into);
    return into;
  };
  const taken = new Set();
  const result = {};
  for (const [pack, entries] of Object.entries(PACKS)) {
    const chunks = new Set();
    for (const [out, o] of Object.entries(outputs)) if (o.entryPoint && entries.some((e) => e.test(o.entryPoint))) closure(out, chunks);
    result[pack] = [...chunks].filter((c) => !taken.has(c)).map((c) => path.basename(c));
    for (const c of chunks) taken.add(c);
  }
  return result;
}
let packs;

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
  packs = packsOf(split.metafile);
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

// 3. Packs: the chunks a start loads together, in one file each (one read and one code cache instead of dozens).
const packOf = {};
fs.mkdirSync(path.join(OUT, 'packs'));
for (const [pack, chunks] of Object.entries(packs)) {
  const name = `packs/${pack}.cjs`;
  let text = 'module.exports = {\n';
  const sections = [];
  for (const chunk of chunks) {
    const code = fs.readFileSync(path.join(OUT, chunk), 'utf8').replace(/\/\/# sourceMappingURL=.*\n?$/, '');
    text += `${JSON.stringify(chunk)}: function (exports, require, module, __filename, __dirname) {\n`;
    sections.push({
      offset: { line: text.split('\n').length - 1, column: 0 },
      map: JSON.parse(fs.readFileSync(path.join(OUT, `${chunk}.map`), 'utf8')),
    });
    text += `${code}\n},\n`;
    packOf[chunk] = name;
  }
  fs.writeFileSync(path.join(OUT, name), `${text}};\n//# sourceMappingURL=${pack}.cjs.map\n`);
  fs.writeFileSync(path.join(OUT, `${name}.map`), JSON.stringify({ version: 3, sections }));
}
fs.writeFileSync(path.join(OUT, 'packs.json'), `${JSON.stringify(packOf)}\n`);

// bin/larder.js reads each file as latin1 (no UTF-8 decoding, a one-byte string): escape what esbuild leaves non-ASCII
// (a regular expression, a licence comment). Then a build id at the end names the code caches: V8 checks only the
// source's length, and a cache must never outlive the file it was made for.
const build_ = crypto.randomBytes(8).toString('hex');
for (const f of fs.readdirSync(OUT, { recursive: true }).filter((f) => f.endsWith('.cjs') && !f.startsWith('vendor/'))) {
  const file = path.join(OUT, f);
  const text = fs.readFileSync(file, 'utf8').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  fs.writeFileSync(file, `${text}// larder-build:${build_}\n`, 'latin1');
}

await trainCodeCache(`${OUT}/larder.cjs`);
