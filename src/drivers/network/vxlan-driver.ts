import type { ProbeResult } from '../runtime/types.js';
import { bridgeCmd, deleteLink, ensureBridge, ip, linkExists, probeName } from './ip-tools.js';
import type { HostNetwork, NetworkCapabilities, NetworkDriver } from './types.js';

const VXLAN_PORT = '4789';
const ALL_ZERO = '00:00:00:00:00:00';

/** The VXLAN device of a network: `onevx<VNI>` (at most 15 characters for VNIs up to 16,777,215). */
export const vxlanDevice = (net: HostNetwork) => `onevx${net.vlanId ?? net.networkId}`;

/**
 * `vxlan`: a VNI per network and a bridge per network on each host, with the
 * VXLAN device as a bridge port. No multicast: broadcast and unknown unicast
 * go to every other host of the network by head-end replication, one
 * all-zero FDB entry per peer, which the front-end keeps current as hosts
 * join and leave (`net-peers`). MTU inside is the underlay's minus 50.
 */
export class VxlanDriver implements NetworkDriver {
  /** Run in this named network namespace instead of the agent's (conformance tests). */
  private readonly ns: string | undefined;

  constructor(options: { netns?: string } = {}) {
    this.ns = options.netns;
  }

  readonly capabilities: NetworkCapabilities = Object.freeze({
    name: 'vxlan',
    overlay: true,
    isolatesByTag: true,
    mtuOverhead: 50,
  });

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const name = probeName('oexp');
    try {
      await ip(['link', 'add', 'name', name, 'type', 'vxlan', 'id', '1', 'dstport', VXLAN_PORT], signal, this.ns);
      return { usable: true };
    } catch (err) {
      return { usable: false, reason: `cannot create a VXLAN device: ${String(err)}` };
    } finally {
      await deleteLink(name, signal, this.ns).catch(() => undefined);
    }
  }

  async ensure(net: HostNetwork, signal: AbortSignal): Promise<void> {
    await ensureBridge(net.bridge, signal, this.ns);
    const dev = vxlanDevice(net);
    if (!(await linkExists(dev, signal, this.ns))) {
      const args = ['link', 'add', 'name', dev, 'type', 'vxlan', 'id', String(net.vlanId ?? net.networkId)];
      args.push('dstport', VXLAN_PORT, 'nolearning');
      if (net.localAddress) args.push('local', net.localAddress);
      if (net.phydev) args.push('dev', net.phydev);
      await ip(args, signal, this.ns);
    }
    await ip(['link', 'set', 'dev', dev, 'master', net.bridge, 'up'], signal, this.ns);
  }

  async attach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void> {
    await ip(['link', 'set', 'dev', port, 'master', net.bridge, 'up'], signal, this.ns);
  }

  /** Deleting the veth takes it off the bridge. */
  async detach(): Promise<void> {}

  /** Makes the flood list exactly `peers`: appends new ones, deletes ones that left. */
  async setPeers(net: HostNetwork, peers: readonly string[], signal: AbortSignal): Promise<void> {
    const dev = vxlanDevice(net);
    if (!(await linkExists(dev, signal, this.ns))) return;
    const current = await this.peers(net, signal);
    const want = new Set(peers.filter((p) => p !== net.localAddress));
    for (const p of want) {
      if (!current.includes(p)) await bridgeCmd(['fdb', 'append', ALL_ZERO, 'dev', dev, 'dst', p], signal, this.ns);
    }
    for (const p of current) {
      if (!want.has(p)) await bridgeCmd(['fdb', 'del', ALL_ZERO, 'dev', dev, 'dst', p], signal, this.ns);
    }
  }

  /** The flood list as the kernel has it. */
  async peers(net: HostNetwork, signal: AbortSignal): Promise<string[]> {
    const out = await bridgeCmd(['-j', 'fdb', 'show', 'dev', vxlanDevice(net)], signal, this.ns);
    const rows = JSON.parse(out || '[]') as { mac?: string; dst?: string }[];
    return rows
      .filter((r) => r.mac === ALL_ZERO && r.dst)
      .map((r) => r.dst as string)
      .sort();
  }

  async remove(net: HostNetwork, signal: AbortSignal): Promise<void> {
    await deleteLink(vxlanDevice(net), signal, this.ns);
    await deleteLink(net.bridge, signal, this.ns);
  }

  async present(net: HostNetwork, signal: AbortSignal): Promise<boolean> {
    return (await linkExists(net.bridge, signal, this.ns)) || (await linkExists(vxlanDevice(net), signal, this.ns));
  }
}
