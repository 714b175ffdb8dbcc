import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr (drawn only on a terminal) that starts on the first update, so a
 * command that finishes at once prints nothing. `format` is cli-progress's, e.g. `'{bar} {value}/{total}'`.
 */
export function progressBar(format: string): { update(done: number, total: number, payload?: Record<string, string>): void; stop(): void } {
  const bar = new cliProgress.SingleBar({ format, stream: process.stderr }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total, payload) {
      if (!started) bar.start(total, done, payload);
      started = true;
      bar.setTotal(total);
      bar.update(done, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
