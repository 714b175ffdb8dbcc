/**
 * Glob patterns for token restrictions and mirror selections: `*` is any run of characters,
 * `?` one character, and a comma separates alternatives (`cargo-*,internal`).
 */
export function compilePattern(pattern: string): RegExp {
  const alternatives = pattern
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) =>
      p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.'),
    );
  if (alternatives.length === 0) return /^$/;
  return new RegExp(`^(?:${alternatives.join('|')})$`);
}

/** True when `value` matches the pattern; a null pattern matches everything. */
export function matchesPattern(pattern: string | null | undefined, value: string): boolean {
  if (pattern == null || pattern === '') return true;
  return compilePattern(pattern).test(value);
}
