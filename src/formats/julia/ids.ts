/** A UUID as Pkg writes it: lower-case RFC 4122 text form. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A git tree SHA-1, lower-case hex. */
export const TREE_HASH = /^[0-9a-f]{40}$/;

/** Where a registry's files are kept among the repo's index documents. */
export function registryDocPath(uuid: string, rel: string): string {
  return `registry/${uuid}/${rel}`;
}

/** The index document holding the `/registries` listing. */
export const REGISTRIES_DOC = 'registries';

/** The tarball kind, UUID and tree hash an artifact key names, or null. */
export function parseTarballKey(key: string): { kind: 'registry' | 'package' | 'artifact'; uuid: string; hash: string } | null {
  const parts = key.split('/');
  if (parts[0] === 'artifact' && parts.length === 2) return { kind: 'artifact', uuid: '', hash: parts[1]! };
  if ((parts[0] === 'registry' || parts[0] === 'package') && parts.length === 3)
    return { kind: parts[0], uuid: parts[1]!, hash: parts[2]! };
  return null;
}
