import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressRules } from './address-rules.js';

const rules = new AddressRules();
const rule = (address: string, r = rules) => r.refusal(address)?.rule ?? null;

describe('address rules', () => {
  it('refuses loopback, private, link-local, CGNAT, unspecified, multicast and their IPv4-mapped forms', () => {
    const refused: Array<[string, RegExp]> = [
      ['127.0.0.1', /loopback/],
      ['127.255.0.9', /loopback/],
      ['::1', /loopback/],
      ['10.0.0.1', /private/],
      ['172.16.5.4', /private/],
      ['192.168.1.1', /private/],
      ['fd12:3456::1', /private.*fc00::\/7/],
      ['169.254.169.254', /link-local.*metadata/],
      ['fe80::1', /link-local/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['0.0.0.0', /unspecified/],
      ['::', /unspecified/],
      ['224.0.0.1', /multicast/],
      ['ff02::1', /multicast/],
      ['255.255.255.255', /broadcast/],
      ['::ffff:127.0.0.1', /loopback/],
      ['::ffff:7f00:1', /loopback/],
      ['::ffff:10.1.2.3', /private/],
      ['::ffff:169.254.169.254', /link-local/],
      ['64:ff9b::7f00:1', /NAT64/],
      ['2002:7f00:1::1', /6to4/],
      ['fe80::1%eth0', /link-local/],
    ];
    for (const [address, expected] of refused) expect(rule(address), address).toMatch(expected);
  });

  it('lets public unicast addresses through', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect(rule(address), address).toBeNull();
  });

  it('allows what the operator lists: addresses, ranges (also as IPv4-mapped), host names and subdomains', () => {
    const allowing = new AddressRules(['10.1.0.0/16', '127.0.0.1', '::ffff:192.168.7.0/120', 'git.internal.example', '*.corp.example']);
    expect(rule('10.1.200.3', allowing)).toBeNull();
    expect(rule('::ffff:10.1.0.1', allowing)).toBeNull();
    expect(rule('10.2.0.1', allowing)).toMatch(/private/);
    expect(rule('127.0.0.1', allowing)).toBeNull();
    expect(rule('::ffff:127.0.0.1', allowing)).toBeNull();
    expect(rule('127.0.0.2', allowing)).toMatch(/loopback/);
    expect(rule('::1', allowing)).toMatch(/loopback/);
    expect(rule('192.168.7.9', allowing)).toBeNull();
    expect(rule('192.168.8.9', allowing)).toMatch(/private/);
    expect(allowing.refusal('10.9.9.9', 'git.internal.example')).toBeNull();
    expect(allowing.refusal('10.9.9.9', 'GIT.internal.example.')).toBeNull();
    expect(allowing.refusal('10.9.9.9', 'a.b.corp.example')).toBeNull();
    expect(allowing.refusal('10.9.9.9', 'corp.example')?.rule).toMatch(/private/);
    expect(allowing.refusal('10.9.9.9', 'evil-git.internal.example')?.rule).toMatch(/private/);
  });

  it('resolves a host name and refuses it when any address it resolves to is refused', async () => {
    expect(await rules.resolve('localhost')).toEqual({ refused: { rule: expect.stringMatching(/loopback/) } });
    expect(await rules.resolve('[::1]')).toEqual({ refused: { rule: expect.stringMatching(/loopback/) } });
    expect(await new AddressRules(['localhost']).resolve('localhost')).toHaveProperty('addresses');
    expect(await rules.resolve('no-such-host.invalid')).toHaveProperty('error');
  });

  it('gives every IPv4 address and its IPv4-mapped IPv6 forms the same verdict', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        expect(rule(`::ffff:${v4}`)).toBe(rule(v4));
        expect(rule(hex)).toBe(rule(v4));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every address in the ranges that reach inside a network', () => {
    const inRange = (base: number[], bits: number) =>
      fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((n) => {
        const v = ((base[0]! << 24) >>> 0) + (base[1]! << 16) + (base[2]! << 8) + base[3]! + n;
        return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
      });
    const internal = fc.oneof(
      inRange([127, 0, 0, 0], 8),
      inRange([10, 0, 0, 0], 8),
      inRange([172, 16, 0, 0], 12),
      inRange([192, 168, 0, 0], 16),
      inRange([169, 254, 0, 0], 16),
      inRange([100, 64, 0, 0], 10),
      inRange([0, 0, 0, 0], 8),
    );
    fc.assert(
      fc.property(internal, (address) => rule(address) !== null),
      { numRuns: 2000 },
    );
  });
});
