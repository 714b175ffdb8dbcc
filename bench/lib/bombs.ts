/**
 * Decompression bombs for bench/abuse: small uploads that inflate to hundreds of MiB of zeros,
 * written with bounded memory (the zeros are streamed through the compressor, never held).
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createDeflateRaw, createGzip, crc32 } from 'node:zlib';
import tar from 'tar-stream';

const CHUNK = Buffer.alloc(1 << 20);

/** `bytes` zeros as a stream of one reused 1 MiB buffer. */
function zeros(bytes: number): Readable {
  return Readable.from(
    (function* () {
      for (let left = bytes; left > 0; left -= CHUNK.length) yield left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    })(),
  );
}

/**
 * Writes a Julia package tarball (.tar.gz, gzip -9) to `file`: Project.toml, src/{name}.jl and
 * data/zeros.bin of `zeroBytes` zeros, so ~450 KiB on the wire inflate to ~450 MiB.
 */
export async function writeJuliaBomb(file: string, pkg: { name: string; uuid: string; version: string; zeroBytes: number }): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createGzip({ level: 9 }), fs.createWriteStream(file));
  const base = { mtime: new Date(0), uid: 0, gid: 0 };
  pack.entry(
    { ...base, name: 'Project.toml' },
    `name = "${pkg.name}"\nuuid = "${pkg.uuid}"\nversion = "${pkg.version}"\n\n[compat]\njulia = "1.6"\n`,
  );
  pack.entry({ ...base, name: `src/${pkg.name}.jl` }, `module ${pkg.name}\nend\n`);
  const entry = pack.entry({ ...base, name: 'data/zeros.bin', size: pkg.zeroBytes });
  await pipeline(zeros(pkg.zeroBytes), entry);
  pack.finalize();
  await written;
}

/** Raw deflate of `bytes` zeros (level 9), with the CRC-32 a zip entry needs. */
export async function deflatedZeros(bytes: number): Promise<{ data: Buffer; crc: number; size: number }> {
  const chunks: Buffer[] = [];
  let crc = 0;
  for (let left = bytes; left > 0; left -= CHUNK.length) crc = crc32(left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left), crc);
  await pipeline(zeros(bytes), createDeflateRaw({ level: 9 }), async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) chunks.push(c);
  });
  return { data: Buffer.concat(chunks), crc, size: bytes };
}

/** A zip archive (no zip64) of stored small files and already-deflated entries. */
export function zipArchive(
  entries: Array<{ name: string; stored: Buffer } | { name: string; deflated: { data: Buffer; crc: number; size: number } }>,
): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const [method, data, crc, size] =
      'stored' in e ? [0, e.stored, crc32(e.stored), e.stored.length] : [8, e.deflated.data, e.deflated.crc, e.deflated.size];
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
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

/** A multipart/form-data body: every part is sent as a file (FormData would turn string LFs into CRLF). */
export function multipartBody(parts: Array<[name: string, data: Buffer | string, fileName?: string]>): {
  body: Buffer;
  contentType: string;
} {
  const boundary = `----larder-bench-${Date.now().toString(36)}`;
  const chunks: Buffer[] = [];
  for (const [name, data, fileName] of parts) {
    const disposition = fileName ? `form-data; name="${name}"; filename="${fileName}"` : `form-data; name="${name}"`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${fileName ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`,
      ),
      Buffer.from(data),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
