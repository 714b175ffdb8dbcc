import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Where a server's time goes during its measured runs, by symbol: Node's JIT code (named through `--perf-basic-prof`),
 * Node's C++ (V8, nghttp2, OpenSSL, libuv), libc and the kernel, from Linux `perf record -e cpu-clock` attached to the
 * process. A V8 CPU profile sees only JavaScript; this machine's virtual CPUs have no hardware counters, so the
 * software clock is what perf can sample. A JIT name can be stale: the map only grows, and V8 reuses the space of code
 * it dropped, so a hot address may carry the name of a function that was there before.
 */
export class PerfProfiles {
  /** Samples by `dso\tsymbol`, per profile name (e.g. "TLS + HTTP/2 200s, bare Node"); and the requests they served. */
  private readonly samples = new Map<string, { bySymbol: Map<string, number>; requests: number; cpuSeconds: number }>();

  constructor(
    private readonly dir: string,
    private readonly hz = 999,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Node options for a profiled process: its JIT code's names written to /tmp/perf-PID.map, where perf looks. */
  static nodeArgs(): string[] {
    return ['--perf-basic-prof'];
  }

  /** Fails early when `perf` cannot be run (it is in Debian's linux-perf). */
  static check(): void {
    const res = spawnSync('perf', ['--version'], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error('BENCH_PERF needs `perf` (apt-get install linux-perf)');
  }

  /**
   * Samples `pid` while `run` goes on and adds its samples to profile `name`; `run` returns the requests it made and the
   * process's CPU seconds over it, so the profile can be read as µs per request.
   */
  async during<T extends { requests: number; cpuSeconds: number }>(name: string, pid: number, run: () => Promise<T>): Promise<T> {
    const file = path.join(this.dir, `sampling-${pid}.data`);
    const perf: ChildProcess = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', String(this.hz), '-p', String(pid), '-o', file], {
      stdio: 'ignore',
    });
    // perf attaches within milliseconds; the run starts after it.
    await new Promise((r) => setTimeout(r, 150));
    const result = await run();
    const exited = new Promise((r) => perf.once('exit', r));
    perf.kill('SIGINT');
    await exited;
    const report = spawnSync(
      'perf',
      ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '--stdio', '-F', 'sample,dso,sym', '-t', '|'],
      {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      },
    );
    fs.rmSync(file, { force: true });
    // A perf that could not attach (perf_event_paranoid, a gone process) leaves no data: say so rather than compare nothing.
    if (report.status !== 0) throw new Error(`perf report for ${name} failed: ${report.stderr.trim().split('\n').pop()}`);
    const profile = this.samples.get(name) ?? { bySymbol: new Map<string, number>(), requests: 0, cpuSeconds: 0 };
    for (const line of report.stdout.split('\n')) {
      if (line.startsWith('#') || !line.includes('|')) continue;
      const [count, dso, sym] = line.split('|').map((f) => f.trim());
      // JIT code is named per thread ("[JIT] tid 123"): one name for every process.
      const key = `${dso.startsWith('[JIT]') ? '[JIT]' : dso}\t${sym.replace(/^\[.\] /, '')}`;
      profile.bySymbol.set(key, (profile.bySymbol.get(key) ?? 0) + Number(count));
    }
    profile.requests += result.requests;
    profile.cpuSeconds += result.cpuSeconds;
    this.samples.set(name, profile);
    return result;
  }

  /** Deletes the JIT symbol map of a stopped process (Node leaves it in /tmp). */
  static forget(pid: number): void {
    fs.rmSync(`/tmp/perf-${pid}.map`, { force: true });
  }

  /**
   * Writes `profile` against `peer` to DIR/<file>.txt: µs per request by library and by symbol, each scaled so a
   * profile's samples add up to its measured CPU per request, and the symbols that differ most. Returns the path.
   */
  compare(file: string, profile: string, peer: string): string | null {
    const mine = this.perRequest(profile);
    const theirs = this.perRequest(peer);
    if (!mine || !theirs) return null;
    const byDso = (m: Map<string, number>) => {
      const out = new Map<string, number>();
      for (const [key, us] of m) {
        const dso = key.slice(0, key.indexOf('\t'));
        out.set(dso, (out.get(dso) ?? 0) + us);
      }
      return out;
    };
    const diff = (a: Map<string, number>, b: Map<string, number>) =>
      [...new Set([...a.keys(), ...b.keys()])]
        .map((k) => ({ k, a: a.get(k) ?? 0, b: b.get(k) ?? 0 }))
        .sort((x, y) => y.a - y.b - (x.a - x.b));
    const row = (d: { k: string; a: number; b: number }) =>
      `${(d.a - d.b >= 0 ? '+' : '') + (d.a - d.b).toFixed(3)}  ${d.b.toFixed(3)} → ${d.a.toFixed(3)}  ${d.k.replace('\t', '  ')}`;
    const total = (m: Map<string, number>) => [...m.values()].reduce((s, v) => s + v, 0);
    const symbols = diff(mine, theirs);
    const text = [
      `${profile} against ${peer}: CPU µs per request, ${peer} → this profile (perf record -e cpu-clock -F ${this.hz},`,
      `each profile's samples scaled to its measured CPU per request: ${total(theirs).toFixed(1)} → ${total(mine).toFixed(1)} µs).`,
      '',
      'By library:',
      ...diff(byDso(mine), byDso(theirs)).map(row),
      '',
      `Symbols, most added first (${symbols.length} in all):`,
      ...symbols.slice(0, 40).map(row),
      '…',
      ...symbols.slice(-15).map(row),
      '',
    ].join('\n');
    const out = path.join(this.dir, `${file}.txt`);
    fs.writeFileSync(out, text);
    // Every symbol, for a look past the top and bottom.
    fs.writeFileSync(path.join(this.dir, `${file}-all.txt`), symbols.map(row).join('\n') + '\n');
    return out;
  }

  /** A profile as µs per request by symbol. */
  private perRequest(name: string): Map<string, number> | null {
    const p = this.samples.get(name);
    if (!p || p.requests === 0) return null;
    const samples = [...p.bySymbol.values()].reduce((s, v) => s + v, 0);
    const usPerSample = (p.cpuSeconds * 1e6) / p.requests / samples;
    return new Map([...p.bySymbol].map(([k, n]) => [k, n * usPerSample]));
  }
}
