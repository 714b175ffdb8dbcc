import { describe, expect, it } from 'vitest';
import type { Repo } from '../../registry/repos.js';
import { moonbitClientSetup } from './client-setup.js';

const repo = (over: Partial<Repo>): Repo =>
  ({ id: 1, name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public', ...over }) as Repo;

describe('larder serve printing for MoonBit', () => {
  it('prints MOONCAKES_REGISTRY without a trailing slash first, then the split config.json and how to publish', () => {
    const { url, snippet } = moonbitClientSetup(repo({}), 'https://larder.example/', {});
    expect(url).toBe('https://larder.example/moon');
    const lines = snippet.split('\n');
    const env = lines.findIndex((l) => l.startsWith('export '));
    expect(lines[env]).toBe('export MOONCAKES_REGISTRY=https://larder.example/moon');
    const json = lines.find((l) => l.includes('"api"'))!;
    expect(lines.indexOf(json)).toBeGreaterThan(env);
    expect(JSON.parse(json.replace(/^#\s*/, ''))).toEqual({
      api: 'https://larder.example/moon',
      index: 'https://larder.example/moon/git/index',
      download: 'https://larder.example/moon',
      symbols: 'https://larder.example/moon/symbols.zip',
    });
    expect(snippet).toContain('ignores MOONCAKES_REGISTRY');
    expect(snippet).toContain('larder moonbit publish DIR --registry https://larder.example/moon --token <token>');
    expect(snippet).not.toContain('private');
  });

  it('says what a proxy and a group are, what a private repo needs, and which CA to trust', () => {
    expect(moonbitClientSetup(repo({ kind: 'proxy', upstream: 'https://mooncakes.io' }), 'http://h', {}).snippet).toContain(
      'read-only cache of https://mooncakes.io',
    );
    expect(moonbitClientSetup(repo({ kind: 'group', members: ['moon', 'mooncakes'] }), 'http://h', {}).snippet).toContain(
      'one index over moon, mooncakes',
    );
    const priv = moonbitClientSetup(repo({ visibility: 'private' }), 'http://h', { caCertPath: '/d/ca.pem' }).snippet;
    expect(priv).toMatch(/moon sends none for zip downloads/);
    expect(priv).toContain('GIT_SSL_CAINFO=/d/ca.pem');
  });
});
