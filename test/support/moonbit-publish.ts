/** Building MoonBit publishes for tests: module zips and the multipart bodies `mooncake` sends. */
import { writeZip, type ZipFileEntry } from '../../src/formats/moonbit/zip.js';

/** A module zip with `manifest` as moon.mod.json at the root (or `extra` files; `manifest` null leaves it out). */
export function moduleZip(manifest: Record<string, unknown> | null, extra: ZipFileEntry[] = []): Buffer {
  const files: ZipFileEntry[] = [...extra];
  if (manifest) files.push({ path: 'moon.mod.json', data: Buffer.from(JSON.stringify(manifest, null, 2)) });
  files.push({ path: 'src/lib/lib.mbt', data: Buffer.from('pub fn hello() -> String { "hi" }\n') });
  return writeZip(files);
}

/** The multipart body of a publish, parts in the order given (`["token", t], ["file", zip]`). */
export async function publishForm(parts: Array<[string, string | Buffer]>): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  for (const [name, value] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([new Uint8Array(value)], { type: 'application/zip' }), 'module.zip');
  }
  const encoded = new Response(form);
  return { payload: Buffer.from(await encoded.arrayBuffer()), headers: { 'content-type': encoded.headers.get('content-type')! } };
}

/** The inject options of a publish of `manifest` with the token as a multipart field (as mooncake sends it). */
export async function publishRequest(
  repo: string,
  token: string | null,
  zip: Buffer,
  opts: { query?: string; header?: boolean } = {},
): Promise<{ method: 'POST'; url: string; payload: Buffer; headers: Record<string, string> }> {
  const parts: Array<[string, string | Buffer]> = [];
  if (token && !opts.header) parts.push(['token', token]);
  parts.push(['file', zip]);
  const { payload, headers } = await publishForm(parts);
  if (token && opts.header) headers.authorization = `Bearer ${token}`;
  return { method: 'POST', url: `/${repo}/api/v0/publish${opts.query ?? ''}`, payload, headers };
}
