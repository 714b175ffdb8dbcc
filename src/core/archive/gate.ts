import { LarderError } from '../errors.js';
import { formatSize } from '../units.js';

/** What the gate lets through: a checked entry of a tar, tar.gz or zip archive. */
export interface GatedEntry {
  /** The entry's name as the archive spells it. */
  name: string;
  /** Normalised path components below the root (the root prefix removed); never empty. */
  parts: string[];
  /** `parts` joined by "/". */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  /** Declared size in bytes (0 for all but files). */
  size: number;
  /** Unix mode bits (permissions), 0 when the archive has none. */
  mode: number;
  /** Link target as stored (symlinks), or the target's path below the root (hardlinks). */
  linkname?: string;
  /** The file's bytes (exactly `size` of them); empty for other types. Whatever the visitor leaves is drained. */
  body: AsyncIterable<Buffer>;
}

/** Called once per entry, in archive order; the next entry is read after it resolves. */
export type GateVisitor = (entry: GatedEntry) => Promise<void> | void;

/**
 * How links are treated: refused; allowed when they stay inside the root (`inside`); or (symlinks only,
 * for trees read back from storage) kept whatever they point to (`any`), since nothing follows them.
 */
export type LinkPolicy = 'reject' | 'inside' | 'any';

/** Limits enforced while the archive streams. */
export interface GateLimits {
  maxEntries: number;
  /** Sum of the files' sizes, and (for compressed tars) the inflated stream, with room for headers. */
  maxUnpackedSize: number;
  /** Inflated bytes per compressed byte, checked once more than RATIO_FLOOR bytes came out; unset: no ratio rule. */
  maxRatio?: number;
}

/** The rules one format asks of its archives; the gate's behaviour is the same for tar, tar.gz and zip. */
export interface GateOptions {
  limits: GateLimits;
  /** Every entry must lie under this directory, which is removed from `parts` (Cargo's `{name}-{version}`, Bazel's strip_prefix). */
  root?: string;
  symlinks?: LinkPolicy;
  hardlinks?: LinkPolicy;
  /** `strict`: "." and empty path components are refused (not normalised); `lenient` (default): dropped. */
  paths?: 'strict' | 'lenient';
  /** `reject`: a file twice, a file under a file, or a file where a directory is, is refused; `allow` (default): later wins. */
  duplicates?: 'reject' | 'allow';
  /** The messages clients see: defaults say `{what} …; {fix}`, a format may reword any of them. */
  messages: GateMessages;
}

/** Every refusal the gate can make, worded by the format for its client. `shown` is the escaped entry name. */
export interface GateMessages {
  tooManyEntries(max: number): string;
  tooLarge(max: number): string;
  badPath(shown: string, why: string): string;
  outsideRoot(shown: string, root: string): string;
  link(shown: string, target: string, type: 'symlink' | 'link'): string;
  badType(shown: string, type: string): string;
  /** A directory entry with a declared size (tar-stream would never end its body). */
  directoryWithContent(shown: string): string;
  duplicate(shown: string): string;
  conflict(file: string, shown: string): string;
  notGzip(): string;
  /** An xz, zstd or bzip2 stream does not start with its magic bytes (`magic`, as hex). */
  notCompressed(compression: 'xz' | 'zstd' | 'bzip2', magic: string): string;
  /** The container is damaged; `stage` says which layer noticed. */
  corrupt(stage: ArchiveStage, detail: string): string;
}

/** The layer of an archive that found it damaged: a decompressor, a container, or the input's end. */
export type ArchiveStage = 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'tar' | 'zip' | 'ar' | 'truncated';

/** Inflated bytes below this never trip the ratio rule (small archives compress well legitimately). */
export const RATIO_FLOOR = 8 << 20;
/** Room for tar headers, long-name records and the final record padding on top of the file contents. */
const TAR_OVERHEAD_PER_ENTRY = 2048;
const TAR_RECORD = 10240;

/** Default wording: `what` names the archive ("the .crate"), `fix` says what to do ("rebuild it with `cargo package`"). */
export function gateMessages(what: string, fix: string, overrides: Partial<GateMessages> = {}): GateMessages {
  return {
    tooManyEntries: (max) => `${what} has more than ${max} entries, the limit of this registry; ${fix}`,
    tooLarge: (max) => `${what} unpacks to more than ${formatSize(max)}, the limit of this registry; ${fix}`,
    badPath: (shown, why) => `${what} entry ${shown} ${why}; ${fix}`,
    outsideRoot: (shown, root) => `${what} entry ${shown} is not inside ${root}/; ${fix}`,
    link: (shown, target, type) => `${what} contains a ${type === 'link' ? 'hardlink' : 'symlink'} ${shown} -> ${target}; ${fix}`,
    badType: (shown, type) => `${what} entry ${shown} is a ${type}; only regular files and directories are allowed; ${fix}`,
    directoryWithContent: (shown) => `${what}'s directory entry ${shown} claims to have content; ${fix}`,
    duplicate: (shown) => `${what} contains ${shown} more than once; ${fix}`,
    conflict: (file, shown) => `${what} has both a file ${file} and the entry ${shown} at or under it; ${fix}`,
    notGzip: () => `${what} is not gzip-compressed (it must start with bytes 1f 8b); ${fix}`,
    notCompressed: (compression, magic) => `${what} is not ${compression}-compressed (it must start with bytes ${magic}); ${fix}`,
    corrupt: (stage, detail) =>
      stage === 'truncated'
        ? `${what} ended before the archive was complete; retry the upload`
        : `${what} is not a valid ${COMPRESSIONS.has(stage) ? `${stage} stream` : `${stage} archive`} (${detail}); ${fix}`,
    ...overrides,
  };
}

const COMPRESSIONS = new Set<ArchiveStage>(['gzip', 'xz', 'zstd', 'bzip2']);

/** A name as it may appear in a message: control characters, quotes and backslashes escaped. */
export function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** The most a tar stream may inflate to for these limits: the files plus room for their headers. */
export function maxTarStream(limits: GateLimits): number {
  return limits.maxUnpackedSize + TAR_OVERHEAD_PER_ENTRY * limits.maxEntries + TAR_RECORD;
}

/** The raw facts of one entry, as a container reader found them. */
export interface RawEntry {
  name: string;
  /** A tar type name, or what a zip's mode says. */
  type: string;
  size: number;
  mode: number;
  linkname?: string;
}

/**
 * The rules, independent of the container: entry count, declared sizes, path rules, root, links,
 * duplicates. `admit` returns the normalised entry, or null for the root directory and its parents.
 */
export class EntryGate {
  private entries = 0;
  private claimed = 0;
  private readonly root: string[];
  private readonly symlinks = new Set<string>();
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();

  constructor(readonly options: GateOptions) {
    this.root = options.root ? options.root.split('/').filter((p) => p !== '' && p !== '.') : [];
  }

  /** The error for `code` with the format's message. */
  refuse(code: 'ARCHIVE_INVALID' | 'ARCHIVE_TOO_LARGE', message: string): never {
    throw new LarderError(code, message);
  }

  /** Counts an entry before anything else is looked at. */
  count(): void {
    if (++this.entries > this.options.limits.maxEntries) this.tooMany();
  }

  /** Refuses an archive whose directory already announces more entries than allowed (zip). */
  announce(entries: number): void {
    if (entries > this.options.limits.maxEntries) this.tooMany();
  }

  /** Adds declared file bytes; fails a bomb before it is inflated. */
  claim(bytes: number): void {
    this.claimed += bytes;
    if (this.claimed > this.options.limits.maxUnpackedSize)
      this.refuse('ARCHIVE_TOO_LARGE', this.options.messages.tooLarge(this.options.limits.maxUnpackedSize));
  }

  /** Zip: the declared sizes of one entry must respect the ratio rule. */
  checkRatio(inflated: number, compressed: number): void {
    const max = this.options.limits.maxRatio;
    if (max !== undefined && inflated > RATIO_FLOOR && inflated > max * Math.max(compressed, 1)) this.tooLarge();
  }

  tooLarge(): never {
    this.refuse('ARCHIVE_TOO_LARGE', this.options.messages.tooLarge(this.options.limits.maxUnpackedSize));
  }

  private tooMany(): never {
    this.refuse('ARCHIVE_TOO_LARGE', this.options.messages.tooManyEntries(this.options.limits.maxEntries));
  }

  /** Applies every rule to one entry (already counted); null when it is the root directory or above it. */
  admit(raw: RawEntry): Omit<GatedEntry, 'body'> | null {
    const { messages: m } = this.options;
    const shown = printable(raw.name);
    const invalid = (message: string): never => this.refuse('ARCHIVE_INVALID', message);
    const bad = (why: string): never => invalid(m.badPath(shown, why));
    const type = raw.type === 'contiguous-file' ? 'file' : raw.type;
    if (type === 'symlink' || type === 'link') {
      const policy = (type === 'symlink' ? this.options.symlinks : this.options.hardlinks) ?? 'reject';
      if (policy === 'reject') invalid(m.link(shown, printable(raw.linkname ?? ''), type));
    } else if (type !== 'file' && type !== 'directory') {
      invalid(m.badType(shown, type || 'entry of unknown type'));
    }
    // tar-stream ignores a directory's declared size and never ends its body: refuse, as GNU tar and Tar.jl do.
    if (type === 'directory' && raw.size > 0) invalid(m.directoryWithContent(shown));
    const name = raw.name;
    if (name === '') bad('has an empty path');
    if (name.includes('\0') || (raw.linkname ?? '').includes('\0')) bad('contains a NUL byte');
    if (name.includes('\\')) bad('contains a backslash');
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) bad('is an absolute path');
    const split = name.split('/');
    if (split.includes('..')) bad('contains a ".." component');
    if (this.options.paths === 'strict') {
      // A trailing "/" (directory entries) is the only empty component allowed.
      if (split.some((p, i) => p === '.' || (p === '' && i !== split.length - 1))) bad('is not a normalised path');
    }
    if (type !== 'directory' && (name.endsWith('/') || split.at(-1) === '.')) bad('is not a directory but its path ends in "/" or "."');
    const all = split.filter((p) => p !== '' && p !== '.');
    const root = this.root;
    const under = all.length > root.length && root.every((p, i) => all[i] === p);
    if (!under) {
      if (type === 'directory' && all.every((p, i) => root[i] === p)) return null; // the root itself, or above it
      if (all.length === 0) bad('has an empty path');
      invalid(m.outsideRoot(shown, root.join('/')));
    }
    const parts = all.slice(root.length);
    const path = parts.join('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.symlinks.has(dir)) bad(`lies under the symlink ${printable(dir)}`);
    }
    let linkname = raw.linkname;
    if (type === 'symlink' || type === 'link') linkname = this.checkLink(type, parts, raw.linkname ?? '', bad);
    if (type === 'symlink') this.symlinks.add(path);
    if (this.options.duplicates === 'reject') this.checkDuplicate(type, parts, shown);
    return { name, parts, path, type: type as GatedEntry['type'], size: type === 'file' ? raw.size : 0, mode: raw.mode, linkname };
  }

  /** A link's target must stay inside the root: symlinks relative to their directory, hardlinks to the archive's top. */
  private checkLink(type: 'symlink' | 'link', parts: string[], target: string, bad: (why: string) => never): string {
    const kind = type === 'link' ? 'hardlink' : 'symlink';
    if (target === '') bad(`is a ${kind} with an empty target`);
    if (type === 'symlink' && this.options.symlinks === 'any') return target;
    if (target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.includes('\\')) bad(`is a ${kind} pointing outside the archive`);
    const segments = target.split('/').filter((p) => p !== '' && p !== '.');
    if (type === 'symlink') {
      const at = parts.slice(0, -1);
      for (const s of segments) {
        if (s !== '..') at.push(s);
        else if (at.pop() === undefined) bad(`is a symlink pointing outside the archive (${printable(target)})`);
      }
      return target;
    }
    const root = this.root;
    if (segments.includes('..') || !(segments.length > root.length && root.every((p, i) => segments[i] === p)))
      bad(`is a hardlink pointing outside the archive (${printable(target)})`);
    return segments.slice(root.length).join('/');
  }

  private checkDuplicate(type: string, parts: string[], shown: string): void {
    const { messages: m } = this.options;
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.files.has(dir)) this.refuse('ARCHIVE_INVALID', m.conflict(printable(dir), shown));
      this.dirs.add(dir);
    }
    const path = parts.join('/');
    if (type === 'directory') {
      if (this.files.has(path)) this.refuse('ARCHIVE_INVALID', m.conflict(printable(path), shown));
      this.dirs.add(path);
      return;
    }
    if (this.dirs.has(path)) this.refuse('ARCHIVE_INVALID', m.conflict(printable(path), shown));
    if (this.files.has(path)) this.refuse('ARCHIVE_INVALID', m.duplicate(shown));
    this.files.add(path);
  }
}

/** Raises `err` as a LarderError of the gate if it is one, else as the format's "damaged archive" message. */
export function asArchiveError(err: unknown, messages: GateMessages, stage: ArchiveStage): LarderError {
  if (err instanceof LarderError) return err;
  return new LarderError('ARCHIVE_INVALID', messages.corrupt(stage, (err as Error)?.message ?? String(err)));
}
