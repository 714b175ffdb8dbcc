/**
 * A real HAProxy (Debian's package, installed with apt-get when missing) in front of test nodes, run
 * from the configuration the deployment guide tells teams to copy (docs/deploy/haproxy.cfg). Only the
 * bind address, the server lines, the stats socket path, the log target and the health-check timing
 * are changed, so what the tests prove holds for that file.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ensureTools } from './debian.js';
import { freePort } from './net.js';
import { tempDir } from './tmp.js';

/** The configuration file the deployment guide ships. */
export const DEPLOY_HAPROXY_CFG = path.resolve(import.meta.dirname, '../../docs/deploy/haproxy.cfg');

/** One backend server: its name in the config and its port on 127.0.0.1. */
export interface HaproxyServer {
  name: string;
  port: number;
}

/** Health-check timing of `default-server` (the file's is `inter 2s fall 2 rise 2`). */
export interface CheckTiming {
  /** e.g. "200ms", "2s". */
  inter: string;
  fall: number;
  rise: number;
}

/** A server's state as HAProxy's checks see it: the `status` column of `show stat` without the counters. */
export type ServerStatus = 'UP' | 'DOWN' | 'MAINT' | 'NOLB' | 'no check' | string;

export interface TestHaproxy {
  /** `http://127.0.0.1:{port}`: the front end. */
  url: string;
  port: number;
  /** The configuration it runs. */
  configFile: string;
  /** Sends one command to the runtime API (stats socket) and returns its answer. */
  command(cmd: string): Promise<string>;
  /** Status of each server of a backend, by server name ("UP 1/2" while rising is reported as "DOWN"). */
  serverStates(backend: string): Promise<Record<string, ServerStatus>>;
  /** One column of `show stat` (e.g. `stot`, requests/sessions so far) for a server, or `BACKEND` / `FRONTEND` of a proxy. */
  statField(proxy: string, server: string, field: string): Promise<string | undefined>;
  /** Resolves once HAProxy reports `server` of `backend` in `status` (UP or DOWN); throws after `timeoutMs`. */
  waitForServer(backend: string, server: string, status: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  /** The last part of HAProxy's log (its request log lines and alerts). */
  logTail(bytes?: number): string;
  /** The log lines that are not requests answered 2xx/3xx (errors, retries, aborts, alerts), for failure messages. */
  logTrouble(): string;
  /** Stops HAProxy and deletes its directory (config, socket, log). */
  stop(): Promise<void>;
}

/**
 * The deployment file with this run's addresses: `bind` → 127.0.0.1:{port}, every backend's server
 * lines → `servers`, the stats socket into `dir`, the log to stdout (or none: `log: false`, for
 * benchmarks), `default-server` timing → `timing`.
 * `user`/`group` are dropped unless running as root (HAProxy cannot switch users otherwise).
 */
export function testHaproxyConfig(
  source: string,
  opts: { port: number; servers: HaproxyServer[]; dir: string; timing?: CheckTiming; log?: boolean },
): string {
  const out: string[] = [];
  let inBackend = false;
  let serversWritten = false;
  const root = process.getuid?.() === 0;
  for (const line of source.split('\n')) {
    const trimmed = line.trim();
    const indent = /^\s*/.exec(line)![0];
    if (/^\S/.test(line)) {
      inBackend = /^backend\s/.test(line);
      serversWritten = false;
    }
    if (/^bind\s/.test(trimmed)) out.push(`${indent}bind 127.0.0.1:${opts.port}`);
    else if (/^stats socket\s/.test(trimmed)) out.push(`${indent}stats socket ${path.join(opts.dir, 'admin.sock')} mode 600 level admin`);
    else if (/^log\s+\//.test(trimmed)) {
      if (opts.log !== false) out.push(`${indent}log stdout format raw local0`);
    } else if (/^(user|group)\s/.test(trimmed) && !root) continue;
    else if (/^default-server\s/.test(trimmed) && opts.timing) {
      const t = opts.timing;
      out.push(
        line
          .replace(/\binter \S+/, `inter ${t.inter}`)
          .replace(/\bfall \d+/, `fall ${t.fall}`)
          .replace(/\brise \d+/, `rise ${t.rise}`),
      );
    } else if (inBackend && /^server\s/.test(trimmed)) {
      if (serversWritten) continue;
      serversWritten = true;
      for (const s of opts.servers) out.push(`${indent}server ${s.name} 127.0.0.1:${s.port}`);
    } else out.push(line);
  }
  return out.join('\n');
}

/** Runs `haproxy -c -f file`; returns its exit code and output (a valid file exits 0). */
export function checkHaproxyConfig(file: string): { code: number; output: string } {
  ensureTools(['haproxy']);
  const r = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** Sends one command to a runtime API socket (non-interactive: HAProxy closes after the answer). */
function runtimeCommand(socket: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let answer = '';
    conn.setEncoding('utf8');
    conn.on('data', (c: string) => (answer += c));
    conn.on('end', () => resolve(answer));
    conn.on('error', reject);
    conn.end(`${cmd}\n`);
  });
}

/**
 * Starts HAProxy in the foreground (`-db`) on a free 127.0.0.1 port in front of `servers`, from
 * docs/deploy/haproxy.cfg, and resolves once its runtime API answers. Its log goes to a file in its
 * own temp directory, removed by `stop()`.
 */
export async function startHaproxy(opts: {
  servers: HaproxyServer[];
  timing?: CheckTiming;
  port?: number;
  /** false: no request log (benchmarks); alerts still go to the log file. */
  log?: boolean;
}): Promise<TestHaproxy> {
  ensureTools(['haproxy']);
  const dir = tempDir('larder-haproxy-');
  const port = opts.port ?? (await freePort());
  const configFile = path.join(dir.path, 'haproxy.cfg');
  fs.writeFileSync(configFile, testHaproxyConfig(fs.readFileSync(DEPLOY_HAPROXY_CFG, 'utf8'), { ...opts, port, dir: dir.path }));
  const socket = path.join(dir.path, 'admin.sock');
  const logFile = path.join(dir.path, 'haproxy.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn('haproxy', ['-db', '-f', configFile], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logTail = (bytes = 4000) => {
    try {
      const text = fs.readFileSync(logFile, 'utf8');
      return text.slice(-bytes);
    } catch {
      return '';
    }
  };
  const logTrouble = () => {
    // httplog: `… backend/server Tq/Tw/Tc/Tr/Ta status bytes … termination_state …`; a clean answer has `----`.
    const lines = logTail(Infinity)
      .split('\n')
      .filter((l) => l && !/ [23]\d\d \d+ - - ---- /.test(l));
    return lines.slice(-200).join('\n');
  };
  const command = (cmd: string) => runtimeCommand(socket, cmd);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = logTail();
      dir.remove();
      throw new Error(`haproxy exited at start:\n${text}`);
    }
    const ok = await command('show info').then(
      (a) => a.includes('Name: HAProxy'),
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      const text = logTail();
      dir.remove();
      throw new Error(`haproxy's runtime API did not answer within 10 s:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  /** `show stat` as one record per proxy/server row, keyed by column name. */
  const stats = async () => {
    const [header, ...rows] = (await command('show stat')).split('\n');
    const cols = header.replace(/^# /, '').split(',');
    return rows.filter((r) => r.includes(',')).map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
  };
  const serverStates = async (backend: string) => {
    const states: Record<string, ServerStatus> = {};
    for (const row of await stats()) {
      if (row.pxname !== backend || row.svname === 'BACKEND' || row.svname === 'FRONTEND') continue;
      // "UP 1/2" is going down (still UP), "DOWN 1/2" is coming up (still DOWN).
      states[row.svname] = row.status.split(' ')[0];
    }
    return states;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    configFile,
    command,
    serverStates,
    statField: async (proxy, server, field) => (await stats()).find((r) => r.pxname === proxy && r.svname === server)?.[field],
    async waitForServer(backend, server, status, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      let last: ServerStatus | undefined;
      for (;;) {
        last = (await serverStates(backend))[server];
        if (last === status) return;
        if (Date.now() > until)
          throw new Error(`haproxy did not see ${backend}/${server} ${status} within ${timeoutMs} ms (it is ${last})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    logTail,
    logTrouble,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      dir.remove();
    },
  };
}
