/**
 * Module zips (protocols/moonbit.md §5.3): read through the shared archive gate when a publish
 * arrives, and written by `larder moonbit publish` the way `moon package` lays them out: the module
 * root (moon.mod.json) at the zip root, sane Unix modes, a deterministic order and time.
 */
import { crc32, deflateRawSync } from 'node:zlib';
import { fail, LarderError } from '../../core/errors.js';
import { gateMessages, gateZip, printable, type GateLimits } from '../../core/archive/index.js';
import { mayBeReadme, pickReadme, README_MAX_BYTES, readmeField } from './readme.js';

/** The manifest files moon recognises at a module root, in the order they are looked for. */
export const MANIFEST_FILES = ['moon.mod.json', 'moon.mod'] as const;
export type ManifestFile = (typeof MANIFEST_FILES)[number];

/** What a publish needs from the zip: its manifest and README (the rest is stored byte-for-byte, never unpacked). */
export interface ModuleZip {
  file: ManifestFile;
  manifest: Buffer;
  /** The README's Markdown (see readme.ts), its first README_MAX_BYTES; absent when the zip has none. */
  readme?: string;
}

const FIX = 'rebuild it with `moon package` or `larder moonbit publish`';

/**
 * Checks every entry of an uploaded zip through the archive gate (no `..`, absolute paths, links,
 * duplicates, device files; entry count, unpacked size and ratio bounded) and returns the manifest
 * at its root and the README it names (only README candidates are kept, each bounded). A manifest only under a wrapping directory is refused: moon would install the
 * module one level too deep (trap 12).
 */
export async function readModuleZip(zip: Buffer, limits: GateLimits & { maxManifestSize: number }): Promise<ModuleZip> {
  const found = new Map<ManifestFile, Buffer>();
  const nested: string[] = [];
  const readmes = new Map<string, Buffer>();
  // The README the manifest names: undefined until the manifest is read (entries come in any order).
  let wanted: string | null | undefined;
  await gateZip(
    zip,
    {
      limits,
      symlinks: 'reject',
      hardlinks: 'reject',
      paths: 'strict',
      duplicates: 'reject',
      messages: gateMessages('the module zip', FIX),
    },
    async (entry) => {
      if (entry.type !== 'file') return;
      const base = entry.parts.at(-1) as ManifestFile;
      if (!(MANIFEST_FILES as readonly string[]).includes(base)) {
        if (mayBeReadme(entry.path, wanted, readmes.keys())) readmes.set(entry.path, await readBounded(entry.body));
        return;
      }
      if (entry.parts.length > 1) {
        nested.push(entry.path);
        return;
      }
      if (entry.size > limits.maxManifestSize)
        fail(
          'METADATA_INVALID',
          `${base} is ${entry.size} bytes, more than this registry's ${limits.maxManifestSize} (limits.max_metadata_size)`,
        );
      const chunks: Buffer[] = [];
      for await (const c of entry.body) chunks.push(c);
      const manifest = Buffer.concat(chunks);
      found.set(base, manifest);
      wanted = readmeField(base, manifest);
    },
  );
  if (found.size > 1) fail('METADATA_INVALID', 'the module zip has both moon.mod.json and moon.mod at its root; keep one manifest');
  const [first] = found;
  if (first) {
    const readme = pickReadme(readmes, readmeField(first[0], first[1]));
    return readme === undefined ? { file: first[0], manifest: first[1] } : { file: first[0], manifest: first[1], readme };
  }
  const wrapped = nested.find((p) => p.split('/').length === 2);
  if (wrapped)
    fail(
      'ARCHIVE_INVALID',
      `the module zip wraps the module in a directory (${printable(wrapped)}); moon.mod.json must be at the zip root: zip the module's contents, not its directory (or use \`moon package\`)`,
    );
  fail('ARCHIVE_INVALID', `the module zip has no moon.mod.json (or moon.mod) at its root; ${FIX}`);
}

/** The first README_MAX_BYTES of an entry; the rest is read and dropped (never `break`: the gate must see every byte to check sizes). */
async function readBounded(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    if (size >= README_MAX_BYTES) continue;
    const kept = c.subarray(0, README_MAX_BYTES - size);
    chunks.push(kept);
    size += kept.length;
  }
  return Buffer.concat(chunks);
}

/** A file to write into a zip: a `/`-separated path, its bytes, and whether it is executable. */
export interface ZipFileEntry {
  path: string;
  data: Buffer;
  executable?: boolean;
}

/** 1980-01-01 00:00 in DOS form: every zip the CLI writes from the same files is the same bytes. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
const UTF8_FLAG = 0x800;
const UNIX = 3 << 8;

/**
 * Writes a zip the way moon extracts it: files sorted by path with their directories before them
 * (mode 0755), files 0644 or 0755 when executable, deflated when that is smaller, UTF-8 names, a
 * fixed timestamp. No zip64: more than 65535 entries or 4 GiB is refused.
 */
export function writeZip(files: ZipFileEntry[]): Buffer {
  const entries = new Map<string, { data: Buffer; mode: number }>();
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (!entries.has(dir)) entries.set(dir, { data: Buffer.alloc(0), mode: 0o40755 });
    }
    entries.set(f.path, { data: f.data, mode: f.executable ? 0o100755 : 0o100644 });
  }
  if (entries.size > 0xffff)
    throw new LarderError(
      'ARCHIVE_TOO_LARGE',
      `the module has ${entries.size} files and directories; a zip without zip64 holds at most 65535`,
    );
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [path, { data, mode }] of entries) {
    const name = Buffer.from(path, 'utf8');
    const deflated = data.length > 0 ? deflateRawSync(data, { level: 9 }) : data;
    const method = deflated.length < data.length ? 8 : 0;
    const body = method === 8 ? deflated : data;
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(UTF8_FLAG, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(UNIX | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(UTF8_FLAG, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    // External attributes: the Unix mode in the high half; MS-DOS directory bit for directories.
    central.writeUInt32LE(((mode << 16) | (path.endsWith('/') ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
    if (offset > 0xffffffff)
      throw new LarderError('ARCHIVE_TOO_LARGE', 'the module is larger than 4 GiB; a zip without zip64 cannot hold it');
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.size, 8);
  end.writeUInt16LE(entries.size, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
