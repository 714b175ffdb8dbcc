import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './larder.js';
import { toolVersion } from './tools.js';

/** A benchmark's findings: a table for the terminal and RESULTS.md, and pass/fail against targets. */
export interface BenchReport {
  name: string;
  /** Header row first. */
  table: string[][];
  /** Target checks, e.g. "req/s ratio ≥ 0.6: 0.72 ✓". */
  targets: Array<{ what: string; ok: boolean }>;
  notes?: string[];
}

/** The machine and versions, so a result can be compared with another run. */
export function machineLine(peers: string[]): string {
  const cpu = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const versions = peers.map((p) =>
    p === 'nginx'
      ? toolVersion('nginx', ['-v'])
      : p === 'cargo'
        ? toolVersion('cargo', ['--version'])
        : p === 'h2load'
          ? toolVersion('h2load', ['--version'])
          : p === 'haproxy'
            ? toolVersion('haproxy', ['-v'])
            : p === 'git'
              ? toolVersion('git', ['--version'])
              : p,
  );
  return [`nproc ${os.availableParallelism()}, ${cpu}, Node ${process.version}`, ...versions].join('; ');
}

/** Markdown table from rows (header first). */
export function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Plain aligned table for the terminal. */
export function textTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n');
}

/** Appends a report to bench/RESULTS.md with the date and the machine. */
export function appendResults(report: BenchReport, machine: string): void {
  const file = path.join(ROOT, 'bench', 'RESULTS.md');
  if (!fs.existsSync(file))
    fs.writeFileSync(
      file,
      '# Benchmark results\n\nAppended by `npm run bench`; newest last. Ratios are Larder ÷ peer from the same run.\n',
    );
  const lines = [
    '',
    `## ${report.name} — ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    `Machine: ${machine}`,
    '',
    markdownTable(report.table),
    '',
    ...report.targets.map((t) => `- ${t.ok ? '✓' : '✗'} ${t.what}`),
    ...(report.notes ?? []).map((n) => `- ${n}`),
    '',
  ];
  fs.appendFileSync(file, lines.join('\n'));
}
