/**
 * Property-based fuzzing of the archive gate Bazel publishes go through (tar, tar.gz, zip with
 * hostile entries, corrupted headers and huge declared sizes), strip_prefix, overlays and patches:
 * each returns a tree or throws a 4xx LarderError, never anything else, and never hangs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fixTarChecksum,
  fuzzParams,
  gz,
  makeZip,
  mutatedBytes,
  oddName,
  Outcomes,
  returnsOrRefuses,
  tarVariants,
  zipVariants,
  type ZipEntry,
} from '../../../test/support/arbitraries.js';
import { tarball, type TarEntry } from '../../../test/support/archives.js';
import { applyOverlay, applyPatches, unpackArchive, type SourceTree } from './source-tree.js';

const ROOT = 'mod-1.0';
const LIMITS = { maxUnpackedSize: 256 * 1024, maxEntries: 40 };
const MODULE = 'module(name = "mod", version = "1.0")\n';
const LIB = 'int answer() { return 41; }\n';
const TAR_ENTRIES: TarEntry[] = [
  { name: `${ROOT}/`, type: 'directory' },
  { name: `${ROOT}/MODULE.bazel`, body: MODULE },
  { name: `${ROOT}/src/lib.cc`, body: LIB, mode: 0o755 },
];
const ZIP_ENTRIES: ZipEntry[] = [
  { name: `${ROOT}/` },
  { name: `${ROOT}/MODULE.bazel`, data: Buffer.from(MODULE) },
  { name: `${ROOT}/src/lib.cc`, data: Buffer.from(LIB), mode: 0o100755 },
];
const stripPrefix = fc.oneof(
  { weight: 6, arbitrary: fc.constant(ROOT) },
  fc.constantFrom(`${ROOT}/`, `./${ROOT}`, '', 'src', '..', `${ROOT}/../x`, '/', `${ROOT}\\`, `${ROOT}/src`),
  oddName,
);
const archiveType = fc.option(
  fc.constantFrom(
    'tar.gz',
    'tgz',
    'tar',
    'zip',
    'tar.zst',
    'tar.xz',
    'txz',
    'tar.bz2',
    'tbz',
    'ar',
    'deb',
    'jar',
    '7z',
    'gz',
    'TAR',
    '',
    'constructor',
    '__proto__',
  ),
  {
    nil: undefined,
  },
);
const fileName = fc.constantFrom(
  'a.tar.gz',
  'a.tgz',
  'a.tar',
  'a.zip',
  'a',
  'a.tar.xz',
  'a.tar.zst',
  'a.tar.bz2',
  'a.deb',
  'a.ar',
  'a.whl',
  'a.7z',
  'a.TAR.GZ',
  '.zip',
  'a.toString',
  'a.constructor',
);

async function unpack(archive: Buffer, opts: { fileName: string; archiveType?: string; stripPrefix?: string }) {
  return unpackArchive(archive, { ...opts, limits: LIMITS });
}

describe('Bazel archive gate (fuzz)', () => {
  it('unpacks the unmutated archives', async () => {
    const base = await tarball(TAR_ENTRIES);
    for (const [archive, name] of [
      [gz(base), 'a.tar.gz'],
      [base, 'a.tar'],
      [makeZip(ZIP_ENTRIES), 'a.zip'],
    ] as const) {
      const tree = await unpack(archive, { fileName: name, stripPrefix: ROOT });
      expect([...tree.keys()].sort()).toEqual(['MODULE.bazel', 'src/lib.cc']);
      expect(tree.get('src/lib.cc')).toEqual({ data: Buffer.from(LIB), executable: true });
    }
  });

  it('refuses a directory entry that declares content (tar-stream never ended its body: the publish hung)', async () => {
    const t = await tarball(TAR_ENTRIES);
    t.write('00000000005\0', 124, 'latin1');
    fixTarChecksum(t, 0);
    for (const [archive, name] of [
      [t, 'a.tar'],
      [gz(t), 'a.tar.gz'],
    ] as const) {
      const r = await returnsOrRefuses(() => unpack(archive, { fileName: name, stripPrefix: ROOT }), 3_000);
      expect(r.ok ? 'accepted' : r.error.message).toMatch(/directory entry mod-1\.0\/ claims to have content/);
    }
  });

  it('answers every hostile tar and tar.gz with a tree or a 4xx LarderError', async () => {
    const base = await tarball(TAR_ENTRIES);
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(tarVariants(base, TAR_ENTRIES, ROOT), fc.boolean(), stripPrefix, async (make, gzipped, prefix) => {
        const t = await make();
        seen.record(
          await returnsOrRefuses(() => unpack(gzipped ? gz(t) : t, { fileName: gzipped ? 'a.tar.gz' : 'a.tar', stripPrefix: prefix })),
        );
      }),
      fuzzParams(400),
    );
    seen.report('bazel tar');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(8);
  });

  it('answers every hostile zip with a tree or a 4xx LarderError', async () => {
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(zipVariants(ZIP_ENTRIES, ROOT), stripPrefix, async (zip, prefix) => {
        seen.record(await returnsOrRefuses(() => unpack(zip, { fileName: 'a.zip', stripPrefix: prefix })));
      }),
      fuzzParams(400),
    );
    seen.report('bazel zip');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(5);
  });

  it('answers any archive under any file name and archive_type with a tree or a 4xx LarderError', async () => {
    const base = await tarball(TAR_ENTRIES);
    const archive = fc.oneof(fc.constant(gz(base)), fc.constant(base), fc.constant(makeZip(ZIP_ENTRIES)), mutatedBytes(gz(base)));
    await fc.assert(
      fc.asyncProperty(archive, fileName, archiveType, stripPrefix, async (a, name, type, prefix) => {
        await returnsOrRefuses(() => unpack(a, { fileName: name, archiveType: type, stripPrefix: prefix }));
      }),
      fuzzParams(200),
    );
  });
});

describe('Bazel overlays and patches (fuzz)', () => {
  const tree = (): SourceTree =>
    new Map([
      ['MODULE.bazel', { data: Buffer.from(MODULE), executable: false }],
      ['src/lib.cc', { data: Buffer.from(LIB), executable: false }],
    ]);
  const PATCH = '--- a/src/lib.cc\n+++ b/src/lib.cc\n@@ -1 +1 @@\n-int answer() { return 41; }\n+int answer() { return 42; }\n';
  const NEW_FILE = '--- /dev/null\n+++ b/BUILD.bazel\n@@ -0,0 +1,2 @@\n+cc_library(\n+)\n';
  const patchLine = fc.constantFrom(
    '--- a/x\n',
    '+++ b/x\n',
    '--- /dev/null\n',
    '+++ /dev/null\n',
    '@@ -1 +1 @@\n',
    '@@ -0,0 +1 @@\n',
    '@@ -99999999999,1 +1 @@\n',
    '@@ -1,0 +0,0 @@\n',
    '-int answer() { return 41; }\n',
    '+x\n',
    ' int answer() { return 41; }\n',
    '\\ No newline at end of file\n',
    'diff --git a/x b/x\n',
    '--- a/../../etc/passwd\n',
    '+++ b//abs\n',
    '--- a/MODULE.bazel\t1970-01-01 00:00:00.000000000 +0000\n',
    '\0\n',
    '',
  );

  it('refuses a patch with a garbled hunk header (it threw a TypeError: a 500)', async () => {
    const r = await returnsOrRefuses(() =>
      applyPatches(tree(), [{ name: 'garbled.patch', text: PATCH.replace('@@ -1 +1 @@', '@@ -1 +1`@@') }], 1),
    );
    expect(r.ok ? 'applied' : r.error.message).toMatch(/garbled\.patch has a malformed hunk header/);
  });

  it('applies a hunk stated far past the end of the file at once, as GNU patch does (it held the event loop for hours)', async () => {
    const t = tree();
    const far = PATCH.replace('@@ -1 +1 @@', '@@ -99999999999,1 +99999999999,1 @@');
    const r = await returnsOrRefuses(() => applyPatches(t, [{ name: 'far.patch', text: far }], 1), 2_000);
    expect(r.ok).toBe(true);
    expect(t.get('src/lib.cc')?.data.toString()).toBe('int answer() { return 42; }\n');
  });

  it('refuses a garbled patch whose hunk lies past the end of the file (it threw a TypeError: a 500)', async () => {
    const text =
      '--- a/src/lib.cc\n+++ b/src/lib.cc\n@@ -99999999999,1 +1 @@\n int answer() { return 41; }\n@@ -1 +1 @@\n+++ /dev/null\n--- a/x\n';
    const r = await returnsOrRefuses(() => applyPatches(tree(), [{ name: 'far.patch', text }], 1));
    expect(r.ok ? 'applied' : r.error.code).toBe('ARCHIVE_INVALID');
  });

  it('applies any mutated patch at any strip level, or refuses it with a 4xx', async () => {
    const lines = (s: string) => s.split(/(?<=\n)/);
    const mutated = fc
      .tuple(
        fc.constantFrom(PATCH, NEW_FILE, PATCH + NEW_FILE),
        fc.array(fc.tuple(fc.nat(), patchLine, fc.constantFrom('insert', 'replace', 'drop')), { minLength: 1, maxLength: 4 }),
      )
      .map(([base, ops]) => {
        const l = lines(base);
        for (const [i, line, op] of ops) {
          const at = i % (l.length + 1);
          if (op === 'insert') l.splice(at, 0, line);
          else if (op === 'replace') l[at] = line;
          else l.splice(at, 1);
        }
        return l.join('');
      });
    const text = fc.oneof(
      { weight: 4, arbitrary: mutated },
      { weight: 1, arbitrary: mutatedBytes(Buffer.from(PATCH)).map((b) => b.toString('utf8')) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    );
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(text, fc.integer({ min: 0, max: 3 }), async (t, strip) => {
        seen.record(await returnsOrRefuses(() => applyPatches(tree(), [{ name: 'fuzz.patch', text: t }], strip)));
      }),
      fuzzParams(600),
    );
    seen.report('patches');
    expect(seen.ok).toBeGreaterThan(0);
  });

  it('applies overlays at any path, or refuses them with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(oddName, fc.constantFrom('BUILD.bazel', 'src/lib.cc/x', 'src', 'MODULE.bazel')), { minLength: 1, maxLength: 4 }),
        async (names) => {
          await returnsOrRefuses(() => applyOverlay(tree(), new Map(names.map((n) => [n, Buffer.from('x')]))));
        },
      ),
      fuzzParams(300),
    );
  });
});
