/**
 * Which addresses Larder may connect to when a request names a URL (an archive in a Bazel source.json,
 * a git repository to register): public unicast only, unless larder.toml's [outbound] allow_private
 * lists the address, its range or the host name. The rules never look at what a server answered.
 */
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { parseAllowance, unmapped } from '../core/config/outbound.js';

/** Why an address is refused: the rule's name, as people read it. */
const RULES: Record<string, string> = {
  unspecified: 'an unspecified address (0.0.0.0/8, ::)',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (169.254.0.0/16, fe80::/10; cloud metadata services live there)',
  loopback: 'a loopback address (127.0.0.0/8, ::1)',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
  uniqueLocal: 'a private address (unique local, fc00::/7)',
  reserved: 'a reserved address',
  deprecatedSiteLocal: 'a site-local address (fec0::/10)',
  rfc6052: 'a NAT64 address (64:ff9b::/96), which reaches an IPv4 address behind it',
  rfc6145: 'an IPv4-translated address (::ffff:0:0:0/96)',
  '6to4': 'a 6to4 address (2002::/16), which reaches an IPv4 address behind it',
  teredo: 'a Teredo address (2001::/32), which reaches an IPv4 address behind it',
};

/** A host or address as compared: without URL brackets, lower-case. */
function bare(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/** A refused address: the rule that refused it, worded for a message. */
export interface Refusal {
  rule: string;
}

/** The address rules of one server, from [outbound] allow_private. */
export class AddressRules {
  private readonly ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  private readonly hosts: Array<{ name: string; subdomains: boolean }> = [];

  constructor(allowPrivate: readonly string[] = []) {
    for (const entry of allowPrivate) {
      const a = parseAllowance(entry);
      if (a.kind === 'range') this.ranges.push(a.range);
      else this.hosts.push(a);
    }
  }

  /** True when the operator listed this host name (the address it resolves to is then not checked). */
  allowsHost(host: string): boolean {
    const name = bare(host).replace(/\.$/, '');
    return this.hosts.some((h) => (h.subdomains ? name.endsWith(`.${h.name}`) : name === h.name));
  }

  /** Null when Larder may connect to `address` (reached through `host`), else the rule that refuses it. */
  refusal(address: string, host?: string): Refusal | null {
    if (host !== undefined && this.allowsHost(host)) return null;
    const text = bare(address).replace(/%.*$/, ''); // a zone index (fe80::1%eth0) does not change the rule
    if (!ipaddr.isValid(text)) return { rule: 'not an IP address' };
    const addr = unmapped(ipaddr.parse(text));
    if (this.ranges.some(([net, bits]) => addr.kind() === net.kind() && addr.match(net, bits))) return null;
    const range = addr.range();
    if (range === 'unicast') return null;
    return { rule: RULES[range] ?? `a special-purpose address (${range})` };
  }

  /**
   * Resolves a host name as the connection will (all addresses), refusing if any of them is refused, so a
   * name that answers both a public and an internal address cannot choose per connection.
   */
  async resolve(host: string): Promise<{ addresses: LookupAddress[] } | { refused: Refusal } | { error: Error }> {
    const name = bare(host);
    if (isIP(name)) {
      const refused = this.refusal(name, host);
      return refused ? { refused } : { addresses: [{ address: name, family: isIP(name) }] };
    }
    let addresses: LookupAddress[];
    try {
      // node:dns is loaded when first needed, not by every start (cold start, issue 14).
      const { lookup } = process.getBuiltinModule('node:dns');
      addresses = await new Promise<LookupAddress[]>((res, rej) => lookup(name, { all: true }, (err, a) => (err ? rej(err) : res(a))));
    } catch (err) {
      return { error: err as Error };
    }
    for (const a of addresses) {
      const refused = this.refusal(a.address, name);
      if (refused) return { refused };
    }
    return { addresses };
  }
}
