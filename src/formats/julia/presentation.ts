/** How the Pkg server protocol's documents and tarballs are named and labelled, by the routes and the fast paths alike. */
import { TREE_HASH, UUID } from './ids.js';

/** The names Pkg asks for the registry list by (below `/{repo}/`), all answered with the same document. */
export const REGISTRIES_PATHS = new Set(['registries', 'registries.eager', 'registries.conservative']);
/** How `/registries` is labelled: Pkg revalidates it on every update. */
export const REGISTRIES_PRESENTATION = { contentType: 'text/plain; charset=utf-8', cacheControl: 'no-cache' };

/** How tarballs are labelled: content-addressed (a URL never changes its bytes), so cached for good. */
export const TARBALL_PRESENTATION = { contentType: 'application/x-gzip', cacheControl: 'public, max-age=31536000, immutable' };

/** The artifact key of a tarball URL below `/{repo}/` (`registry|package/{uuid}/{hash}`, `artifact/{hash}`), or null. */
export function tarballKey(rest: string): string | null {
  const [kind, a, b, more] = rest.split('/');
  if (more !== undefined) return null;
  if (kind === 'artifact') return b === undefined && TREE_HASH.test(a ?? '') ? `artifact/${a}` : null;
  if (kind !== 'registry' && kind !== 'package') return null;
  return UUID.test(a ?? '') && TREE_HASH.test(b ?? '') ? `${kind}/${a}/${b}` : null;
}
