import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (real servers, clusters, browsers, cargo builds), slowest first. With two
 * workers a long file started last keeps the run going on one core after the other has finished; started
 * first, it runs beside many short ones. A file missing here only runs later; nothing is skipped.
 */
export const SLOW_FILES = [
  'test/scale-out.test.ts',
  'test/multi-node-git.test.ts',
  'test/multi-node-start.test.ts',
  'test/web-browser.test.ts',
  'test/cargo-e2e.test.ts',
  'test/multi-node.test.ts',
  'test/crash.test.ts',
  'test/postgres-outage.test.ts',
  'test/blob-store-outage.test.ts',
  'test/replay-postgres.test.ts',
];

/** Vitest's own order (groups, then previous durations or file size), with SLOW_FILES moved to the front. */
export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = SLOW_FILES.findIndex((f) => spec.moduleId.endsWith(`/${f}`));
      return i < 0 ? SLOW_FILES.length : i;
    };
    const order = new Map(sorted.map((spec, i) => [spec, i]));
    return sorted.sort(
      (a, b) =>
        a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || rank(a) - rank(b) || order.get(a)! - order.get(b)!,
    );
  }
}
