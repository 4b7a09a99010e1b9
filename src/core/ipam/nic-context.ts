/**
 * CONTEXT variables of a VM's NICs when `CONTEXT/NETWORK = YES`, the way
 * OpenNebula's contextualisation names them: ETH<i>_IP, _MASK, _GATEWAY, _DNS,
 * _MAC, _MTU, _IP6, _IP6_ULA, _IP6_PREFIX_LENGTH, _SEARCH_DOMAIN, _NETWORK.
 * Pure: reads the NIC vectors the lease step filled in.
 */
import { formatIpv4, maskOf, parseIpv4, prefixOfMask } from './addresses.js';

/** NIC attributes copied from the network (and its range) into the VM's NIC when the lease is taken. */
export const NIC_NETWORK_ATTRIBUTES = ['GATEWAY', 'DNS', 'MTU', 'NETWORK_MASK', 'SEARCH_DOMAIN', 'GATEWAY6'] as const;

/** Default guest mask when a network names none (OpenNebula's contextualisation uses /24). */
export const DEFAULT_PREFIX_LENGTH = 24;

/** The IPv4 prefix length of a NIC: its NETWORK_MASK, else /24. */
export function nicPrefixLength(nic: Record<string, string>): number {
  const mask = nic.NETWORK_MASK;
  if (mask !== undefined && mask !== '') {
    const plen = /^\d{1,2}$/.test(mask) ? Number(mask) : prefixOfMask(mask);
    if (plen !== undefined && plen >= 0 && plen <= 32) return plen;
  }
  return DEFAULT_PREFIX_LENGTH;
}

/** The network address of a NIC's IPv4 subnet (ETHx_NETWORK). */
export function networkAddress(ip: string, prefixLength: number): string | undefined {
  const n = parseIpv4(ip);
  if (n === undefined) return undefined;
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return formatIpv4((n & mask) >>> 0);
}

export function nicContext(nics: readonly Record<string, string>[]): Record<string, string> {
  const out: Record<string, string> = {};
  nics.forEach((nic, i) => {
    const p = `ETH${nic.NIC_ID ?? i}_`;
    const set = (key: string, value: string | undefined) => {
      if (value !== undefined && value !== '') out[p + key] = value;
    };
    set('MAC', nic.MAC);
    if (nic.IP) {
      const plen = nicPrefixLength(nic);
      set('IP', nic.IP);
      set('MASK', maskOf(plen));
      set('NETWORK', networkAddress(nic.IP, plen));
    }
    set('IP6', nic.IP6 ?? nic.IP6_GLOBAL);
    set('IP6_ULA', nic.IP6_ULA);
    set('IP6_PREFIX_LENGTH', nic.IP6 ? nic.PREFIX_LENGTH : nic.IP6_GLOBAL || nic.IP6_ULA ? '64' : undefined);
    set('GATEWAY', nic.GATEWAY);
    set('GATEWAY6', nic.GATEWAY6);
    set('DNS', nic.DNS);
    set('MTU', nic.MTU);
    set('SEARCH_DOMAIN', nic.SEARCH_DOMAIN);
  });
  return out;
}
