import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const LOGGER = path.join(import.meta.dirname, 'logger.ts');

/** Runs `body` in a fresh process with `logging = createLogging(level)` and returns what it wrote to stdout, by line. */
async function run(level: string, body: string): Promise<Array<Record<string, unknown>>> {
  const script = `import { createLogging } from ${JSON.stringify(LOGGER)}; const logging = createLogging(${JSON.stringify(level)}); ${body}`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `run` with stdout a file (`>> larder.log`): what the file holds afterwards, by line. */
async function runIntoFile(level: string, body: string): Promise<Array<Record<string, unknown>>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'larder-log-'));
  try {
    const file = path.join(dir, 'larder.log');
    const fd = openSync(file, 'a');
    const script = `import { createLogging } from ${JSON.stringify(LOGGER)}; const logging = createLogging(${JSON.stringify(level)}); ${body}`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', fd, 'inherit'] });
    closeSync(fd);
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    return (await readFile(file, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const LINES = `
  await logging.load();
  logging.log.info({ a: 1 }, 'before');
  for (let i = 0; i < 3000; i++) logging.access(\`id-\${i}\`, 'GET', \`/cargo/index/\${i}\`, i % 2 ? 200 : 304, i / 100, 'cargo');
  logging.log.warn({}, 'after');
`;

describe('createLogging', () => {
  it('writes every request line and pino line, in order, when the process ends by itself', async () => {
    const lines = await run('info', LINES);
    expect(lines).toHaveLength(3002);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'before', a: 1, pid: expect.any(Number), hostname: expect.any(String) });
    expect(lines[1]).toMatchObject({
      level: 30,
      reqId: 'id-0',
      method: 'GET',
      url: '/cargo/index/0',
      status: 304,
      ms: 0,
      repo: 'cargo',
      msg: 'request',
    });
    expect(lines[2999]).toMatchObject({ reqId: 'id-2998', status: 304, ms: 29.98 });
    expect(lines[3000]).toMatchObject({ reqId: 'id-2999', status: 200, ms: 29.99 });
    expect(lines[3001]).toMatchObject({ level: 40, msg: 'after' });
    expect(Object.keys(lines[1])).toEqual(['level', 'time', 'pid', 'hostname', 'reqId', 'method', 'url', 'status', 'ms', 'repo', 'msg']);
  });

  it('writes into a file as stdout every line, in order, as the process goes and when it exits at once', async () => {
    // Past 128 KiB of lines some are written before the end; the rest at exit.
    const body = `${LINES}; for (let i = 0; i < 2000; i++) logging.access(\`more-\${i}\`, 'GET', '/cargo/index/' + 'y'.repeat(100), 200, 1, 'cargo'); logging.access('last', 'HEAD', '/x', 200, 0.5, '-'); process.exit(0);`;
    const lines = await runIntoFile('info', body);
    expect(lines).toHaveLength(5003);
    expect(lines[0]).toMatchObject({ msg: 'before' });
    expect(lines.slice(1, 3001).map((l) => l.reqId)).toEqual(Array.from({ length: 3000 }, (_, i) => `id-${i}`));
    expect(lines[3001]).toMatchObject({ level: 40, msg: 'after' });
    expect(lines.slice(3002, 5002).map((l) => l.reqId)).toEqual(Array.from({ length: 2000 }, (_, i) => `more-${i}`));
    expect(lines[5002]).toMatchObject({ reqId: 'last', method: 'HEAD', url: '/x', status: 200, ms: 0.5, repo: '-' });
  });

  it('writes what is pending when the process exits at once', async () => {
    const lines = await run('info', `${LINES}; logging.access('last', 'HEAD', '/x', 200, 0.5, '-'); process.exit(0);`);
    expect(lines).toHaveLength(3003);
    expect(lines.at(-1)).toMatchObject({ reqId: 'last', method: 'HEAD', url: '/x', status: 200, ms: 0.5, repo: '-' });
  });

  it('has no request lines above level info', async () => {
    const lines = await run(
      'warn',
      `if (logging.access !== null) throw new Error('access'); await logging.load(); logging.log.info({}, 'hidden'); logging.log.warn({}, 'shown');`,
    );
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });

  it('keeps what comes before pino is loaded and writes it first, in order', async () => {
    const lines = await run(
      'info',
      `logging.access('a', 'GET', '/1', 200, 1, 'cargo'); logging.log.warn({ w: 1 }, 'early'); logging.access('b', 'GET', '/2', 200, 1, 'cargo');
       await logging.load(); logging.access('c', 'GET', '/3', 200, 1, 'cargo');`,
    );
    expect(lines.map((l) => l.reqId ?? l.msg)).toEqual(['a', 'early', 'b', 'c']);
    expect(lines[1]).toMatchObject({ level: 40, w: 1 });
  });

  it('writes the request lines and warnings of a process that ends before pino is loaded, in order', async () => {
    const lines = await run(
      'info',
      `logging.access('a', 'GET', '/1', 200, 1, 'cargo'); logging.log.warn({ w: 1 }, 'early'); logging.access('b', 'GET', '/2', 304, 2, 'cargo'); process.exit(0);`,
    );
    expect(lines.map((l) => l.reqId ?? l.msg)).toEqual(['a', 'early', 'b']);
    expect(lines[1]).toMatchObject({ level: 40, w: 1, pid: expect.any(Number), hostname: expect.any(String), time: expect.any(Number) });
    expect(lines[2]).toMatchObject({ status: 304 });
  });

  it("exits when stdout's reader has stopped reading, with the lines it took whole and in order", async () => {
    // 40,000 request lines (~6 MB) into a pipe nobody reads: the writes fail with EAGAIN until the process gives up.
    const script = `import { createLogging } from ${JSON.stringify(LOGGER)}; const logging = createLogging('info');
      await logging.load();
      for (let i = 0; i < 40000; i++) logging.access(\`id-\${i}\`, 'GET', '/cargo/index/' + 'x'.repeat(64), 200, 1, 'cargo');
      await logging.settle();
      process.exit(0);`;
    // The reader starts only once the process has exited (a marker file appears), so the pipe stays full until then.
    const dir = await mkdtemp(path.join(tmpdir(), 'larder-log-'));
    const shell = `{ "$NODE" --import tsx --input-type=module -e "$SCRIPT"; echo $? > "$DIR/code"; touch "$DIR/exited"; } | { while [ ! -e "$DIR/exited" ]; do sleep 0.1; done; cat; }`;
    const child = spawn('sh', ['-c', shell], {
      env: { ...process.env, NODE: process.execPath, SCRIPT: script, DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    await once(child, 'close');
    expect(await readFile(path.join(dir, 'code'), 'utf8')).toBe('0\n');
    await rm(dir, { recursive: true, force: true });
    const lines = Buffer.concat(chunks).toString('utf8').split('\n');
    const whole = lines.slice(0, -1).map((l) => JSON.parse(l) as { reqId: string });
    expect(whole.length).toBeGreaterThan(0);
    expect(whole.length).toBeLessThan(40000);
    expect(whole.map((l) => l.reqId)).toEqual(whole.map((_, i) => `id-${i}`));
  }, 60_000);
});
