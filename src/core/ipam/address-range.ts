/**
 * Address ranges (OpenNebula's AR): a run of SIZE consecutive leases of one
 * type. Lease `i` of a range has MAC `mac + i` and, depending on the type, IPv4
 * `ip + i`, static IPv6 `ip6 + i`, and SLAAC addresses built from the MAC in
 * the global and ULA /64 prefixes.
 *
 *   ETHER         MAC only
 *   IP4           MAC + IPv4 (MAC = MAC_PREFIX:IPv4 unless MAC is given)
 *   IP6           MAC + SLAAC (GLOBAL_PREFIX and/or ULA_PREFIX)
 *   IP6_STATIC    MAC + IP6 + i (PREFIX_LENGTH)
 *   IP4_6         IP4 and IP6 together
 *   IP4_6_STATIC  IP4 and IP6_STATIC together
 */
import { OneError } from '../errors.js';
import {
  formatIpv4,
  formatIpv6,
  formatMac,
  IPV4_SPACE,
  MAC_SPACE,
  macFromIpv4,
  parseIpv4,
  parseIpv6,
  parseMac,
  parsePrefix64,
  slaac,
} from './addresses.js';

export const AR_TYPES = ['ETHER', 'IP4', 'IP6', 'IP6_STATIC', 'IP4_6', 'IP4_6_STATIC'] as const;
export type ArType = (typeof AR_TYPES)[number];

/** One stored address range (snake_case: it is shown by the API as is). */
export interface AddressRange {
  ar_id: number;
  type: ArType;
  size: number;
  /** First MAC of the range. */
  mac: string;
  /** First IPv4 address (IP4, IP4_6, IP4_6_STATIC). */
  ip?: string;
  /** First static IPv6 address (IP6_STATIC, IP4_6_STATIC) and its prefix length. */
  ip6?: string;
  prefix_length?: number;
  /** /64 prefixes for SLAAC addresses (IP6, IP4_6). */
  global_prefix?: string;
  ula_prefix?: string;
  /** For a reservation: the parent network's range this one was carved from. */
  parent_network_ar_id?: number;
}

/** The addresses of one lease. */
export interface LeaseAddresses {
  ar_id: number;
  index: number;
  mac: string;
  ip?: string;
  ip6?: string;
  ip6_global?: string;
  ip6_ula?: string;
}

/** Biggest range accepted: a /16 of IPv4 is 65,536; this leaves room for IPv6/ETHER pools. */
export const MAX_AR_SIZE = 1 << 20;

export interface ParseArOptions {
  /** MAC_PREFIX as a 16-bit number (OpenNebula's default 02:00). */
  macPrefix: bigint;
  /** Used for the low 32 bits of the first MAC of a range with no IPv4 and no MAC given. */
  randomMacSuffix: number;
  /** The attribute path errors point at, e.g. `AR[0]`. */
  attribute: string;
}

function invalid(message: string, attribute: string): OneError {
  return new OneError('E_TEMPLATE_INVALID', message, { attribute });
}

const hasIp4 = (t: ArType) => t === 'IP4' || t === 'IP4_6' || t === 'IP4_6_STATIC';
const hasStatic6 = (t: ArType) => t === 'IP6_STATIC' || t === 'IP4_6_STATIC';
const hasSlaac = (t: ArType) => t === 'IP6' || t === 'IP4_6';

/** Builds a range from an `AR = [TYPE, SIZE, IP, MAC, …]` vector; errors name the attribute. */
export function parseAddressRange(v: Record<string, string>, arId: number, opts: ParseArOptions): AddressRange {
  const at = (name: string) => `${opts.attribute}/${name}`;
  const type = (v.TYPE ?? '').toUpperCase() as ArType;
  if (!AR_TYPES.includes(type)) {
    throw invalid(`AR TYPE must be one of ${AR_TYPES.join(', ')}, got '${v.TYPE ?? ''}'`, at('TYPE'));
  }
  const size = Number(v.SIZE);
  if (!Number.isInteger(size) || size < 1 || size > MAX_AR_SIZE) {
    throw invalid(`AR SIZE must be an integer from 1 to ${MAX_AR_SIZE}, got '${v.SIZE ?? ''}'`, at('SIZE'));
  }
  const ar: AddressRange = { ar_id: arId, type, size, mac: '' };
  let ip4: number | undefined;
  if (hasIp4(type)) {
    ip4 = v.IP === undefined ? undefined : parseIpv4(v.IP);
    if (ip4 === undefined) throw invalid(`AR of type ${type} needs IP, a valid IPv4 address`, at('IP'));
    if (ip4 + size > IPV4_SPACE) throw invalid(`AR runs past 255.255.255.255 (IP ${v.IP}, SIZE ${size})`, at('SIZE'));
    ar.ip = formatIpv4(ip4);
  }
  if (hasStatic6(type)) {
    const ip6 = v.IP6 === undefined ? undefined : parseIpv6(v.IP6);
    if (ip6 === undefined) throw invalid(`AR of type ${type} needs IP6, a valid IPv6 address`, at('IP6'));
    const plen = Number(v.PREFIX_LENGTH ?? '64');
    if (!Number.isInteger(plen) || plen < 1 || plen > 128) {
      throw invalid(`PREFIX_LENGTH must be from 1 to 128, got '${v.PREFIX_LENGTH}'`, at('PREFIX_LENGTH'));
    }
    if (ip6 + BigInt(size) > 2n ** 128n) throw invalid('AR runs past the end of the IPv6 space', at('SIZE'));
    ar.ip6 = formatIpv6(ip6);
    ar.prefix_length = plen;
  }
  if (hasSlaac(type)) {
    for (const [attr, key] of [
      ['GLOBAL_PREFIX', 'global_prefix'],
      ['ULA_PREFIX', 'ula_prefix'],
    ] as const) {
      const text = v[attr];
      if (text === undefined || text === '') continue;
      const prefix = parsePrefix64(text);
      if (prefix === undefined)
        throw invalid(`${attr} must be an IPv6 /64 prefix like fd00:1:2:3::, got '${text}'`, at(attr));
      ar[key] = formatIpv6(prefix);
    }
    if (!ar.global_prefix && !ar.ula_prefix) {
      throw invalid(`AR of type ${type} needs GLOBAL_PREFIX or ULA_PREFIX for SLAAC addresses`, at('GLOBAL_PREFIX'));
    }
  }
  let mac: bigint;
  if (v.MAC !== undefined && v.MAC !== '') {
    const given = parseMac(v.MAC);
    if (given === undefined) throw invalid(`MAC must look like 02:00:0a:00:00:01, got '${v.MAC}'`, at('MAC'));
    mac = given;
  } else if (ip4 !== undefined) {
    mac = macFromIpv4(opts.macPrefix, ip4);
  } else {
    mac = (opts.macPrefix << 32n) | BigInt(opts.randomMacSuffix >>> 0);
  }
  if (mac + BigInt(size) > MAC_SPACE) throw invalid('AR runs past ff:ff:ff:ff:ff:ff', at('MAC'));
  // A multicast first octet would make every lease unusable as a unicast address.
  if (((mac >> 40n) & 1n) === 1n) throw invalid(`MAC ${formatMac(mac)} is a multicast address`, at('MAC'));
  ar.mac = formatMac(mac);
  return ar;
}

/** The addresses of lease `index` of a range. */
export function addressAt(ar: AddressRange, index: number): LeaseAddresses {
  const mac = (parseMac(ar.mac) as bigint) + BigInt(index);
  const out: LeaseAddresses = { ar_id: ar.ar_id, index, mac: formatMac(mac) };
  if (ar.ip !== undefined) out.ip = formatIpv4((parseIpv4(ar.ip) as number) + index);
  if (ar.ip6 !== undefined) out.ip6 = formatIpv6((parseIpv6(ar.ip6) as bigint) + BigInt(index));
  if (ar.global_prefix !== undefined) out.ip6_global = formatIpv6(slaac(parseIpv6(ar.global_prefix) as bigint, mac));
  if (ar.ula_prefix !== undefined) out.ip6_ula = formatIpv6(slaac(parseIpv6(ar.ula_prefix) as bigint, mac));
  return out;
}

interface Span {
  first: bigint;
  last: bigint;
}

function spans(ar: AddressRange): { mac: Span; ip?: Span; ip6?: Span } {
  const n = BigInt(ar.size - 1);
  const mac = parseMac(ar.mac) as bigint;
  const out: { mac: Span; ip?: Span; ip6?: Span } = { mac: { first: mac, last: mac + n } };
  if (ar.ip !== undefined) {
    const ip = BigInt(parseIpv4(ar.ip) as number);
    out.ip = { first: ip, last: ip + n };
  }
  if (ar.ip6 !== undefined) {
    const ip6 = parseIpv6(ar.ip6) as bigint;
    out.ip6 = { first: ip6, last: ip6 + n };
  }
  return out;
}

const overlaps = (a: Span | undefined, b: Span | undefined) =>
  a !== undefined && b !== undefined && a.first <= b.last && b.first <= a.last;

/** Refuses a range whose MACs, IPv4 or static IPv6 addresses overlap another range of the network. */
export function checkOverlap(existing: readonly AddressRange[], ar: AddressRange): void {
  const mine = spans(ar);
  for (const other of existing) {
    if (other.ar_id === ar.ar_id) continue;
    const theirs = spans(other);
    const what = overlaps(mine.ip, theirs.ip)
      ? 'IPv4 addresses'
      : overlaps(mine.ip6, theirs.ip6)
        ? 'IPv6 addresses'
        : overlaps(mine.mac, theirs.mac)
          ? 'MAC addresses'
          : undefined;
    if (what) {
      throw new OneError('E_AR_OVERLAP', `address range ${ar.ar_id} overlaps range ${other.ar_id} (${what})`, {
        ar_id: ar.ar_id,
        other_ar_id: other.ar_id,
      });
    }
  }
}

/** Index of an IPv4 / static IPv6 / MAC inside a range, or undefined when outside. */
export function indexOf(ar: AddressRange, kind: 'ip' | 'ip6' | 'mac', value: bigint): number | undefined {
  const s = spans(ar)[kind];
  if (!s || value < s.first || value > s.last) return undefined;
  return Number(value - s.first);
}
