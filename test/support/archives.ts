import { gzipSync } from 'node:zlib';
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
