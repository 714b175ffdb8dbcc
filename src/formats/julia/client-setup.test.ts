import { describe, expect, it } from 'vitest';
import { juliaFormat } from './index.js';

const repo = (kind: 'hosted' | 'proxy' | 'group', extra: object = {}) =>
  ({ id: 1, name: 'jl', format: 'julia', kind, visibility: 'public', ...extra }) as const;

describe('the Julia client snippet larder serve prints', () => {
  it('tells a hosted repo how to create registries and register packages', () => {
    const { url, snippet } = juliaFormat.clientSetup(repo('hosted'), 'https://larder.test/', {});
    expect(url).toBe('https://larder.test/jl');
    expect(snippet).toContain('export JULIA_PKG_SERVER=https://larder.test/jl');
    expect(snippet).toContain('larder julia register');
  });

  it('says a proxy is a read-only cache of its upstream, and a group which members it serves', () => {
    const proxy = juliaFormat.clientSetup(repo('proxy', { upstream: 'https://pkg.julialang.org' }), 'https://larder.test', {}).snippet;
    expect(proxy).toContain('export JULIA_PKG_SERVER=https://larder.test/jl');
    expect(proxy).toContain('read-only cache of https://pkg.julialang.org');
    expect(proxy).not.toContain('larder julia register');
    const group = juliaFormat.clientSetup(repo('group', { members: ['ours', 'general'] }), 'https://larder.test', {}).snippet;
    expect(group).toContain('one server over ours, general');
  });
});
