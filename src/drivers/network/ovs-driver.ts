import { OneError } from '../../core/errors.js';
import { parseVlanList } from '../../core/vlan-list.js';
import type { ProbeResult } from '../runtime/types.js';
import { ip } from './ip-tools.js';
import type { OvsDaemons } from './ovs-daemons.js';
import type { HostNetwork, NetworkCapabilities, NetworkDriver } from './types.js';
import { VHOST_KEY, vhostInterfaceArgs } from './vhost-user.js';

/** Port and bridge marks in the OVS database (external_ids), so the driver finds its own rows. */
const NET_KEY = 'oneedge-net';
const UPLINK_KEY = 'oneedge-uplink';
const bridgeNetKey = (networkId: number) => `oneedge-net-${networkId}`;

/** "10,20,21,22" → "10,20-22" (what ovs-vsctl accepts for integer sets). */
function compactList(tags: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < tags.length; ) {
    let j = i;
    while (j + 1 < tags.length && (tags[j + 1] as number) === (tags[j] as number) + 1) j++;
    parts.push(i === j ? String(tags[i]) : `${tags[i]}-${tags[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

interface OvsRow {
  name: string;
  externalIds: Record<string, string>;
}

/**
 * `ovswitch`: Open vSwitch bridges on the userspace datapath
 * (`datapath_type=netdev`, which needs no kernel module and is also the DPDK
 * datapath). Each workload interface is an access port tagged with the
 * network's VLAN (`tag=VLAN_ID`; with VLAN_TAGGED_ID it also carries those
 * VLANs tagged, `vlan_mode=native-untagged`). PHYDEV joins the bridge as a
 * trunk carrying exactly the VLANs of the networks on this host, so 802.1Q
 * frames leave the host on it. Several networks share one bridge (BRIDGE,
 * default oeovs0); the bridge records which (external_ids
 * oneedge-net-<id>=<tags>) and goes when the last one leaves. Without PHYDEV
 * the bridge is local to the host.
 */
export class OvsDriver implements NetworkDriver {
  private readonly ns: string | undefined;

  constructor(
    private readonly daemons: OvsDaemons,
    options: { netns?: string } = {},
  ) {
    this.ns = options.netns;
  }

  readonly capabilities: NetworkCapabilities = Object.freeze({
    name: 'ovswitch',
    overlay: false,
    isolatesByTag: true,
    mtuOverhead: 0,
  });

  /** The quick start-up check (binaries, schema, tun); verify() is the full one. */
  probe(signal: AbortSignal): Promise<ProbeResult> {
    return this.daemons.prerequisites(signal);
  }

  /** Daemons up and a userspace-datapath bridge made and deleted (seconds on a loaded host). */
  verify(signal: AbortSignal): Promise<ProbeResult> {
    return this.daemons.probe(signal);
  }

  private vlan(net: HostNetwork): number {
    const tag = net.vlanId ?? net.networkId;
    if (!Number.isInteger(tag) || tag < 1 || tag > 4094) {
      throw new OneError('E_VALIDATION', `network ${net.networkId}: VLAN_ID ${tag} is not within 1-4094`, {
        networkId: net.networkId,
      });
    }
    return tag;
  }

  /** Every tag a network puts on the trunk: its VLAN plus its VLAN_TAGGED_ID. */
  private tags(net: HostNetwork): number[] {
    const tags = new Set([this.vlan(net)]);
    if (net.vlanTagged) {
      try {
        for (const t of parseVlanList(net.vlanTagged)) tags.add(t);
      } catch (err) {
        throw new OneError('E_VALIDATION', `network ${net.networkId}: VLAN_TAGGED_ID ${(err as Error).message}`);
      }
    }
    return [...tags].sort((a, b) => a - b);
  }

  async ensure(net: HostNetwork, signal: AbortSignal): Promise<void> {
    const tags = this.tags(net);
    const links = await this.links(signal);
    if (net.phydev && !links.has(net.phydev)) {
      throw new OneError('E_DRIVER_FAILED', `PHYDEV ${net.phydev} of network ${net.networkId} is not on this host`, {
        networkId: net.networkId,
        phydev: net.phydev,
      });
    }
    await this.daemons.ready(signal);
    const br = net.bridge;
    // One transaction: the bridge on the userspace datapath, the network's mark, the uplink port.
    const args = ['--may-exist', 'add-br', br, '--', 'set', 'Bridge', br, 'datapath_type=netdev'];
    args.push(`external_ids:${bridgeNetKey(net.networkId)}="${compactList(tags)}"`);
    if (net.phydev) {
      await ip(['link', 'set', 'dev', net.phydev, 'up'], signal, this.ns);
      args.push('--', '--may-exist', 'add-port', br, net.phydev);
      args.push('--', 'set', 'Port', net.phydev, `external_ids:${UPLINK_KEY}=true`);
    }
    await this.daemons.vsctl(args, signal);
    // Then the trunks, and ports left behind by an agent that died between deleting a veth and its port.
    const state = await this.snapshot(br, signal);
    const fix = this.trunkArgs(state);
    for (const p of state?.ports ?? []) {
      // vhost-user ports are no kernel links: they leave with their VM (detach), never by this sweep.
      if (p.externalIds[VHOST_KEY] !== undefined) continue;
      if (p.externalIds[NET_KEY] !== undefined && !links.has(p.name) && p.name !== net.phydev) {
        fix.push('--', '--if-exists', 'del-port', br, p.name);
      }
    }
    if (fix.length > 0) await this.daemons.vsctl(fix.slice(1), signal);
  }

  async attach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void> {
    await ip(['link', 'set', 'dev', port, 'up'], signal, this.ns);
    await this.daemons.vsctl(this.portArgs(net, port), signal);
  }

  /**
   * Plugs a microVM's vhost-user NIC: a `dpdkvhostuserclient` port with the
   * network's tag that connects to the socket QEMU serves (vhost-user.ts).
   * Needs a DPDK-enabled vswitchd; OVS retries the connection until QEMU is up.
   */
  async attachVhostUser(net: HostNetwork, port: string, socket: string, signal: AbortSignal): Promise<void> {
    const args = this.portArgs(net, port);
    args.push('--', 'set', 'Port', port, `external_ids:${VHOST_KEY}=true`, ...vhostInterfaceArgs(port, socket));
    await this.daemons.vsctl(args, signal);
  }

  /** `add-port` with the network's access tag (and trunked VLAN_TAGGED_ID), mark and MTU. */
  private portArgs(net: HostNetwork, port: string): string[] {
    const vlan = this.vlan(net);
    const tagged = this.tags(net).filter((t) => t !== vlan);
    const settings = [
      `tag=${vlan}`,
      `external_ids:${NET_KEY}=${net.networkId}`,
      ...(tagged.length > 0
        ? [`trunks=${compactList(tagged)}`, 'vlan_mode=native-untagged']
        : ['trunks=[]', 'vlan_mode=[]']),
    ];
    const args = ['--may-exist', 'add-port', net.bridge, port, '--', 'set', 'Port', port, ...settings];
    if (net.mtu) args.push('--', 'set', 'Interface', port, `mtu_request=${net.mtu}`);
    return args;
  }

  async detach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void> {
    if (!(await this.bridgeExists(net.bridge, signal))) return;
    await this.daemons.vsctl(['--if-exists', 'del-port', net.bridge, port], signal);
  }

  async setPeers(): Promise<void> {}

  /** Deletes the network's ports and its mark on the bridge; the bridge goes when nothing else uses it. */
  async remove(net: HostNetwork, signal: AbortSignal): Promise<void> {
    const br = net.bridge;
    // The daemons hold the configuration: they must run to take it away (else it returns with them).
    await this.daemons.ready(signal);
    const state = await this.snapshot(br, signal);
    if (!state) return;
    const key = bridgeNetKey(net.networkId);
    const mine = state.ports.filter((p) => p.externalIds[NET_KEY] === String(net.networkId));
    delete state.bridge.externalIds[key];
    state.ports = state.ports.filter((p) => !mine.includes(p));
    const inUse = Object.keys(state.bridge.externalIds).some((k) => k.startsWith('oneedge-net-'));
    const workloadPorts = state.ports.filter((p) => p.name !== br && p.externalIds[UPLINK_KEY] !== 'true');
    if (!inUse && workloadPorts.length === 0) {
      await this.daemons.vsctl(['--if-exists', 'del-br', br], signal);
      return;
    }
    const args = ['remove', 'Bridge', br, 'external_ids', key];
    for (const p of mine) args.push('--', '--if-exists', 'del-port', br, p.name);
    await this.daemons.vsctl([...args, ...this.trunkArgs(state)], signal);
  }

  async present(net: HostNetwork, signal: AbortSignal): Promise<boolean> {
    if (!(await this.daemonsUp(signal))) return false;
    const state = await this.snapshot(net.bridge, signal);
    return state?.bridge.externalIds[bridgeNetKey(net.networkId)] !== undefined;
  }

  /** `-- set Port <uplink> trunks=…` for every uplink whose trunk list is not exactly the bridge's VLANs. */
  private trunkArgs(state: BridgeState | undefined): string[] {
    if (!state) return [];
    const tags = new Set<number>();
    for (const [k, v] of Object.entries(state.bridge.externalIds)) {
      if (k.startsWith('oneedge-net-')) for (const t of parseVlanList(v)) tags.add(t);
    }
    if (tags.size === 0) return [];
    const want = [...tags].sort((a, b) => a - b);
    const args: string[] = [];
    for (const u of state.ports.filter((p) => p.externalIds[UPLINK_KEY] === 'true')) {
      if (u.trunks.join(',') !== want.join(',')) args.push('--', 'set', 'Port', u.name, `trunks=${compactList(want)}`);
    }
    return args;
  }

  /** Interface names in the host's namespace, from one `ip` call. */
  private async links(signal: AbortSignal): Promise<Set<string>> {
    const rows = JSON.parse((await ip(['-j', 'link', 'show'], signal, this.ns)) || '[]') as { ifname: string }[];
    return new Set(rows.map((r) => r.ifname));
  }

  private async daemonsUp(signal: AbortSignal): Promise<boolean> {
    return this.daemons.vsctl(['--no-wait', 'show'], signal).then(
      () => true,
      () => false,
    );
  }

  private async bridgeExists(br: string, signal: AbortSignal): Promise<boolean> {
    return this.daemons.vsctl(['br-exists', br], signal).then(
      () => true,
      () => false,
    );
  }

  /** The bridge and its ports (with their marks and trunks) in one read; undefined when there is no bridge. */
  private async snapshot(br: string, signal: AbortSignal): Promise<BridgeState | undefined> {
    const out = await this.daemons.vsctl(
      [
        '--format=json',
        '--',
        '--columns=name,external_ids,ports',
        'find',
        'Bridge',
        `name=${br}`,
        '--',
        '--columns=_uuid,name,external_ids,trunks',
        'list',
        'Port',
      ],
      signal,
    );
    const [bridgeDoc = '', portDoc = ''] = out.trim().split('\n');
    const bridgeRow = (JSON.parse(bridgeDoc || '{"data":[]}') as OvsTable).data[0];
    if (!bridgeRow) return undefined;
    const [name, ids, portSet] = bridgeRow as [string, OvsValue, OvsValue];
    const members = new Set(setOf(portSet).map((u) => String((u as OvsValue[])[1])));
    const ports: PortRow[] = [];
    for (const row of (JSON.parse(portDoc || '{"data":[]}') as OvsTable).data) {
      const [uuid, portName, portIds, trunks] = row as [OvsValue, string, OvsValue, OvsValue];
      if (!members.has(String((uuid as OvsValue[])[1]))) continue;
      ports.push({ name: portName, externalIds: mapOf(portIds), trunks: setOf(trunks).map(Number) });
    }
    return { bridge: { name, externalIds: mapOf(ids) }, ports };
  }
}

type OvsValue = string | number | boolean | OvsValue[];
interface OvsTable {
  data: OvsValue[][];
}
interface PortRow extends OvsRow {
  trunks: number[];
}
interface BridgeState {
  bridge: OvsRow;
  ports: PortRow[];
}

/** OVSDB JSON: a set is ["set", [...]] — or the bare element when it has exactly one. */
function setOf(v: OvsValue): OvsValue[] {
  if (Array.isArray(v) && v[0] === 'set') return v[1] as OvsValue[];
  return [v];
}

function mapOf(v: OvsValue): Record<string, string> {
  const pairs = Array.isArray(v) && v[0] === 'map' ? (v[1] as [string, string][]) : [];
  return Object.fromEntries(pairs);
}
