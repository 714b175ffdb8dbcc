/** RSS over time: samples a process's resident memory until stopped. */
export interface RssSampler {
  /** Every sample so far: wall-clock time (Date.now()) and bytes. */
  samples: Array<{ t: number; bytes: number }>;
  /** The highest value seen between two wall-clock times (the whole run without arguments). */
  maxBetween(from?: number, to?: number): number;
  /** Stops sampling; returns the highest value seen. */
  stop(): number;
}

/** Samples `rss()` every `intervalMs` (100 ms by default), keeping the series. */
export function sampleRss(rss: () => number, intervalMs = 100): RssSampler {
  const samples: Array<{ t: number; bytes: number }> = [];
  const take = () => {
    try {
      samples.push({ t: Date.now(), bytes: rss() });
    } catch {
      // The process has exited: nothing more to sample.
    }
  };
  take();
  const timer = setInterval(take, intervalMs);
  const maxBetween = (from = -Infinity, to = Infinity) =>
    samples.reduce((m, s) => (s.t >= from && s.t <= to ? Math.max(m, s.bytes) : m), 0);
  return {
    samples,
    maxBetween,
    stop: () => {
      clearInterval(timer);
      take();
      return maxBetween();
    },
  };
}
