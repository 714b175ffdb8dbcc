/** The p-th percentile (0–100) of some numbers, by nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** A ratio as a table shows it: `1.05x`. */
export function times(r: number): string {
  return `${r.toFixed(2)}x`;
}

/** `a / b` rounded for a table: how Larder compares with its peer. */
export function ratio(a: number, b: number): string {
  return b === 0 ? 'n/a' : times(a / b);
}

/**
 * The median of `mine[i] / theirs[i]`: two servers measured in the same rounds, compared round by round, so what
 * slowed a whole round down cancels out where a ratio of two medians would keep it.
 */
export function pairedRatio(mine: number[], theirs: number[]): number {
  return median(mine.map((m, i) => m / theirs[i]));
}

/** Zipf-distributed ranks in [0, n): a few hot items, a long tail, as real registries see. */
export function zipfSampler(n: number, s = 1.0, seed = 42): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / Math.pow(k, s);
    cdf[k - 1] = sum;
  }
  let state = seed >>> 0;
  const random = () => {
    // xorshift32: reproducible across runs, unlike Math.random.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Least-squares slope of y on x (NaN with fewer than two points). */
export function linearSlope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
