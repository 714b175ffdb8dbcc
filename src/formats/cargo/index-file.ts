/**
 * Reading index files as Cargo reads them (cargo.md §5), from any source: hosted lines Larder wrote, or an
 * upstream's lines it keeps byte for byte. Tolerant: a line that does not name a crate and version is skipped
 * (Cargo skips it too), and a field of the wrong type reads as absent, so no upstream line can break a reader.
 */

/** A dependency of an index line (`RegistryDependency`), in the fields readers use. */
export interface IndexFileDependency {
  /** The name in the dependant's Cargo.toml: the alias when renamed. */
  name: string;
  /** The real crate name when renamed (`package = "…"`), else null. */
  package: string | null;
  req: string;
  kind: 'normal' | 'dev' | 'build';
  optional: boolean;
  target: string | null;
  /** The index URL of another registry, or null for the same registry. */
  registry: string | null;
}

/** One version of an index file, in the fields readers use. */
export interface IndexFileLine {
  name: string;
  vers: string;
  cksum: string | null;
  yanked: boolean;
  /** `YYYY-MM-DDTHH:MM:SSZ` when the line says. */
  pubtime: string | null;
  deps: IndexFileDependency[];
  /** Feature names from `features` and `features2`. */
  features: string[];
  links: string | null;
  rustVersion: string | null;
}

/** One line of an index file: its exact bytes (with the `\n`, if any) and what it says, when it parses. */
export interface RawIndexLine {
  bytes: Buffer;
  line: IndexFileLine | null;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const KINDS = new Set(['normal', 'dev', 'build']);

function readDependency(v: unknown): IndexFileDependency | null {
  if (!isObject(v) || typeof v.name !== 'string' || v.name === '') return null;
  return {
    name: v.name,
    package: str(v.package) || null,
    req: str(v.req) ?? '*',
    // Cargo reads an absent or null kind as normal.
    kind: typeof v.kind === 'string' && KINDS.has(v.kind) ? (v.kind as IndexFileDependency['kind']) : 'normal',
    optional: v.optional === true,
    target: str(v.target),
    registry: str(v.registry),
  };
}

/** What one line of JSON says, or null when it does not name a crate and a version. */
export function readIndexLine(text: string): IndexFileLine | null {
  const trimmed = text.trim();
  if (!trimmed) return null;
  let v: unknown;
  try {
    v = JSON.parse(trimmed);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.name !== 'string' || typeof v.vers !== 'string') return null;
  const features = [v.features, v.features2].flatMap((f) => (isObject(f) ? Object.keys(f) : []));
  return {
    name: v.name,
    vers: v.vers,
    cksum: str(v.cksum),
    yanked: v.yanked === true,
    pubtime: str(v.pubtime),
    deps: Array.isArray(v.deps) ? v.deps.flatMap((d) => readDependency(d) ?? []) : [],
    features: [...new Set(features)],
    links: str(v.links),
    rustVersion: str(v.rust_version),
  };
}

/** Splits an index file into lines without touching their bytes. */
export function splitIndexFile(body: Buffer): RawIndexLine[] {
  const out: RawIndexLine[] = [];
  let start = 0;
  while (start < body.length) {
    const nl = body.indexOf(0x0a, start);
    const end = nl < 0 ? body.length : nl + 1;
    const bytes = body.subarray(start, end);
    out.push({ bytes, line: readIndexLine(bytes.toString('utf8')) });
    start = end;
  }
  return out;
}

/** The lines of an index file that parse, in file order. */
export function indexFileLines(body: Buffer): IndexFileLine[] {
  return splitIndexFile(body).flatMap((l) => (l.line ? [l.line] : []));
}
