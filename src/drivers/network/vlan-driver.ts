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
  /** Run in this named network namespace instead of the agent's (conformance tests). */
  private readonly ns: string | undefined;

  constructor(options: { netns?: string } = {}) {
    this.ns = options.netns;
  }

  readonly capabilities: NetworkCapabilities = Object.freeze({
    name: '802.1Q',
    overlay: false,
    isolatesByTag: true,
    mtuOverhead: 0,
  });

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const a = probeName('oeqa');
    try {
      await ip(['link', 'add', 'name', a, 'type', 'veth', 'peer', 'name', `${a}p`], signal, this.ns);
      await ip(['link', 'add', 'link', a, 'name', `${a}.9`, 'type', 'vlan', 'id', '9'], signal, this.ns);
      return { usable: true };
    } catch (err) {
      return { usable: false, reason: `the kernel cannot create 802.1Q VLAN devices: ${String(err)}` };
    } finally {
      await deleteLink(a, signal, this.ns).catch(() => undefined);
    }
  }

  private async vlanDevice(net: HostNetwork, signal: AbortSignal): Promise<{ parent: string; dev: string }> {
    const parent = net.phydev ?? (await defaultInterface(signal, this.ns)) ?? 'eth0';
    // Interface names are at most 15 characters: shorten the parent part if needed.
    const tag = String(net.vlanId ?? net.networkId);
    return { parent, dev: `${parent.slice(0, 14 - tag.length)}.${tag}` };
  }

  async ensure(net: HostNetwork, signal: AbortSignal): Promise<void> {
    await ensureBridge(net.bridge, signal, this.ns);
    const { parent, dev } = await this.vlanDevice(net, signal);
    if (!(await linkExists(dev, signal, this.ns))) {
      await ip(
        ['link', 'add', 'link', parent, 'name', dev, 'type', 'vlan', 'id', String(net.vlanId ?? net.networkId)],
        signal,
        this.ns,
      );
    }
    await ip(['link', 'set', 'dev', dev, 'master', net.bridge, 'up'], signal, this.ns);
  }

  async attach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void> {
    await ip(['link', 'set', 'dev', port, 'master', net.bridge, 'up'], signal, this.ns);
  }

  async setPeers(): Promise<void> {}

  /** Deleting the veth takes it off the bridge. */
  async detach(): Promise<void> {}

  async remove(net: HostNetwork, signal: AbortSignal): Promise<void> {
    const { dev } = await this.vlanDevice(net, signal);
    await deleteLink(dev, signal, this.ns);
    await deleteLink(net.bridge, signal, this.ns);
  }

  present(net: HostNetwork, signal: AbortSignal): Promise<boolean> {
    return linkExists(net.bridge, signal, this.ns);
  }
}
