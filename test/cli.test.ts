import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, larder } from './support/cli.js';
import { freePort } from './support/net.js';
import { tempDir } from './support/tmp.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function workdir(): string {
  const d = tempDir('larder-cli-');
  cleanups.push(d.remove);
  return d.path;
}

function get(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('larder CLI', () => {
  it('init writes a commented larder.toml that serve accepts, and refuses to overwrite it', async () => {
    const cwd = workdir();
    const first = await larder(cwd, ['init']);
    expect(first.code).toBe(0);
    const text = fs.readFileSync(path.join(cwd, 'larder.toml'), 'utf8');
    expect(text).toMatch(/^#/m);
    expect(text).toContain('[[repos]]');
    const again = await larder(cwd, ['init']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const repos = await larder(cwd, ['repo', 'list']);
    expect(repos.code).toBe(0);
    expect(repos.stdout).toMatch(/cargo\s+cargo\s+hosted\s+public/);
  });

  it('reports a bad config key with its file and line', async () => {
    const cwd = workdir();
    fs.writeFileSync(
      path.join(cwd, 'larder.toml'),
      'listen = "127.0.0.1:8080"\n\n[[repos]]\nname = "cargo"\nformat = "cargo"\nkind = "hosted"\nvisibility = "secret"\n',
    );
    const res = await larder(cwd, ['repo', 'list']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('larder.toml:7: repos[0].visibility');
  });

  it('manages users and tokens: create prints only the token, list hides it, revoke ends it', async () => {
    const cwd = workdir();
    const data = path.join(cwd, 'data');
    expect((await larder(cwd, ['user', 'add', 'alice', '--data', data])).code).toBe(0);
    const dup = await larder(cwd, ['user', 'add', 'alice', '--data', data]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');
    const created = await larder(cwd, [
      'token',
      'create',
      '--data',
      data,
      '--user',
      'alice',
      '--scopes',
      'publish,yank',
      '--repo',
      'cargo*',
      '--expires',
      '30d',
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^larder_[A-Za-z0-9_-]+\n$/);
    const token = created.stdout.trim();
    const list = await larder(cwd, ['token', 'list', '--data', data]);
    expect(list.stdout).toContain('alice');
    expect(list.stdout).toContain('publish,yank');
    expect(list.stdout).toContain('cargo*');
    expect(list.stdout).not.toContain(token);
    const id = list.stdout
      .split('\n')
      .find((l) => l.includes('alice'))!
      .trim()
      .split(/\s+/)[0];
    expect((await larder(cwd, ['token', 'revoke', id, '--data', data])).code).toBe(0);
    expect((await larder(cwd, ['token', 'list', '--data', data])).stdout).toMatch(/revoked/);
    const badScope = await larder(cwd, ['token', 'create', '--data', data, '--scopes', 'publish,fly']);
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toContain('unknown scope "fly"');
    const users = await larder(cwd, ['user', 'list', '--data', data]);
    expect(users.stdout).toMatch(/admin/);
    expect(users.stdout).toMatch(/alice/);
  });

  it('serve prints the URL, the admin token once, the CA and the cargo snippet, and serves over TLS', async () => {
    const cwd = workdir();
    const port = await freePort();
    const start = () => {
      const child = spawn(
        process.execPath,
        [BIN, 'serve', '--data', path.join(cwd, 'data'), '--listen', `127.0.0.1:${port}`, '--tls', 'self-signed', '--log-level', 'warn'],
        {
          cwd,
          env: { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      cleanups.push(() => child.kill('SIGKILL'));
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      const ready = new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => out.includes('Metrics:') && resolve(out));
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      return { child, ready };
    };
    const first = start();
    const banner = await first.ready;
    const url = `https://127.0.0.1:${port}`;
    expect(banner).toContain(`Larder is serving on ${url}`);
    expect(banner).toContain(`  web UI:   ${url}/ `);
    expect(banner).toMatch(
      /Admin token \(shown once; store it now; it also signs in at https:\/\/127\.0\.0\.1:\d+\/-\/sign-in\):\n\s+larder_\S+/,
    );
    const ca = path.join(cwd, 'data', 'tls', 'ca.pem');
    expect(banner).toContain(`CARGO_HTTP_CAINFO=${ca}`);
    expect(banner).toContain(`index = "sparse+${url}/cargo/index/"`);
    expect(banner).toContain('credential-provider = "cargo:token"');
    expect(banner).toContain(`export MOONCAKES_REGISTRY=${url}/moonbit\n`);
    const caPem = fs.readFileSync(ca);
    expect(await get(`${url}/-/healthz`, caPem)).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect((await get(`${url}/-/readyz`, caPem)).status).toBe(200);
    // The URL the banner gives for the web UI answers with the start page.
    const home = await get(`${url}/`, caPem);
    expect(home.status).toBe(200);
    expect(home.body).toContain('<h1>Find a package</h1>');
    const config = await get(`${url}/cargo/index/config.json`, caPem);
    expect(JSON.parse(config.body)).toEqual({ dl: `${url}/cargo/api/v1/crates`, api: `${url}/cargo` });
    const metrics = await get(`${url}/-/metrics`, caPem);
    expect(metrics.body).toMatch(/larder_http_requests_total\{repo="cargo",format="cargo",status="200"\} 1/);
    expect(metrics.body).toContain('larder_index_cache_hit_ratio');
    const exited = new Promise<number | null>((resolve) => first.child.on('exit', resolve));
    first.child.kill('SIGTERM');
    expect(await exited).toBe(0);

    // A second start reuses the data: no new admin token is printed.
    const second = start();
    const banner2 = await second.ready;
    expect(banner2).not.toContain('Admin token');
    second.child.kill('SIGTERM');
  });
});
