/** Builders for Bazel publishes through Larder's API: MODULE.bazel text, source archives, the multipart body. */
import { tarGz } from './archives.js';

/** A MODULE.bazel declaring `name@version` at compatibility level 1. */
export function moduleFile(name: string, version: string, extra = ''): string {
  return `module(\n    name = "${name}",\n    version = "${version}",\n    compatibility_level = 1,\n${extra})\n`;
}

/** A source archive whose tree lives under `prefix/` and carries its own MODULE.bazel. */
export async function sourceArchive(prefix: string, moduleText: string): Promise<Buffer> {
  return tarGz([{ name: `${prefix}/MODULE.bazel`, body: moduleText }, { name: `${prefix}/lib.cc`, body: 'int answer() { return 42; }\n' }]);
}

/** The multipart body (and its Content-Type) of a publish that uploads an archive for Larder to host. */
export async function hostedPublishBody(module: string, version: string): Promise<{ payload: Buffer; contentType: string }> {
  const text = moduleFile(module, version);
  const form = new FormData();
  // Files go as Blobs: FormData turns the line ends of plain string fields into CRLF.
  form.append('MODULE.bazel', new Blob([text]), 'MODULE.bazel');
  form.append('archive', new Blob([new Uint8Array(await sourceArchive(`${module}-${version}`, text))]), `${module}-${version}.tar.gz`);
  form.append('strip_prefix', `${module}-${version}`);
  const encoded = new Response(form);
  return { payload: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get('content-type')! };
}
