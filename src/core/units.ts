/** Human-friendly sizes and durations, as written in larder.toml and on the command line. */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const SIZE_HINT = 'expected a number of bytes or a number with a unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB), e.g. "10MiB"';

/** "10MiB", "10MB", "512KiB", "1GiB", "1024", 1024 → bytes. Throws an Error with a readable message on bad input. */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    throw new Error(`invalid size ${v}: ${SIZE_HINT}`);
  }
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v) : null;
  const unit = m ? SIZE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  // Fractions are fine ("1.5GiB"); the result is rounded to whole bytes.
  const bytes = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes)) throw new Error(`invalid size ${JSON.stringify(v)}: ${SIZE_HINT}`);
  return bytes;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** "30d", "12h", "15m", "90s", "2w" (or combined, "1h30m") → milliseconds. */
export function parseDuration(v: string): number {
  const text = typeof v === 'string' ? v.trim() : '';
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(text)) {
    throw new Error(`invalid duration ${JSON.stringify(v)}: expected a number with a unit (ms, s, m, h, d, w), e.g. "30d" or "1h30m"`);
  }
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) ms += Number(n) * DURATION_UNITS[unit!]!;
  return Math.round(ms);
}

/** 10485760 → "10 MiB", 1536 → "1.5 KiB", 100 → "100 B". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  // Two decimals at most, without trailing zeros: "10 MiB", "1.5 KiB", "1.25 GiB".
  return `${Number(value.toFixed(2))} ${units[i]}`;
}
