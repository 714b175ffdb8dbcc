/** Builders for Bazel publishes through Larder's API (`PUT /{repo}/api/modules/{m}/{v}`): MODULE.bazel text, source archives, the multipart body. */
import { tarGz } from './archives.js';

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

/** A MODULE.bazel declaring `name@version` at compatibility level 1 (`extra` goes inside module(…)). */
export function moduleFile(name: string, version: string, extra = ''): string {
  return `module(\n    name = "${name}",\n    version = "${version}",\n    compatibility_level = 1,\n${extra})\n`;
}

/** A source archive whose tree lives under `prefix/` and carries its own MODULE.bazel. */
export async function sourceArchive(prefix: string, moduleText: string): Promise<Buffer> {
  return tarGz([
    { name: `${prefix}/MODULE.bazel`, body: moduleText },
    { name: `${prefix}/lib.cc`, body: 'int answer() { return 42; }\n' },
  ]);
}

/** The multipart body (and its Content-Type) of a publish that uploads an archive for Larder to host. */
export async function hostedPublishBody(module: string, version: string): Promise<{ payload: Buffer; contentType: string }> {
  const text = moduleFile(module, version);
  return publishBody([
    ['MODULE.bazel', text],
    ['archive', await sourceArchive(`${module}-${version}`, text), `${module}-${version}.tar.gz`],
    ['strip_prefix', `${module}-${version}`],
  ]);
}
