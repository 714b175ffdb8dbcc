import { Readable } from 'node:stream';
import { parsePatch, applyPatch, type StructuredPatch } from 'diff';
import { fail } from '../../core/errors.js';
import { gateAr, gateMessages, gateTar, gateZip, type GateOptions, type GateVisitor } from '../../core/archive/index.js';
import { archiveKind, type ArchiveKind } from './archive-types.js';

/**
 * The published source tree: relative POSIX paths of regular files. A file unpacked with a `keep`
 * filter that left it out has `skipped` set and empty `data`: its path is known, its bytes were not kept.
 */
export type SourceTree = Map<string, { data: Buffer; executable: boolean; skipped?: true }>;

/** Limits on what an archive may unpack to. */
export interface TreeLimits {
  maxUnpackedSize: number;
  maxEntries: number;
}

/**
 * Unpacks an archive of any type Bazel reads for `archive` sources (archive-types.ts: type from `archiveType`,
 * else from `fileName`, as Bazel decides it) and strips `stripPrefix` (ar and deb: ignored, as Bazel does);
 * rejects links, devices and unsafe paths, and enforces `limits` while inflating. Only the files `keep`
 * accepts (default: all) are held in memory; the others are checked and dropped.
 */
export async function unpackArchive(
  archive: Buffer,
  opts: { fileName: string; archiveType?: string; stripPrefix?: string; limits: TreeLimits; keep?: (path: string) => boolean },
): Promise<SourceTree> {
  const kind = archiveKind(opts.fileName, opts.archiveType);
  const prefix = opts.stripPrefix ? prefixParts(opts.stripPrefix).join('/') : undefined;
  // Bazel's ar extraction ignores strip_prefix: members are the files of the tree as they are.
  const root = kind.container === 'ar' ? undefined : prefix;
  const tree: SourceTree = new Map();
  const keep = opts.keep ?? (() => true);
  const visit: GateVisitor = async (entry) => {
    if (entry.type !== 'file') return;
    const executable = (entry.mode & 0o111) !== 0;
    if (!keep(entry.path)) {
      for await (const _ of entry.body); // inflated (so a damaged entry is still refused), not kept
      tree.set(entry.path, { data: EMPTY, executable, skipped: true });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    tree.set(entry.path, { data: Buffer.concat(chunks), executable });
  };
  const gate = sourceGate(root, opts.limits, kind);
  if (kind.container === 'zip') await gateZip(archive, gate, visit);
  else if (kind.container === 'ar') await gateAr(archive, gate, visit);
  else await gateTar(Readable.from([archive]), { ...gate, compression: kind.compression }, visit);
  checkNoFileIsADirectory(tree);
  return tree;
}

/**
 * The paths a set of patches may read or create (after `-p<strip>`), plus MODULE.bazel: the only files
 * whose bytes a publish needs, so a large archive is checked without holding the rest in memory.
 */
export function filesToKeep(patches: Array<{ name: string; text: string }>, strip: number): Set<string> {
  const keep = new Set(['MODULE.bazel']);
  for (const patch of patches) {
    let files: StructuredPatch[];
    try {
      files = parsePatch(patch.text);
    } catch {
      continue; // applyPatches reports it
    }
    for (const f of files) {
      for (const name of [f.oldFileName, f.newFileName]) {
        const p = stripPath(name, strip);
        if (p) keep.add(p);
      }
    }
  }
  return keep;
}

/** Copies overlay files over the tree (validating every path first); overlay files are not executable. */
export function applyOverlay(tree: SourceTree, overlay: Map<string, Buffer>): void {
  const files = [...overlay].map(([raw, data]) => {
    const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
    if (
      raw.startsWith('/') ||
      /^[A-Za-z]:/.test(raw) ||
      raw.includes('\\') ||
      raw.includes('\0') ||
      parts.includes('..') ||
      parts.length === 0
    ) {
      fail(
        'ARCHIVE_INVALID',
        `overlay path ${JSON.stringify(raw)} must be a relative path inside the source tree (no "..", no leading "/", no backslashes); rename the overlay file`,
      );
    }
    return [parts.join('/'), data] as const;
  });
  for (const [path, data] of files) tree.set(path, { data, executable: false });
  checkNoFileIsADirectory(tree, 'overlay');
}

/**
 * Applies unified diffs in order like `patch -p<strip> --fuzz 0 --ignore-whitespace`: modified, created
 * (/dev/null or epoch-dated source) and deleted files. A hunk that does not apply → ARCHIVE_INVALID.
 */
export function applyPatches(tree: SourceTree, patches: Array<{ name: string; text: string }>, strip: number): void {
  for (const patch of patches) {
    let files: StructuredPatch[];
    try {
      files = parsePatch(patch.text);
    } catch (err) {
      fail(
        'ARCHIVE_INVALID',
        `patch ${patch.name} is not a valid unified diff (${(err as Error).message}); regenerate it with \`diff -u\` or \`git diff\``,
      );
    }
    files = files.filter((f) => f.hunks.length > 0);
    // jsdiff reads a garbled "@@ … @@" line as a hunk with null positions, which it cannot apply.
    const garbled = files
      .flatMap((f) => f.hunks)
      .find((h) => ![h.oldStart, h.oldLines, h.newStart, h.newLines].every(Number.isSafeInteger));
    if (garbled)
      fail(
        'ARCHIVE_INVALID',
        `patch ${patch.name} has a malformed hunk header (@@ -${garbled.oldStart},${garbled.oldLines} +${garbled.newStart},${garbled.newLines} @@); regenerate it with \`diff -u\` or \`git diff\``,
      );
    if (files.length === 0)
      fail('ARCHIVE_INVALID', `patch ${patch.name} contains no hunks; regenerate it with \`diff -u\` or \`git diff\``);
    let hunksBefore = 0;
    for (const file of files) {
      applyFilePatch(tree, patch, file, strip, hunksBefore);
      hunksBefore += file.hunks.length;
    }
  }
}

// --- archives ---------------------------------------------------------------------------------

function prefixParts(stripPrefix: string): string[] {
  const parts = stripPrefix.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || stripPrefix.includes('\\')) {
    fail(
      'METADATA_INVALID',
      `strip_prefix ${JSON.stringify(stripPrefix)} must not contain ".." or backslashes; name the top directory of the archive`,
    );
  }
  return parts;
}

function checkNoFileIsADirectory(tree: SourceTree, what = 'archive'): void {
  for (const path of tree.keys()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (tree.has(dir)) fail('ARCHIVE_INVALID', `the ${what} has both a file ${dir} and a file ${path} under it; remove one of them`);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Bazel's rules: files and directories only, under strip_prefix (removed), later entries win; in BCR's words. */
function sourceGate(root: string | undefined, limits: TreeLimits, kind: ArchiveKind): GateOptions {
  const fix = 'publish a smaller archive';
  const messages = gateMessages('the source archive', fix, {
    badPath: (shown, why) => `the archive entry ${shown} ${why}; rebuild the archive without it`,
    outsideRoot: (shown, prefix) =>
      `the archive entry ${shown} is not under strip_prefix ${JSON.stringify(prefix)}; every file must lie under it (check strip_prefix in source.json); rebuild the archive without it`,
    link: (shown, target, type) =>
      `the source archive contains a ${type === 'link' ? 'hardlink' : 'symlink'} ${shown} -> ${target}; links are not allowed, replace it with a copy of the file`,
    badType: (shown, type) => `the source archive entry ${shown} is a ${type}; only regular files and directories are allowed`,
    directoryWithContent: (shown) => `the source archive's directory entry ${shown} claims to have content; rebuild the archive`,
    notGzip: () => 'the source archive is not gzip-compressed (it must start with bytes 1f 8b); check archive_type or the file name',
    notCompressed: (compression, magic) =>
      `the source archive is not ${compression}-compressed (it must start with bytes ${magic}); check archive_type or the file name`,
    corrupt: (stage, detail) =>
      stage === 'zip' || stage === 'ar'
        ? `the source ${stage} archive is invalid (${detail}); rebuild it without such entries, or check archive_type and the file name`
        : `the source archive is not ${kind.container === 'tar' && kind.compression ? `a valid ${kind.compression}-compressed tar archive` : 'a valid tar archive'} (${detail}); it may be truncated or of another type`,
  });
  return { root, limits, messages };
}

// --- patches ----------------------------------------------------------------------------------

function applyFilePatch(
  tree: SourceTree,
  patch: { name: string; text: string },
  file: StructuredPatch,
  strip: number,
  hunksBefore: number,
): void {
  const absent = (name: string | undefined, header: string | undefined) => name === '/dev/null' || isEpoch(header);
  const creates = absent(file.oldFileName, file.oldHeader);
  const deletes = absent(file.newFileName, file.newHeader);
  const candidates = [creates ? null : stripPath(file.oldFileName, strip), deletes ? null : stripPath(file.newFileName, strip)];
  const named = candidates.filter((c): c is string => c !== null);
  const where = `patch ${patch.name}`;
  if (named.length === 0)
    fail(
      'ARCHIVE_INVALID',
      `${where} has a file header with no usable name for --strip ${strip} (${file.oldFileName} / ${file.newFileName}); check patch_strip`,
    );
  for (const n of named) {
    if (n.startsWith('/') || n.split('/').includes('..') || n.includes('\0'))
      fail('ARCHIVE_INVALID', `${where} names ${printable(n)}, which is outside the source tree; fix the file names in the patch`);
  }
  let target: string;
  if (creates) {
    target = named[0];
    if (tree.has(target))
      fail(
        'ARCHIVE_INVALID',
        `${where} creates ${target}, which already exists in the source tree; patch it instead, or check patch_strip`,
      );
    checkFreePath(tree, target, where);
  } else {
    // Like GNU patch: among the names that exist, fewest components, then shortest basename, then shortest.
    const existing = named.filter((n) => tree.has(n));
    const score = (n: string) => [n.split('/').length, n.split('/').pop()!.length, n.length];
    existing.sort((a, b) => score(a).reduce((d, v, i) => d || v - score(b)[i], 0));
    if (existing.length === 0)
      fail(
        'ARCHIVE_INVALID',
        `${where} modifies ${named.join(' / ')}, which is not in the source tree (after overlays, with --strip ${strip}); check patch_strip and the file names`,
      );
    target = existing[0];
  }
  const old = tree.get(target);
  if (old?.skipped) fail('INTERNAL', `${where} modifies ${target}, whose contents were not kept while unpacking`);
  const { text, encoding } = decode(old?.data ?? Buffer.alloc(0));
  const options = { fuzzFactor: 0, compareLine: (_n: number, line: string, _op: string, content: string) => looseEqual(line, content) };
  const { anchored, misfit } = anchorHunks(file, text);
  const result = misfit < 0 ? applyPatch(text, anchored, options) : false;
  if (result === false) {
    // Find the first hunk that fails: earlier hunks apply on their own (hunk positions refer to the original).
    let i = 0;
    while (
      i < file.hunks.length - 1 &&
      i !== misfit &&
      applyPatch(text, { ...anchored, hunks: anchored.hunks.slice(0, i + 1) }, options) !== false
    )
      i++;
    const at = hunkHeader(patch.text, hunksBefore + i);
    fail(
      'ARCHIVE_INVALID',
      `${where}: hunk #${i + 1} for ${target} (line ${at.line}: ${at.header}) does not apply to the source tree; regenerate the patch against the published archive (after overlays and earlier patches)`,
    );
  }
  if (deletes) {
    if (result !== '')
      fail('ARCHIVE_INVALID', `${where} deletes ${target}, but the file has content the patch does not remove; regenerate the patch`);
    tree.delete(target);
    return;
  }
  tree.set(target, { data: Buffer.from(result, encoding), executable: old?.executable ?? false });
}

/** A created file must not sit under another file nor where a directory is. */
function checkFreePath(tree: SourceTree, path: string, where: string): void {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    if (tree.has(dir)) fail('ARCHIVE_INVALID', `${where} creates ${path}, but ${dir} is a file; fix the file names in the patch`);
  }
  for (const other of tree.keys()) {
    if (other.startsWith(`${path}/`))
      fail('ARCHIVE_INVALID', `${where} creates ${path}, but it is a directory in the source tree; fix the file names in the patch`);
  }
}

/**
 * GNU patch without fuzz: a hunk with less leading than trailing context that starts at line 1 must match
 * at the start of the file, one with less trailing context at its end. jsdiff tries a hunk's stated
 * position first, so such hunks are pinned there; `misfit` is the first that does not match there.
 */
function anchorHunks(file: StructuredPatch, text: string): { anchored: StructuredPatch; misfit: number } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let misfit = -1;
  const hunks = file.hunks.map((h, i) => {
    const body = h.lines.filter((l) => !l.startsWith('\\'));
    const prefix = body.findIndex((l) => l[0] !== ' ');
    const suffix = [...body].reverse().findIndex((l) => l[0] !== ' ');
    const old = body.filter((l) => l[0] === ' ' || l[0] === '-').map((l) => l.slice(1));
    let start: number;
    if (prefix < 0 || suffix < 0 || prefix === suffix) return h;
    else if (prefix < suffix && h.oldStart <= 1) start = 1;
    else if (suffix < prefix) start = lines.length - old.length + 1;
    else return h;
    const cr = (s: string | undefined) => s?.replace(/\r$/, '');
    if (start < 1 || !old.every((l, k) => looseEqual(cr(lines[start - 1 + k]), cr(l)))) {
      if (misfit < 0) misfit = i;
      return h;
    }
    return { ...h, oldStart: start };
  });
  // jsdiff searches outwards from a hunk's position one line at a time: a position far past the end of
  // the file (@@ -99999999999 …) would hold the event loop for hours. From just past the end, it finds the same lines.
  const near = hunks.map((h) => (h.oldStart > lines.length + 1 ? { ...h, oldStart: lines.length + 1 } : h));
  return { anchored: { ...file, hunks: near }, misfit };
}

/** `patch -p<n>`: drops n leading components; null when the name has too few. */
function stripPath(name: string | undefined, strip: number): string | null {
  if (!name) return null;
  const parts = name.split('/');
  // Repeated slashes count as one separator; a leading "/" is the first component boundary.
  const kept = parts.slice(0, 1).concat(parts.slice(1).filter((p) => p !== ''));
  if (kept.length <= strip) return null;
  const rest = kept.slice(strip);
  const names = rest.filter((p) => p !== '' && p !== '.');
  return names.length ? (rest[0] === '' ? '/' : '') + names.join('/') : null;
}

/** `diff -N` marks a missing file with a timestamp of the epoch (in any time zone). */
function isEpoch(header: string | undefined): boolean {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d\d)(\d\d)$/.exec(header?.trim() ?? '');
  return m !== null && Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`) === 0;
}

/** GNU patch --ignore-whitespace: runs of blanks match runs of blanks; trailing blanks are ignored. */
function looseEqual(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false; // lines past the end of the file
  const norm = (s: string) => s.replace(/[ \t]+/g, ' ').replace(/ $/, '');
  return a === b || norm(a) === norm(b);
}

/** UTF-8 when valid, else latin1, so that bytes survive a round trip. */
function decode(data: Buffer): { text: string; encoding: BufferEncoding } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data), encoding: 'utf8' };
  } catch {
    return { text: data.toString('latin1'), encoding: 'latin1' };
  }
}

/** The n-th (0-based) hunk header of the patch text and its 1-based line. */
function hunkHeader(text: string, n: number): { line: number; header: string } {
  const lines = text.split('\n');
  let seen = -1;
  for (let i = 0; i < lines.length; i++) {
    if (/^@@ -\d/.test(lines[i]) && ++seen === n) return { line: i + 1, header: printable(lines[i].replace(/\r$/, '')) };
  }
  return { line: 0, header: '' };
}

function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}
