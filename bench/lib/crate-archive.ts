/**
 * Small generated `.crate` files (gzipped ustar: `{name}-{vers}/Cargo.toml`, `src/lib.rs` and a data
 * file of incompressible text) written synchronously, so a benchmark can make tens of thousands quickly.
 */
import { gzipSync } from 'node:zlib';

/** One 512-byte ustar header for a regular file. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148); // checksum field counts as spaces while summing
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A tar archive (no compression) of `files`, with the two zero blocks that end it. */
function tar(files: Array<[name: string, body: Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, body] of files) {
    parts.push(tarHeader(name, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** `n` bytes of base64 text from a seeded xorshift: gzip leaves it at about 3/4 of its size. */
function noise(n: number, seed: number): Buffer {
  const raw = Buffer.alloc(Math.ceil((n * 3) / 4) + 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < raw.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    raw[i] = s & 0xff;
  }
  return Buffer.from(raw.toString('base64').slice(0, n));
}

/** A `.crate` for `name@vers` of roughly `bytes` compressed bytes (at least a few hundred). */
export function crateArchive(name: string, vers: string, bytes: number, seed: number): Buffer {
  const root = `${name}-${vers}`;
  const manifest = `[package]\nname = "${name}"\nversion = "${vers}"\nedition = "2021"\nlicense = "MIT"\ndescription = "generated for a benchmark"\n`;
  const lib = `pub fn hello() -> &'static str { "${name} ${vers}" }\n`;
  return gzipSync(
    tar([
      [`${root}/Cargo.toml`, Buffer.from(manifest)],
      [`${root}/src/lib.rs`, Buffer.from(lib)],
      [`${root}/data.txt`, noise(Math.max(0, Math.round((bytes * 4) / 3) - 300), seed)],
    ]),
    { level: 6 },
  );
}
