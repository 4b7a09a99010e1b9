/**
 * The network-driver contract: how a host joins a virtual network. A driver
 * creates the host-side pieces of one network (a bridge, a VXLAN device, an
 * OVS bridge and its VLAN tag …), plugs workload interfaces into it, and
 * removes it when the network's last NIC leaves the host. Every method is
 * idempotent (the agent replays plans after a restart). Drivers stay dumb:
 * the agent's NetworkHost decides when to set up and tear down.
 */
import type { ProbeResult } from '../runtime/types.js';

export interface NetworkCapabilities {
  /** bridge, vxlan, ovswitch or 802.1Q: the VN_MAD it serves. */
  name: string;
  /** Traffic between hosts is tunnelled (needs peer lists from the front-end). */
  overlay: boolean;
  /** Networks are separated by a VLAN tag / VNI. */
  isolatesByTag: boolean;
  /** Bytes of encapsulation: the NIC MTU is the underlay MTU minus this. */
  mtuOverhead: number;
}

/** What a driver needs to know about one network on this host. */
export interface HostNetwork {
  networkId: number;
  bridge: string;
  /** VLAN tag or VNI. */
  vlanId?: number | undefined;
  /** Uplink for tagged / tunnelled traffic; default: the host's default-route interface. */
  phydev?: string | undefined;
  /** This host's tunnel address (VXLAN local), when known. */
  localAddress?: string | undefined;
  /** The NIC MTU (MTU of the network), when set. */
  mtu?: number | undefined;
  /** VLAN_TAGGED_ID: VLANs the workload port also carries tagged (a trunk NIC), e.g. "100,200-210". */
  vlanTagged?: string | undefined;
}

export interface NetworkDriver {
  readonly capabilities: NetworkCapabilities;
  /** Whether the driver works on this host (kernel features, binaries). */
  probe(signal: AbortSignal): Promise<ProbeResult>;
  /** Creates the network's host-side pieces if missing. */
  ensure(net: HostNetwork, signal: AbortSignal): Promise<void>;
  /** Plugs a host-side workload interface (veth end, tap) into the network. */
  attach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void>;
  /**
   * Unplugs a workload interface before it is deleted. Linux bridges forget a
   * deleted port by themselves; Open vSwitch keeps its database row.
   */
  detach(net: HostNetwork, port: string, signal: AbortSignal): Promise<void>;
  /** Sets the tunnel peers (overlay drivers; others ignore it). */
  setPeers(net: HostNetwork, peers: readonly string[], signal: AbortSignal): Promise<void>;
  /** Removes the network's host-side pieces. */
  remove(net: HostNetwork, signal: AbortSignal): Promise<void>;
  /** Whether the network's host-side pieces exist (for tests and diagnostics). */
  present(net: HostNetwork, signal: AbortSignal): Promise<boolean>;
}
