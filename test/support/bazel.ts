/** Builders for Bazel publishes through Larder's API (`PUT /{repo}/api/modules/{m}/{v}`): MODULE.bazel text, source archives, the multipart body. */
import { tarGz } from './archives.js';

/** One multipart part: a field name, its value and an optional file name. */
export type Part = [name: string, value: Buffer | string, fileName?: string];

const SCALARS = new Set(['strip_prefix', 'archive_type', 'patch_strip', 'metadata', 'allow_compatibility_level_change']);

/**
 * A presubmit.yml as BCR modules write it (the matrix of platforms and Bazel versions, one task running it): what the
 * default publish policy (require_presubmit, the BCR's rule) asks of every publish.
 */
export const PRESUBMIT_YML = `matrix:
  platform:
    - debian11
    - macos_arm64
  bazel: [7.x, 8.x]
tasks:
  verify_targets:
    name: Verify build targets
    platform: \${{ platform }}
    bazel: \${{ bazel }}
    build_targets:
      - '//...'
`;

/** How publishBody builds the body: `presubmit: false` sends no presubmit.yml unless the parts carry one. */
export interface PublishBodyOptions {
  presubmit?: boolean;
}

/**
 * The multipart body and its content type; files go as Blobs (FormData turns string fields' line ends into CRLF).
 * A publish (parts with MODULE.bazel) without a presubmit.yml part gets PRESUBMIT_YML, as a real publisher sends one.
 */
export async function publishBody(parts: Part[], options: PublishBodyOptions = {}): Promise<{ payload: Buffer; contentType: string }> {
  const form = new FormData();
  const names = new Set(parts.map(([name]) => name));
  const all: Part[] =
    options.presubmit !== false && names.has('MODULE.bazel') && !names.has('presubmit.yml')
      ? [...parts, ['presubmit.yml', PRESUBMIT_YML]]
      : parts;
  for (const [name, value, fileName] of all) {
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
