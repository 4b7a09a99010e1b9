import { OneError } from '../../core/errors.js';
import { parseVlanList } from '../../core/vlan-list.js';
import type { ProbeResult } from '../runtime/types.js';
import { ip, linkExists } from './ip-tools.js';
import type { OvsDaemons } from './ovs-daemons.js';
import type { HostNetwork, NetworkCapabilities, NetworkDriver } from './types.js';

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

  probe(signal: AbortSignal): Promise<ProbeResult> {
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
    if (net.phydev && !(await linkExists(net.phydev, signal, this.ns))) {
      throw new OneError('E_DRIVER_FAILED', `PHYDEV ${net.phydev} of network ${net.networkId} is not on this host`, {
        networkId: net.networkId,
        phydev: net.phydev,
      });
    }
    await this.daemons.ready(signal);
    const br = net.bridge;
    await this.daemons.vsctl(
      [
        '--may-exist',
        'add-br',
        br,
        '--',
        'set',
        'Bridge',
        br,
        'datapath_type=netdev',
        `external_ids:${bridgeNetKey(net.networkId)}="${compactList(tags)}"`,
      ],
      signal,
    );
    if (net.phydev) {
      await ip(['link', 'set', 'dev', net.phydev, 'up'], signal, this.ns);
      await this.daemons.vsctl(
        ['--may-exist', 'add-port', br, net.phydev, '--', 'set', 'Port', net.phydev, `external_ids:${UPLINK_KEY}=true`],
        signal,
      );
    }
    await this.syncTrunks(br, signal);
    await this.dropStalePorts(br, signal);
  }

  async attach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void> {
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
    await ip(['link', 'set', 'dev', port, 'up'], signal, this.ns);
    await this.daemons.vsctl(args, signal);
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
    if (!(await this.bridgeExists(br, signal))) return;
    const ports = (await this.rows(br, signal)).filter((p) => p.externalIds[NET_KEY] === String(net.networkId));
    const args = ['remove', 'Bridge', br, 'external_ids', bridgeNetKey(net.networkId)];
    for (const p of ports) args.push('--', '--if-exists', 'del-port', br, p.name);
    await this.daemons.vsctl(args, signal);
    const left = await this.bridgeRow(br, signal);
    const inUse = Object.keys(left?.externalIds ?? {}).some((k) => k.startsWith('oneedge-net-'));
    const workloadPorts = (await this.rows(br, signal)).filter(
      (p) => p.name !== br && p.externalIds[UPLINK_KEY] !== 'true',
    );
    if (!inUse && workloadPorts.length === 0) await this.daemons.vsctl(['--if-exists', 'del-br', br], signal);
    else await this.syncTrunks(br, signal);
  }

  async present(net: HostNetwork, signal: AbortSignal): Promise<boolean> {
    if (!(await this.daemonsUp(signal)) || !(await this.bridgeExists(net.bridge, signal))) return false;
    const row = await this.bridgeRow(net.bridge, signal);
    return row?.externalIds[bridgeNetKey(net.networkId)] !== undefined;
  }

  /** Every uplink of the bridge trunks exactly the VLANs of the networks on it. */
  private async syncTrunks(br: string, signal: AbortSignal): Promise<void> {
    const row = await this.bridgeRow(br, signal);
    const tags = new Set<number>();
    for (const [k, v] of Object.entries(row?.externalIds ?? {})) {
      if (k.startsWith('oneedge-net-')) for (const t of parseVlanList(v)) tags.add(t);
    }
    const uplinks = (await this.rows(br, signal)).filter((p) => p.externalIds[UPLINK_KEY] === 'true');
    if (uplinks.length === 0 || tags.size === 0) return;
    const list = compactList([...tags].sort((a, b) => a - b));
    const args: string[] = [];
    for (const u of uplinks) args.push('--', 'set', 'Port', u.name, `trunks=${list}`);
    await this.daemons.vsctl(args.slice(1), signal);
  }

  /** Ports whose interface no longer exists (an agent that died between deleting a veth and its port). */
  private async dropStalePorts(br: string, signal: AbortSignal): Promise<void> {
    const stale: string[] = [];
    for (const p of await this.rows(br, signal)) {
      if (p.externalIds[NET_KEY] !== undefined && !(await linkExists(p.name, signal, this.ns))) stale.push(p.name);
    }
    if (stale.length === 0) return;
    const args: string[] = [];
    for (const name of stale) args.push('--', '--if-exists', 'del-port', br, name);
    await this.daemons.vsctl(args.slice(1), signal);
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

  private async bridgeRow(br: string, signal: AbortSignal): Promise<OvsRow | undefined> {
    const out = await this.daemons.vsctl(
      ['--format=json', '--columns=name,external_ids', 'find', 'Bridge', `name=${br}`],
      signal,
    );
    return parseRows(out)[0];
  }

  /** The ports of a bridge with their external_ids. */
  private async rows(br: string, signal: AbortSignal): Promise<OvsRow[]> {
    const names = (await this.daemons.vsctl(['list-ports', br], signal)).split('\n').filter(Boolean);
    if (names.length === 0) return [];
    const out = await this.daemons.vsctl(['--format=json', '--columns=name,external_ids', 'list', 'Port'], signal);
    const wanted = new Set(names);
    return parseRows(out).filter((r) => wanted.has(r.name));
  }
}

/** ovs-vsctl --format=json rows of (name, external_ids). */
function parseRows(json: string): OvsRow[] {
  const doc = JSON.parse(json || '{"data":[]}') as { data: [string, ['map', [string, string][]]][] };
  return doc.data.map(([name, ids]) => ({ name, externalIds: Object.fromEntries(ids[1]) }));
}
