/**
 * Address arithmetic for IPAM: IPv4 as numbers, IPv6 and MACs as bigints.
 * Pure; every parser returns undefined for text it does not accept, so callers
 * decide which error code a bad value gets.
 */

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAC = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i;
export const IPV4_SPACE = 2 ** 32;
export const MAC_SPACE = 2n ** 48n;

export function parseIpv4(text: string): number | undefined {
  const m = IPV4.exec(text.trim());
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    const digits = m[i] as string;
    if (octet > 255 || (digits.length > 1 && digits.startsWith('0'))) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Dotted mask of a prefix length (24 → 255.255.255.0). */
export function maskOf(prefixLength: number): string {
  const bits = prefixLength <= 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return formatIpv4(bits);
}

/** Prefix length of a dotted mask, undefined when the mask is not contiguous. */
export function prefixOfMask(mask: string): number | undefined {
  const n = parseIpv4(mask);
  if (n === undefined) return undefined;
  const bits = n.toString(2).padStart(32, '0');
  if (!/^1*0*$/.test(bits)) return undefined;
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}

export function parseMac(text: string): bigint | undefined {
  const m = MAC.exec(text.trim());
  if (!m) return undefined;
  return BigInt(`0x${m.slice(1).join('')}`);
}

export function formatMac(n: bigint): string {
  const hex = n.toString(16).padStart(12, '0');
  return hex.match(/../g)?.join(':') ?? hex;
}

/** A MAC prefix like OpenNebula's MAC_PREFIX ("02:00"): the top 16 bits. */
export function parseMacPrefix(text: string): bigint | undefined {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text.trim());
  return m ? BigInt(`0x${m[1]}${m[2]}`) : undefined;
}

/** OpenNebula's MAC for an IPv4 lease: the 16-bit prefix followed by the four IP octets. */
export function macFromIpv4(prefix: bigint, ip: number): bigint {
  return (prefix << 32n) | BigInt(ip);
}

/** Parses an IPv6 address (with `::` compression and an optional embedded IPv4 tail). */
export function parseIpv6(text: string): bigint | undefined {
  let s = text.trim().toLowerCase();
  if (s.length === 0 || s.length > 45 || !/^[0-9a-f:.]+$/.test(s)) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] as string);
  const rest = halves.length === 2 ? parse(halves[1] as string) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 && given !== 8) return undefined;
  if (halves.length === 2 && given > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** RFC 5952 text: lower case, longest run of zero groups (≥ 2) compressed. */
export function formatIpv6(n: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** A /64 prefix as given in GLOBAL_PREFIX / ULA_PREFIX ("fd00:1:2:3::" or "fd00:1:2:3"). */
export function parsePrefix64(text: string): bigint | undefined {
  const t = text.trim();
  const full = parseIpv6(t.includes('::') ? t : `${t}::`);
  if (full === undefined) return undefined;
  if ((full & 0xffff_ffff_ffff_ffffn) !== 0n) return undefined;
  return full;
}

/** Modified EUI-64 interface id of a MAC (RFC 4291 appendix A): U/L bit flipped, ff:fe in the middle. */
export function eui64(mac: bigint): bigint {
  const hi = (mac >> 24n) & 0xffffffn;
  const lo = mac & 0xffffffn;
  return ((hi ^ 0x020000n) << 40n) | (0xfffen << 24n) | lo;
}

/** The SLAAC address of a MAC in a /64 prefix. */
export function slaac(prefix: bigint, mac: bigint): bigint {
  return prefix | eui64(mac);
}
