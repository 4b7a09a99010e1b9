import type { ProbeResult } from '../runtime/types.js';
import { deleteLink, ensureBridge, ip, linkExists, probeName } from './ip-tools.js';
import type { HostNetwork, NetworkCapabilities, NetworkDriver } from './types.js';

/**
 * `bridge`: a Linux bridge per network on each host; workload interfaces are
 * its ports. With PHYDEV the uplink joins the bridge too (flat L2 across
 * hosts, no isolation between networks sharing the uplink).
 */
export class BridgeDriver implements NetworkDriver {
  /** Run in this named network namespace instead of the agent's (conformance tests). */
  private readonly ns: string | undefined;

  constructor(options: { netns?: string } = {}) {
    this.ns = options.netns;
  }

  readonly capabilities: NetworkCapabilities = Object.freeze({
    name: 'bridge',
    overlay: false,
    isolatesByTag: false,
    mtuOverhead: 0,
  });

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const name = probeName('oebp');
    try {
      await ip(['link', 'add', 'name', name, 'type', 'bridge'], signal, this.ns);
      return { usable: true };
    } catch (err) {
      return { usable: false, reason: `cannot create a Linux bridge: ${String(err)}` };
    } finally {
      await deleteLink(name, signal, this.ns).catch(() => undefined);
    }
  }

  async ensure(net: HostNetwork, signal: AbortSignal): Promise<void> {
    await ensureBridge(net.bridge, signal, this.ns);
    if (net.phydev) await ip(['link', 'set', 'dev', net.phydev, 'master', net.bridge, 'up'], signal, this.ns);
  }

  async attach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void> {
    await ip(['link', 'set', 'dev', port, 'master', net.bridge, 'up'], signal, this.ns);
  }

  async setPeers(): Promise<void> {}

  /** Deleting the veth takes it off the bridge. */
  async detach(): Promise<void> {}

  async remove(net: HostNetwork, signal: AbortSignal): Promise<void> {
    if (net.phydev && (await linkExists(net.phydev, signal, this.ns))) {
      await ip(['link', 'set', 'dev', net.phydev, 'nomaster'], signal, this.ns).catch(() => undefined);
    }
    await deleteLink(net.bridge, signal, this.ns);
  }

  present(net: HostNetwork, signal: AbortSignal): Promise<boolean> {
    return linkExists(net.bridge, signal, this.ns);
  }
}
