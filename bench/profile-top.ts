/**
 * Where a `node --cpu-prof` profile's CPU went: the functions with the most self time, and the share of samples under
 * Larder's fast paths, Fastify, and Node's HTTP/TLS internals. `tsx bench/profile-top.ts FILE.cpuprofile… [--top N]`
 */
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
}

/** Inclusive groups: a sample counts for the first group any frame of its stack matches (innermost first). */
const GROUPS: Array<[string, (url: string, fn: string) => boolean]> = [
  ['fast path: artifacts (src/http/fast-artifact.ts)', (u) => u.includes('fast-artifact')],
  ['fast path: index documents (src/http/fast-index.ts)', (u) => u.includes('fast-index')],
  ['Fastify (router, hooks, reply)', (u) => u.includes('node_modules/fastify') || u.includes('find-my-way') || u.includes('avvio')],
  ['git view (child processes, relay)', (u, f) => u.includes('git-smart') || u.includes('git-view') || /spawn/i.test(f)],
];

const maps = new Map<string, SourceMap | null>();

/** The original source file of a frame in the bundle (dist/bundle/*.js has source maps), or the frame's own URL. */
function sourceOf(f: CpuProfile['nodes'][number]['callFrame']): string {
  if (!f.url.startsWith('file:')) return f.url;
  let map = maps.get(f.url);
  if (map === undefined) {
    const file = `${fileURLToPath(f.url)}.map`;
    map = fs.existsSync(file) ? new SourceMap(JSON.parse(fs.readFileSync(file, 'utf8'))) : null;
    maps.set(f.url, map);
  }
  const entry = map?.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  return entry?.originalSource ? `${entry.originalSource}:${(entry.originalLine ?? 0) + 1}` : f.url;
}

function summarise(file: string, top: number): string {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const groups = new Map<string, number>();
  let total = 0;
  let idle = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    total += dt;
    const f = n.callFrame;
    const where = f.url ? sourceOf(f).replace(/^.*?(src|node_modules)\//, '$1/') : '';
    const name = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(name, (self.get(name) ?? 0) + dt);
    let group = 'other (Node http/http2/TLS internals, GC, timers, logging)';
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const cf = byId.get(x)!.callFrame;
      const src = sourceOf(cf);
      const hit = GROUPS.find(([, test]) => test(src, cf.functionName));
      if (hit) {
        group = hit[0];
        break;
      }
    }
    groups.set(group, (groups.get(group) ?? 0) + dt);
  });
  const pct = (us: number) => `${((100 * us) / total).toFixed(1)} %`;
  const lines = [`${file}: ${(total / 1e6).toFixed(1)} s busy, ${(idle / 1e6).toFixed(1)} s idle`];
  for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1])) lines.push(`  ${pct(us).padStart(7)}  ${g}`);
  lines.push('  top self time:');
  for (const [n, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us).padStart(7)}  ${n}`);
  return lines.join('\n');
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15;
for (const file of args) console.log(summarise(file, top));
