/**
 * The exports of a CommonJS package loaded with `import()`. Node gives them both as named exports and as `default`;
 * in the bundle bin/larder.js runs (scripts/bundle.js, esbuild) they come only as `default`. Read them through this
 * so a lazily loaded package works the same in both.
 */
export async function importCjs<T extends object>(loading: Promise<T>): Promise<T> {
  const ns = await loading;
  return (ns as { default?: T }).default ?? ns;
}
