import type { PlanNic, PlanSecurityRule } from '../../core/agent-protocol.js';
import { DEFAULT_RULES, formatIpv4, nicContext, nicPrefixLength, parseIpv4 } from '../../core/ipam/index.js';
import type { PoolObject } from '../../core/model.js';
import { getString, getVector, getVectors } from '../../core/template/index.js';
import type { Template, TemplateVector } from '../../core/template/types.js';
import { isVhostUserNic, VHOST_USER_ATTRIBUTE } from '../../core/vhost-user.js';
import { DEFAULT_SECGROUP_ID, nicGroupIds, rulesOf } from '../services/secgroup-service.js';
import { HOLDS_CAPACITY } from './placement.js';

/** The runtime-neutral NIC specs of a VM, from the NICs the lease step filled in. */
export function planNics(
  vm: PoolObject<'vm'>,
  peersOf: (networkId: number) => string[],
  rulesOf?: (nic: TemplateVector) => PlanSecurityRule[],
): PlanNic[] {
  return getVectors(vm.template, 'NIC')
    .filter((n) => n.NETWORK_ID !== undefined && n.MAC !== undefined)
    .map((n) => planNic(n, peersOf(Number(n.NETWORK_ID)), rulesOf?.(n)));
}

function planNic(n: TemplateVector, peers: string[], rules: PlanSecurityRule[] | undefined): PlanNic {
  const ips: PlanNic['ips'] = [];
  if (n.IP) ips.push({ address: n.IP, prefixLength: nicPrefixLength(n) });
  if (n.IP6) ips.push({ address: n.IP6, prefixLength: Number(n.PREFIX_LENGTH ?? '64') });
  for (const slaac of [n.IP6_GLOBAL, n.IP6_ULA]) if (slaac) ips.push({ address: slaac, prefixLength: 64 });
  const nic: PlanNic = {
    nicId: Number(n.NIC_ID ?? '0'),
    networkId: Number(n.NETWORK_ID),
    driver: n.VN_MAD ?? 'bridge',
    bridge: n.BRIDGE ?? `onebr${n.NETWORK_ID}`,
    mac: n.MAC as string,
    ips,
  };
  if (n.VLAN_ID) nic.vlanId = Number(n.VLAN_ID);
  if (n.PHYDEV) nic.phydev = n.PHYDEV;
  if (n.VLAN_TAGGED_ID) nic.vlanTagged = n.VLAN_TAGGED_ID;
  if (n.GATEWAY) nic.gateway = n.GATEWAY;
  if (n.MTU) nic.mtu = Number(n.MTU);
  if (n.DNS) nic.dns = n.DNS.split(/[\s,]+/).filter(Boolean);
  if (nic.driver === 'vxlan') nic.peers = peers;
  if (rules) nic.rules = rules;
  if (isVhostUserNic(n)) nic.vhostUser = true;
  return nic;
}

/** CONTEXT with ETHx_* variables added when CONTEXT/NETWORK = YES. */
export function contextWithNetwork(vm: PoolObject<'vm'>): Record<string, string> {
  const context = { ...(getVector(vm.template, 'CONTEXT') ?? {}) };
  if ((context.NETWORK ?? '').toUpperCase() !== 'YES') return context;
  return { ...context, ...nicContext(getVectors(vm.template, 'NIC').filter((n) => n.MAC !== undefined)) };
}

/**
 * Which hosts carry each network now: a host does while it holds a VM (active,
 * powered off or suspended) with a NIC on it. Values are the hosts' tunnel
 * addresses, as their agents reported them.
 */
export function networkHosts(
  vms: readonly PoolObject<'vm'>[],
  hosts: readonly PoolObject<'host'>[],
): Map<number, Map<number, string>> {
  const address = new Map(hosts.map((h) => [h.id, h.body.facts?.address ?? '']));
  const out = new Map<number, Map<number, string>>();
  for (const vm of vms) {
    const hostId = vm.body.host_id;
    if (hostId === null || !HOLDS_CAPACITY.has(vm.state)) continue;
    for (const n of getVectors(vm.template, 'NIC')) {
      if (n.NETWORK_ID === undefined || n.MAC === undefined) continue;
      const netId = Number(n.NETWORK_ID);
      let m = out.get(netId);
      if (!m) {
        m = new Map();
        out.set(netId, m);
      }
      m.set(hostId, address.get(hostId) ?? '');
    }
  }
  return out;
}

/** The peers one host of a network must replicate to: every other host's address. */
export function peersFor(hostsOfNet: Map<number, string> | undefined, hostId: number): string[] {
  if (!hostsOfNet) return [];
  return [...hostsOfNet.entries()]
    .filter(([id, addr]) => id !== hostId && addr !== '')
    .map(([, addr]) => addr)
    .sort();
}

export const hasNics = (vm: PoolObject<'vm'>) => getVectors(vm.template, 'NIC').length > 0;

/**
 * A pending VM's template with its NICs' network drivers added to
 * SCHED_REQUIREMENTS, so the scheduler only places it on hosts whose agent
 * reported those drivers usable (host attribute NETWORK_DRIVERS, e.g.
 * ",bridge,vxlan,"). A kernel without 802.1Q gets no 802.1Q NIC. A NIC on a
 * BRIDGE_TYPE=openvswitch_dpdk network also needs VHOST_USER = "YES".
 */
export function withNetworkRequirements(t: Template): Template {
  const nics = getVectors(t, 'NIC');
  const mads = [...new Set(nics.map((n) => n.VN_MAD).filter((m): m is string => !!m))];
  if (mads.length === 0) return t;
  const clauses = mads.map((m) => `NETWORK_DRIVERS = "*,${m},*"`);
  if (nics.some(isVhostUserNic)) clauses.push(`${VHOST_USER_ATTRIBUTE} = "YES"`);
  const needs = clauses.join(' & ');
  const current = getString(t, 'SCHED_REQUIREMENTS');
  return { ...t, SCHED_REQUIREMENTS: current ? `(${current}) & ${needs}` : needs };
}

/** Host template attributes for the network drivers its agent offers (and whether it gives vhost-user NICs). */
export function networkFactsTemplate(
  drivers: readonly string[] | undefined,
  vhostUser?: boolean | undefined,
): Record<string, string> {
  return {
    ...(drivers ? { NETWORK_DRIVERS: `,${drivers.join(',')},` } : {}),
    ...(vhostUser !== undefined ? { [VHOST_USER_ATTRIBUTE]: vhostUser ? 'YES' : 'NO' } : {}),
  };
}

/**
 * The SCHED_MESSAGE of an unplaced VM with a vhost-user NIC, made clearer:
 * when no connected host gives vhost-user NICs it says so with each host's
 * reason; when the requirements failed it adds which hosts lack VHOST_USER
 * and why. Otherwise (or without such a NIC) the scheduler's message.
 */
export function vhostUserSchedMessage(
  vm: PoolObject<'vm'>,
  hosts: readonly PoolObject<'host'>[],
  isConnected: (hostId: number) => boolean,
  schedulerMessage: string,
): string {
  const nic = getVectors(vm.template, 'NIC').find(isVhostUserNic);
  if (!nic) return schedulerMessage;
  const connected = hosts.filter((h) => h.body.facts && isConnected(h.id));
  const lacking = connected.filter((h) => h.body.facts?.vhostUser !== true);
  const why = lacking
    .map((h) => `host ${h.id}: ${h.body.facts?.networkUnusable?.['vhost-user'] ?? 'does not report vhost-user'}`)
    .join('; ');
  const what = `NIC ${nic.NIC_ID ?? 0} is on BRIDGE_TYPE = openvswitch_dpdk network ${nic.NETWORK_ID}`;
  if (lacking.length === connected.length) return `no host gives vhost-user NICs (${what})${why ? ` — ${why}` : ''}`;
  if (why && /SCHED_REQUIREMENTS/.test(schedulerMessage)) {
    return `${schedulerMessage} (${what}, which needs ${VHOST_USER_ATTRIBUTE} = "YES" — ${why})`;
  }
  return schedulerMessage;
}

/**
 * The rules a NIC's security groups add up to (the default group 0 always
 * included). A rule naming a network becomes that network's IPv4 ranges.
 */
export function nicRules(
  nic: TemplateVector,
  groups: ReadonlyMap<number, PoolObject<'secgroup'>>,
  vnets: ReadonlyMap<number, PoolObject<'vnet'>>,
): PlanSecurityRule[] {
  const out: PlanSecurityRule[] = [];
  for (const id of nicGroupIds(nic)) {
    const g = groups.get(id);
    const rules = g ? rulesOf(g.template) : id === DEFAULT_SECGROUP_ID ? DEFAULT_RULES : [];
    for (const r of rules) {
      let cidrs = r.addresses;
      if (r.network_id !== undefined) {
        const net = vnets.get(r.network_id);
        cidrs = [
          ...cidrs,
          ...(net?.body.ar_pool ?? []).filter((a) => a.ip).map((a) => ipv4Span(a.ip as string, a.size)),
        ];
        // A rule for a network that has no IPv4 ranges (or no longer exists) matches nothing.
        if (cidrs.length === 0) continue;
      }
      out.push({
        direction: r.rule_type,
        protocol: r.protocol,
        ports: r.ports,
        cidrs,
        ...(r.icmp_type !== undefined ? { icmpType: r.icmp_type } : {}),
      });
    }
  }
  return out;
}

function ipv4Span(first: string, size: number): string {
  const n = parseIpv4(first) as number;
  return size === 1 ? first : `${first}-${formatIpv4(n + size - 1)}`;
}
