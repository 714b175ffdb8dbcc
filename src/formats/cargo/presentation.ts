/** How Cargo's sparse index files are labelled, by the route and by the fast path alike. */
export const INDEX_CONTENT_TYPE = 'text/plain; charset=utf-8';
// Cargo revalidates with If-None-Match; a max-age would hide new versions from `cargo publish`.
export const INDEX_CACHE_CONTROL = 'no-cache';
