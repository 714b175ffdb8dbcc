import { crc32, gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** A tar entry: header fields plus an optional body. */
export type TarEntry = Partial<tar.Header> & { name: string; body?: string | Buffer };

/** A fixed mtime (the one `cargo package` writes, 2006-07-24), so equal inputs give equal bytes. */
const CARGO_MTIME = new Date(Date.UTC(2006, 6, 24, 1, 21, 28));

/** Packs entries into an uncompressed tar, in order, exactly as given (no path checks). */
export async function tarball(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { body, ...header } of entries) {
    const isFile = header.type === undefined || header.type === 'file' || header.type === 'contiguous-file';
    if (isFile) pack.entry({ mtime: CARGO_MTIME, type: 'file', ...header }, body ?? '');
    else pack.entry({ mtime: CARGO_MTIME, ...header });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A gzip tar of the entries. */
export async function tarGz(entries: TarEntry[]): Promise<Buffer> {
  return gzipSync(await tarball(entries), { level: 9 });
}

/** A zip entry: name, data, unix mode (symlinks are 0o120777), and header lies for hostile zips. */
export interface ZipEntry {
  name: string;
  data?: Buffer;
  mode?: number;
  /** Declared uncompressed size instead of the real one. */
  declaredSize?: number;
  /** Stored with a wrong CRC. */
  badCrc?: boolean;
  /** Already deflated (method 8): the compressed bytes, the CRC and size of what they inflate to. */
  deflated?: { data: Buffer; crc: number; size: number };
}

/** A zip (no zip64) as a Unix zip makes it (modes in the external attributes): stored entries, or already-deflated ones. */
export function makeZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const method = e.deflated ? 8 : 0;
    const data = e.deflated?.data ?? e.data ?? Buffer.alloc(0);
    const realCrc = e.deflated?.crc ?? crc32(data);
    const crc = e.badCrc ? realCrc ^ 1 : realCrc;
    const size = e.declaredSize ?? e.deflated?.size ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6); // names are UTF-8
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size >>> 0, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size >>> 0, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((((e.mode ?? (e.name.endsWith('/') ? 0o40755 : 0o100644)) & 0xffff) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** An ar member: name, data, octal mode; `raw` puts the 16-byte name field as given (GNU `/N`, BSD `#1/N`, hostile names). */
export interface ArMember {
  name: string;
  data?: Buffer | string;
  mode?: number;
  /** Overrides the size field (a lie). */
  declaredSize?: string;
}

/** An ar archive as GNU ar writes it (`name/`), or with BSD long names (`#1/N`, the name before the data). */
export function makeAr(members: ArMember[], style: 'gnu' | 'bsd' = 'gnu'): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    let data = typeof m.data === 'string' ? Buffer.from(m.data) : (m.data ?? Buffer.alloc(0));
    let field = `${m.name}/`;
    if (style === 'bsd') {
      const name = Buffer.from(m.name);
      field = `#1/${name.length}`;
      data = Buffer.concat([name, data]);
    }
    const header =
      field.padEnd(16) +
      '0'.padEnd(12) +
      '0'.padEnd(6) +
      '0'.padEnd(6) +
      (m.mode ?? 0o644).toString(8).padEnd(8) +
      (m.declaredSize ?? String(data.length)).padEnd(10) +
      '`\n';
    parts.push(Buffer.from(header, 'latin1'), data);
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}
