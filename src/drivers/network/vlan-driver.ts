import type { ProbeResult } from '../runtime/types.js';
import { defaultInterface, deleteLink, ensureBridge, ip, linkExists, probeName } from './ip-tools.js';
import type { HostNetwork, NetworkCapabilities, NetworkDriver } from './types.js';

/**
 * `802.1Q`: a kernel VLAN device `<phydev>.<tag>` per network as a port of the
 * network's bridge. Kernels built without 802.1Q (like the machines our CI
 * runs on) fail the probe, the agent reports the driver unusable, and the
 * scheduler places no such NIC on the host.
 */
export class VlanDriver implements NetworkDriver {
  readonly capabilities: NetworkCapabilities = Object.freeze({
    name: '802.1Q',
    overlay: false,
    isolatesByTag: true,
    mtuOverhead: 0,
  });

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const a = probeName('oeqa');
    try {
      await ip(['link', 'add', 'name', a, 'type', 'veth', 'peer', 'name', `${a}p`], signal);
      await ip(['link', 'add', 'link', a, 'name', `${a}.9`, 'type', 'vlan', 'id', '9'], signal);
      return { usable: true };
    } catch (err) {
      return { usable: false, reason: `the kernel cannot create 802.1Q VLAN devices: ${String(err)}` };
    } finally {
      await deleteLink(a, signal).catch(() => undefined);
    }
  }

  private async vlanDevice(net: HostNetwork, signal: AbortSignal): Promise<{ parent: string; dev: string }> {
    const parent = net.phydev ?? (await defaultInterface(signal)) ?? 'eth0';
    // Interface names are at most 15 characters: shorten the parent part if needed.
    const tag = String(net.vlanId ?? net.networkId);
    return { parent, dev: `${parent.slice(0, 14 - tag.length)}.${tag}` };
  }

  async ensure(net: HostNetwork, signal: AbortSignal): Promise<void> {
    await ensureBridge(net.bridge, signal);
    const { parent, dev } = await this.vlanDevice(net, signal);
    if (!(await linkExists(dev, signal))) {
      await ip(
        ['link', 'add', 'link', parent, 'name', dev, 'type', 'vlan', 'id', String(net.vlanId ?? net.networkId)],
        signal,
      );
    }
    await ip(['link', 'set', 'dev', dev, 'master', net.bridge, 'up'], signal);
  }

  async attach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void> {
    await ip(['link', 'set', 'dev', port, 'master', net.bridge, 'up'], signal);
  }

  async setPeers(): Promise<void> {}

  async remove(net: HostNetwork, signal: AbortSignal): Promise<void> {
    const { dev } = await this.vlanDevice(net, signal);
    await deleteLink(dev, signal);
    await deleteLink(net.bridge, signal);
  }

  present(net: HostNetwork, signal: AbortSignal): Promise<boolean> {
    return linkExists(net.bridge, signal);
  }
}
