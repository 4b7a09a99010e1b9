/**
 * Security-group rules from OpenNebula's `RULE = [ PROTOCOL, RULE_TYPE, RANGE,
 * IP, SIZE, NETWORK_ID, ICMP_TYPE ]` vectors, pure. IP + SIZE becomes an
 * address range ("10.0.0.1-10.0.0.9"); a CIDR in IP is accepted as is.
 */
import { OneError } from '../errors.js';
import type { SecurityRuleBody } from '../model.js';
import { formatIpv4, parseIpv4, parseIpv6 } from './addresses.js';

export const RULE_PROTOCOLS = ['ALL', 'TCP', 'UDP', 'ICMP', 'ICMPV6'] as const;

/** The default group 0: everything out (replies come back through connection tracking). */
export const DEFAULT_RULES: SecurityRuleBody[] = [{ rule_type: 'outbound', protocol: 'ALL', ports: [], addresses: [] }];

function bad(message: string, attribute: string): OneError {
  return new OneError('E_TEMPLATE_INVALID', message, { attribute });
}

export function parseSecurityRule(v: Record<string, string>, attribute: string): SecurityRuleBody {
  const at = (name: string) => `${attribute}/${name}`;
  const protocol = (v.PROTOCOL ?? '').toUpperCase();
  if (!(RULE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw bad(`PROTOCOL must be one of ${RULE_PROTOCOLS.join(', ')}, got '${v.PROTOCOL ?? ''}'`, at('PROTOCOL'));
  }
  const type = (v.RULE_TYPE ?? '').toLowerCase();
  if (type !== 'inbound' && type !== 'outbound') {
    throw bad(`RULE_TYPE must be inbound or outbound, got '${v.RULE_TYPE ?? ''}'`, at('RULE_TYPE'));
  }
  const rule: SecurityRuleBody = { rule_type: type, protocol, ports: [], addresses: [] };
  if (v.RANGE !== undefined && v.RANGE !== '') {
    if (protocol !== 'TCP' && protocol !== 'UDP') throw bad('RANGE needs PROTOCOL TCP or UDP', at('RANGE'));
    for (const part of v.RANGE.split(',').map((p) => p.trim())) {
      const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(part);
      const lo = Number(m?.[1]);
      const hi = m?.[2] === undefined ? lo : Number(m[2]);
      if (!m || lo < 1 || hi > 65535 || lo > hi) {
        throw bad(`RANGE must be ports like 22 or 8000:8100, separated by commas; got '${part}'`, at('RANGE'));
      }
      rule.ports.push(lo === hi ? String(lo) : `${lo}:${hi}`);
    }
  }
  if (v.ICMP_TYPE !== undefined && v.ICMP_TYPE !== '') {
    const t = Number(v.ICMP_TYPE);
    if (protocol !== 'ICMP' && protocol !== 'ICMPV6')
      throw bad('ICMP_TYPE needs PROTOCOL ICMP or ICMPV6', at('ICMP_TYPE'));
    if (!Number.isInteger(t) || t < 0 || t > 255)
      throw bad(`ICMP_TYPE must be 0-255, got '${v.ICMP_TYPE}'`, at('ICMP_TYPE'));
    rule.icmp_type = t;
  }
  if (v.NETWORK_ID !== undefined && v.NETWORK_ID !== '') {
    const id = Number(v.NETWORK_ID);
    if (!Number.isInteger(id) || id < 0)
      throw bad(`NETWORK_ID must be a network id, got '${v.NETWORK_ID}'`, at('NETWORK_ID'));
    rule.network_id = id;
  }
  if (v.IP !== undefined && v.IP !== '') rule.addresses.push(addressRange(v.IP, v.SIZE, at));
  return rule;
}

function addressRange(ip: string, size: string | undefined, at: (n: string) => string): string {
  const cidr = /^(.+)\/(\d{1,3})$/.exec(ip);
  if (cidr) {
    const base = cidr[1] as string;
    const plen = Number(cidr[2]);
    const v4 = parseIpv4(base) !== undefined;
    if ((!v4 && parseIpv6(base) === undefined) || plen > (v4 ? 32 : 128))
      throw bad(`IP '${ip}' is not a valid CIDR`, at('IP'));
    return ip;
  }
  const first = parseIpv4(ip);
  if (first !== undefined) {
    const n = size === undefined || size === '' ? 1 : Number(size);
    if (!Number.isInteger(n) || n < 1 || first + n > 2 ** 32)
      throw bad(`SIZE must be a positive count, got '${size}'`, at('SIZE'));
    return n === 1 ? ip : `${ip}-${formatIpv4(first + n - 1)}`;
  }
  if (parseIpv6(ip) !== undefined) return ip;
  throw bad(`IP '${ip}' is not an IPv4/IPv6 address or CIDR`, at('IP'));
}
