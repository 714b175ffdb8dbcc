import type { Readable } from 'node:stream';
import { parse } from 'smol-toml';
import { LarderError } from '../../core/errors.js';
import { gateMessages, gateTar, type GateOptions, type GatedEntry } from '../../core/archive/index.js';
import { formatSize } from '../../core/units.js';

export interface CrateArchiveLimits {
  maxUnpackedSize: number;
  maxEntries: number;
}

export interface CrateManifest {
  name: string;
  version: string;
  /** Cargo.toml text as found in the archive */
  text: string;
  /** parsed TOML */
  toml: Record<string, unknown>;
}

const MAX_MANIFEST_SIZE = 1024 * 1024;

const REBUILD = 'rebuild it with `cargo package`';

/**
 * Reads a .crate (gzip tar) from a stream with constant memory, or from bytes already received, through the archive
 * gate (only files and directories, all under `{name}-{vers}/`); resolves with its Cargo.toml. A stream input is
 * consumed or destroyed.
 */
export async function inspectCrateArchive(
  crate: NodeJS.ReadableStream | Readable | Uint8Array,
  expected: { name: string; vers: string },
  limits: CrateArchiveLimits,
): Promise<CrateManifest> {
  const root = `${expected.name}-${expected.vers}`;
  const manifestPath = `${root}/Cargo.toml`;
  let manifest: CrateManifest | undefined;
  await gateTar(crate, crateGate(root, limits), async (entry) => {
    if (entry.path !== 'Cargo.toml') return;
    if (manifest) throw new LarderError('ARCHIVE_INVALID', `the .crate contains ${manifestPath} more than once; ${REBUILD}`);
    manifest = parseManifest(await readManifest(entry, manifestPath), manifestPath, expected);
  });
  if (!manifest) throw new LarderError('ARCHIVE_INVALID', `the .crate has no ${manifestPath}; ${REBUILD}`);
  return manifest;
}

/** Cargo's rules: gzip, strict paths under `{name}-{vers}/`, no links, no duplicates, in cargo's words. */
function crateGate(root: string, limits: CrateArchiveLimits): GateOptions & { gzip: true } {
  const messages = gateMessages('the .crate', REBUILD, {
    tooManyEntries: (max) =>
      `the .crate has more than ${max} entries, the limit of this registry; exclude files from the package (see \`cargo package --list\`)`,
    tooLarge: (max) =>
      `the .crate unpacks to more than ${formatSize(max)}, the limit of this registry; exclude large files from the package (see \`cargo package --list\`)`,
    outsideRoot: (shown) =>
      `the .crate entry ${shown} is not inside ${root}/ (every file must lie under {name}-{version}/ of the published crate); ${REBUILD}`,
    link: (shown, target) =>
      `links are not allowed in a .crate: ${shown} -> ${target}; ${REBUILD} from a checkout without symlinked package files`,
    badType: (shown, type) => `only regular files and directories are allowed in a .crate, but ${shown} is a ${type}; ${REBUILD}`,
    directoryWithContent: (shown) => `the directory entry ${shown} in the .crate claims to have content; ${REBUILD}`,
    notGzip: () => 'the .crate is not a gzip file (it must start with bytes 1f 8b); upload the file `cargo package` produced',
    corrupt: (stage, detail) =>
      stage === 'gzip'
        ? `the .crate is not a valid gzip stream (${detail}); it may be truncated or corrupt, ${REBUILD}`
        : stage === 'truncated'
          ? 'the .crate ended before the archive was complete; retry the upload'
          : `the .crate does not contain a valid tar archive (${detail}); ${REBUILD}`,
  });
  return { gzip: true, root, paths: 'strict', duplicates: 'reject', limits, messages };
}

async function readManifest(entry: GatedEntry, manifestPath: string): Promise<string> {
  const size = entry.size;
  if (entry.type !== 'file') throw new LarderError('ARCHIVE_INVALID', `${manifestPath} in the .crate is not a regular file; ${REBUILD}`);
  if (size > MAX_MANIFEST_SIZE) {
    throw new LarderError('ARCHIVE_TOO_LARGE', `${manifestPath} in the .crate is ${size} bytes, more than the 1 MiB allowed`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of entry.body) chunks.push(chunk);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new LarderError('ARCHIVE_INVALID', `${manifestPath} in the .crate is not valid UTF-8; ${REBUILD}`);
  }
}

function parseManifest(text: string, manifestPath: string, expected: { name: string; vers: string }): CrateManifest {
  let toml: Record<string, unknown>;
  try {
    toml = parse(text);
  } catch (err) {
    const reason = String((err as Error).message).split('\n')[0];
    throw new LarderError('ARCHIVE_INVALID', `${manifestPath} in the .crate is not valid TOML (${reason}); ${REBUILD}`);
  }
  const pkg = toml.package;
  const table = pkg !== null && typeof pkg === 'object' && !Array.isArray(pkg) ? (pkg as Record<string, unknown>) : {};
  const mismatch = (key: string, want: string) => {
    const found = table[key];
    if (typeof found === 'string' && found === want) return found;
    const says = typeof found === 'string' ? `says package.${key} = ${JSON.stringify(found)}` : `has no string package.${key}`;
    throw new LarderError(
      'MANIFEST_MISMATCH',
      `Cargo.toml in the .crate ${says} but the publish metadata says ${JSON.stringify(want)}; publish the .crate that \`cargo package\` built for this version`,
    );
  };
  return { name: mismatch('name', expected.name), version: mismatch('version', expected.vers), text, toml };
}
