import { describe, expect, it } from 'vitest';
import type { Repo } from '../../registry/repos.js';
import { briocheClientSetup } from './client-setup.js';

const repo = (over: Partial<Repo>): Repo =>
  ({ id: 1, name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public', ...over }) as Repo;

/** The TOML lines of the printed config (the comment lines left out). */
const toml = (snippet: string) => snippet.split('\n').filter((l) => !l.startsWith('#'));

describe('larder serve printing for Brioche', () => {
  it('hosted over HTTPS: registry_url with its trailing "/", cache url without one, writes through S3, how to publish', () => {
    const { url, snippet } = briocheClientSetup(repo({}), 'https://larder.example/', {});
    expect(url).toBe('https://larder.example/brioche/registry/');
    expect(toml(snippet)).toEqual([
      'registry_url = "https://larder.example/brioche/registry/"',
      '[cache]',
      'url = "https://larder.example/brioche/cache"',
      'write_url = "s3://brioche"',
    ]);
    expect(snippet).toContain('~/.config/brioche/config.toml');
    expect(snippet).toContain(
      'export AWS_ENDPOINT_URL_S3=https://larder.example/-/s3 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=<key id> AWS_SECRET_ACCESS_KEY=<secret>',
    );
    expect(snippet).toContain('larder token create --s3 --scopes publish --repo brioche');
    expect(snippet).toMatch(
      /export BRIOCHE_REGISTRY_PASSWORD=<that token, or the repo password set with `larder brioche set-password brioche`>/,
    );
    expect(snippet).not.toContain('allow_http');
    expect(snippet).not.toContain('private');
  });

  it('plain http needs allow_http = true (trap 10); a base path is kept', () => {
    const { url, snippet } = briocheClientSetup(repo({ name: 'b' }), 'http://127.0.0.1:8080/larder', {});
    expect(url).toBe('http://127.0.0.1:8080/larder/b/registry/');
    expect(toml(snippet)).toContain('allow_http = true');
    expect(toml(snippet)).toContain('url = "http://127.0.0.1:8080/larder/b/cache"');
    expect(snippet).toContain('AWS_ENDPOINT_URL_S3=http://127.0.0.1:8080/larder/-/s3');
  });

  it('proxies and groups are read-only caches; a private repo reads the cache through S3 and sends the password on every request', () => {
    const proxy = briocheClientSetup(repo({ kind: 'proxy', upstream: 'https://registry.brioche.dev' }), 'https://h', {}).snippet;
    expect(toml(proxy)).toEqual([
      'registry_url = "https://h/brioche/registry/"',
      '[cache]',
      'url = "https://h/brioche/cache"',
      'read_only = true',
    ]);
    expect(proxy).toContain('read-only cache of https://registry.brioche.dev');
    const group = briocheClientSetup(repo({ kind: 'group', members: ['mine', 'official'] }), 'https://h', {}).snippet;
    expect(group).toContain('tags of mine, official (hosted first)');
    expect(toml(group)).toContain('read_only = true');
    const priv = briocheClientSetup(repo({ visibility: 'private' }), 'https://h', { caCertPath: '/d/ca.pem' }).snippet;
    expect(toml(priv)).toContain('url = "s3://brioche"');
    expect(priv).toMatch(/every request, or every resolve fails/);
    expect(priv).toContain('BRIOCHE_REGISTRY_PASSWORD=<a token with read scope, or the repo password>');
    expect(priv).toContain('/d/ca.pem');
  });
});
