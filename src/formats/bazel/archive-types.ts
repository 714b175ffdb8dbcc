/**
 * Bazel's archive types for `archive` sources (DecompressorValue in Bazel's source): the `archive_type` names
 * it accepts, and the file-name suffixes it matches, in its order, when `archive_type` is absent. A type Bazel
 * knows but Larder cannot check yet (single compressed files, 7z, brotli) is refused with that said.
 */
import { fail } from '../../core/errors.js';
import type { Compression } from '../../core/archive/index.js';

/** How an archive of one type is read: zip, ar (deb too), or tar with an optional compression. */
export type ArchiveKind = { container: 'zip' } | { container: 'ar' } | { container: 'tar'; compression?: Compression };

/** Bazel's list, in the order it tries file-name suffixes; `kind: null` = Bazel knows it, Larder does not check it. */
const BAZEL_TYPES: Array<{ types: string[]; kind: ArchiveKind | null }> = [
  { types: ['zip', 'jar', 'war', 'aar', 'nupkg', 'whl'], kind: { container: 'zip' } },
  { types: ['tar'], kind: { container: 'tar' } },
  { types: ['tar.gz', 'tgz'], kind: { container: 'tar', compression: 'gzip' } },
  { types: ['gz'], kind: null },
  { types: ['tar.xz', 'txz'], kind: { container: 'tar', compression: 'xz' } },
  { types: ['xz'], kind: null },
  { types: ['tar.zst', 'tzst'], kind: { container: 'tar', compression: 'zstd' } },
  { types: ['zst'], kind: null },
  { types: ['tar.bz2', 'tbz'], kind: { container: 'tar', compression: 'bzip2' } },
  { types: ['bz2'], kind: null },
  { types: ['ar', 'deb'], kind: { container: 'ar' } },
  { types: ['7z'], kind: null },
  { types: ['tar.br'], kind: null },
  { types: ['br'], kind: null },
];

const supported = BAZEL_TYPES.filter((t) => t.kind).flatMap((t) => t.types);
const listed = (prefix: string) => {
  const all = supported.map((t) => `${prefix}${t}`);
  return `${all.slice(0, -1).join(', ')} or ${all.at(-1)}`;
};

/** The types this registry checks, for messages and documentation. */
export const SUPPORTED_ARCHIVE_TYPES: readonly string[] = supported;

/**
 * The kind of an archive: from `archiveType` when given (Bazel's exact names), else from the last path
 * segment of `fileName` (a URL's query and fragment dropped) ending in `.{type}`, matched in Bazel's order and
 * case-sensitively, as Bazel does. Unknown or unchecked types fail with METADATA_INVALID.
 */
export function archiveKind(fileName: string, archiveType?: string): ArchiveKind {
  if (archiveType !== undefined) {
    const found = BAZEL_TYPES.find((t) => t.types.includes(archiveType));
    if (!found)
      fail('METADATA_INVALID', `archive_type ${JSON.stringify(archiveType)} is not an archive type Bazel knows; use one of ${listed('')}`);
    return found.kind ?? unchecked(`archive_type ${JSON.stringify(archiveType)}`);
  }
  const base = fileName.split(/[?#]/)[0]!.split('/').pop() ?? '';
  const found = BAZEL_TYPES.find((t) => t.types.some((type) => base.endsWith(`.${type}`)));
  if (!found)
    fail(
      'METADATA_INVALID',
      `cannot tell the archive type of ${JSON.stringify(fileName)}: Bazel needs its name to end in ${listed('.')} (case matters), or archive_type in source.json`,
    );
  return found.kind ?? unchecked(`the archive ${JSON.stringify(base)}`);
}

function unchecked(what: string): never {
  fail(
    'METADATA_INVALID',
    `${what} is of a type Bazel reads but this registry cannot check (a single compressed file, 7z or brotli); publish it as one of ${listed('')}`,
  );
}
