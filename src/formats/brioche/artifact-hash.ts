/**
 * Brioche's artifact JSON and its hash (protocols/brioche.md §4.1–4.2): files, symlinks and
 * directories tagged by `type`, byte strings tick-encoded, hashed as BLAKE3 of the RFC 8785
 * canonical JSON. Larder rebuilds artifacts from archives to check that an upload is what its key says.
 */
import canonicalize from 'canonicalize';
import { importCjs } from '../../core/cjs.js';

/** A directory artifact: entry names (raw bytes, tick-encoded in JSON) → the ArtifactHash of each entry. */
export interface DirectoryArtifact {
  type: 'directory';
  entries: Record<string, string>;
}

/** A file artifact: its content blob's BLAKE3, the executable bit and its resources directory (always present). */
export interface FileArtifact {
  type: 'file';
  contentBlob: string;
  executable: boolean;
  resources: DirectoryArtifact;
}

/** A symlink artifact: its target's bytes, tick-encoded. */
export interface SymlinkArtifact {
  type: 'symlink';
  target: string;
}

export type Artifact = FileArtifact | SymlinkArtifact | DirectoryArtifact;

/** The empty directory, also every file's resources when it has none. */
export const EMPTY_DIRECTORY: DirectoryArtifact = Object.freeze({ type: 'directory', entries: Object.freeze({}) }) as DirectoryArtifact;

const BACKTICK = 0x60;
const HEX = '0123456789ABCDEF';

/** Tick-encodes bytes as brioche writes them in JSON: TAB, LF, CR and printable ASCII pass, `` ` `` doubles, the rest become `` `XX ``. */
export function tickEncode(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === BACKTICK) out += '``';
    else if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b <= 0x7e)) out += String.fromCharCode(b);
    else out += '`' + HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

/** Decodes tick-encoded text back to its bytes; null when it is not a valid encoding (lower-case hex, a lone backtick). */
export function tickDecode(text: string): Uint8Array | null {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKTICK) {
      if (text.charCodeAt(i + 1) === BACKTICK) {
        out.push(BACKTICK);
        i += 1;
        continue;
      }
      const hi = i + 2 < text.length ? HEX.indexOf(text[i + 1]!) : -1;
      const lo = i + 2 < text.length ? HEX.indexOf(text[i + 2]!) : -1;
      if (hi < 0 || lo < 0) return null;
      out.push((hi << 4) | lo);
      i += 2;
    } else if (c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c <= 0x7e)) out.push(c);
    else return null;
  }
  return Uint8Array.from(out);
}

/** The canonical (JCS) JSON of an artifact, the bytes its hash is taken over. */
export function artifactJson(artifact: Artifact): string {
  return canonicalize(artifact)!;
}

/** The ArtifactHash of an artifact: lower-case hex BLAKE3 of its canonical JSON. */
export async function artifactHash(artifact: Artifact): Promise<string> {
  // hash-wasm loads with the first hash, not at every start (issue 14).
  const { blake3 } = await importCjs(import('hash-wasm'));
  return blake3(artifactJson(artifact));
}
