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
