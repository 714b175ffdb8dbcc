/** Building Bazel publish requests (Larder's `PUT /{repo}/api/modules/{m}/{v}` multipart body). */

/** One multipart part: a field name, its value and an optional file name. */
export type Part = [name: string, value: Buffer | string, fileName?: string];

const SCALARS = new Set(['strip_prefix', 'archive_type', 'patch_strip', 'metadata', 'allow_compatibility_level_change']);

/** The multipart body and its content type; files go as Blobs (FormData turns string fields' line ends into CRLF). */
export async function publishBody(parts: Part[]): Promise<{ payload: Buffer; contentType: string }> {
  const form = new FormData();
  for (const [name, value, fileName] of parts) {
    if (typeof value === 'string' && SCALARS.has(name)) form.append(name, value);
    else form.append(name, new Blob([typeof value === 'string' ? value : new Uint8Array(value)]), fileName ?? name);
  }
  const encoded = new Response(form);
  return { payload: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get('content-type')! };
}

/** A MODULE.bazel declaring `name` at `version`. */
export function moduleFile(name: string, version: string): string {
  return `module(\n    name = "${name}",\n    version = "${version}",\n    compatibility_level = 1,\n)\n`;
}
