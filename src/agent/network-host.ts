import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PlanNic } from '../core/agent-protocol.js';
import { isOneError, OneError } from '../core/errors.js';
import {
  applyRuleset,
  applyTapRuleset,
  BridgeDriver,
  createNic,
  createTap,
  deleteNic,
  ensureNetns,
  type HostNetwork,
  hostIfName,
  type NetworkDriver,
  netnsPath,
  type OvsDaemonOptions,
  OvsDaemons,
  OvsDriver,
  removeNetns,
  removeTapRuleset,
  VlanDriver,
  VxlanDriver,
} from '../drivers/network/index.js';
import { MAX_SOCKET_PATH, vhostSocketPath } from '../drivers/network/vhost-user.js';
import type { ProbeResult } from '../drivers/runtime/types.js';

/** A workload's NICs as the agent remembers them (persisted with the workload record). */
export interface WorkloadNics {
  netns: string;
  nics: PlanNic[];
  /** 'tap': a microVM's taps in the host namespace (no workload namespace); absent: veths of a container. */
  kind?: 'tap';
}

/**
 * The host side of virtual networks: which drivers work here, which networks
 * are set up, and for which workload NICs. A network is set up when its first
 * NIC arrives and removed when its last NIC leaves. Setting up a workload's
 * NICs is all or nothing: on failure everything it created is removed again.
 */
export class NetworkHost {
  private readonly drivers = new Map<string, NetworkDriver>();
  readonly unusable: Record<string, string> = {};
  /** NIC users per network id: `vmId:nicId`. */
  private readonly users = new Map<number, Set<string>>();
  private readonly nets = new Map<number, { driver: NetworkDriver; net: HostNetwork }>();
  private readonly peers = new Map<number, string[]>();
  private chain: Promise<unknown> = Promise.resolve();
  localAddress: string | undefined;
  /** Open vSwitch daemons for `ovswitch` networks (own ones under <scratchDir>/ovs unless configured). */
  readonly ovs: OvsDaemons;

  constructor(
    private readonly nsPrefix: string,
    private readonly scratchDir: string,
    private readonly log: Logger,
    options: { ovs?: Partial<OvsDaemonOptions> } = {},
  ) {
    this.ovs = new OvsDaemons({ runDir: join(scratchDir, 'ovs'), ...options.ovs });
  }

  /** Probes every driver; the usable ones are offered to the front-end. */
  async probe(signal: AbortSignal): Promise<void> {
    const all: NetworkDriver[] = [new BridgeDriver(), new VxlanDriver(), new VlanDriver(), new OvsDriver(this.ovs)];
    for (const d of all) {
      const r = await d.probe(signal).catch((err: unknown) => ({ usable: false, reason: String(err) }));
      if (r.usable) this.drivers.set(d.capabilities.name, d);
      else this.unusable[d.capabilities.name] = r.reason ?? 'probe failed';
    }
    this.log.info({ drivers: this.names(), unusable: this.unusable }, 'network drivers probed');
  }

  /**
   * The start-up probe of ovswitch is the quick one (binaries, schema, tun):
   * starting the daemons and a netdev bridge takes seconds on a loaded host,
   * so the first ovswitch NIC does it. When the daemons cannot run, the driver
   * is withdrawn (the next facts no longer offer it) with the reason.
   */
  private withdrawOvs(driver: NetworkDriver): void {
    if (!(driver instanceof OvsDriver) || this.ovs.runningOnce || !this.ovs.startError) return;
    this.drivers.delete('ovswitch');
    this.unusable.ovswitch = `cannot run the Open vSwitch daemons: ${this.ovs.startError}`;
    this.log.warn({ reason: this.unusable.ovswitch }, 'open vswitch withdrawn');
  }

  /** Resolves once the queued host changes are done. */
  settled(): Promise<void> {
    return this.serial(async () => undefined);
  }

  names(): string[] {
    return [...this.drivers.keys()];
  }

  netnsName(vmId: number): string {
    return `${this.nsPrefix}-vm${vmId}`;
  }

  /** Re-registers NICs of workloads found at start-up (no host changes). */
  adopt(vmId: number, nics: PlanNic[]): void {
    for (const nic of nics) {
      const driver = this.drivers.get(nic.driver);
      if (!driver) continue;
      this.nets.set(nic.networkId, { driver, net: this.hostNetwork(nic) });
      this.userSet(nic.networkId).add(`${vmId}:${nic.nicId}`);
    }
  }

  /** Creates the workload's namespace and NICs; returns the namespace path. All or nothing. */
  setup(vmId: number, nics: PlanNic[], signal: AbortSignal): Promise<string> {
    return this.serial(async () => {
      const ns = this.netnsName(vmId);
      const undo: Array<() => Promise<void>> = [];
      try {
        for (const nic of nics) this.driverFor(nic);
        await ensureNetns(ns, signal);
        undo.push(() => removeNetns(ns, AbortSignal.timeout(10_000)));
        for (const nic of nics) await this.plug(vmId, ns, nic, undo, signal);
        await this.firewall(vmId, nics, signal);
        return netnsPath(ns);
      } catch (err) {
        for (const u of undo.reverse()) await u().catch(() => undefined);
        throw isOneError(err) ? err : new OneError('E_DRIVER_FAILED', `network setup failed: ${String(err)}`);
      }
    });
  }

  /**
   * A microVM's NICs: one tap per NIC in the agent's own namespace, plugged
   * into its network by the network's driver, with the VM's security groups
   * on the taps (tap-firewall.ts). Returns the tap names. All or nothing.
   * A NIC with `vhostUser` becomes a vhost-user port of the DPDK switch
   * instead (its entry is the OVS port name; vhostSocket() is QEMU's side).
   */
  setupTaps(vmId: number, nics: PlanNic[], signal: AbortSignal): Promise<string[]> {
    return this.serial(async () => {
      const undo: Array<() => Promise<void>> = [];
      try {
        for (const nic of nics) this.driverFor(nic);
        const taps: string[] = [];
        for (const nic of nics) {
          if (nic.vhostUser) taps.push(await this.plugVhostUser(vmId, nic, undo, signal));
          else taps.push(await this.plug(vmId, '', nic, undo, signal, () => createTap(vmId, nic, signal)));
        }
        undo.push(() => removeTapRuleset(vmId, AbortSignal.timeout(10_000)));
        await this.tapFirewall(vmId, nics, signal);
        return taps;
      } catch (err) {
        for (const u of undo.reverse()) await u().catch(() => undefined);
        throw isOneError(err) ? err : new OneError('E_DRIVER_FAILED', `network setup failed: ${String(err)}`);
      }
    });
  }

  /**
   * Adds one tap to a microVM (hot attach, or attach while it is off): plugged
   * into its network like the boot-time taps, then the VM's tap firewall
   * re-applied for `all` its NICs. Returns the tap name. All or nothing.
   */
  attachTap(vmId: number, nic: PlanNic, all: PlanNic[], signal: AbortSignal): Promise<string> {
    return this.serial(async () => {
      const undo: Array<() => Promise<void>> = [];
      try {
        const tap = await this.plug(vmId, '', nic, undo, signal, () => createTap(vmId, nic, signal));
        await this.tapFirewall(vmId, all, signal);
        return tap;
      } catch (err) {
        for (const u of undo.reverse()) await u().catch(() => undefined);
        throw isOneError(err) ? err : new OneError('E_DRIVER_FAILED', `NIC attach failed: ${String(err)}`);
      }
    });
  }

  /** Removes one tap of a microVM and re-applies the firewall of the `rest` (none left: the VM's table goes). */
  detachTap(vmId: number, nic: PlanNic, rest: PlanNic[], signal: AbortSignal): Promise<void> {
    return this.serial(async () => {
      await this.unplug(vmId, nic, signal);
      await deleteNic(vmId, nic.nicId, signal);
      await this.release(nic.networkId, `${vmId}:${nic.nicId}`, signal);
      if (rest.length > 0) await this.tapFirewall(vmId, rest, signal);
      else await removeTapRuleset(vmId, signal);
    });
  }

  /** Adds one NIC to a running workload's namespace (hot attach). */
  attach(vmId: number, nic: PlanNic, signal: AbortSignal): Promise<void> {
    return this.serial(async () => {
      const undo: Array<() => Promise<void>> = [];
      try {
        await this.plug(vmId, this.netnsName(vmId), nic, undo, signal);
      } catch (err) {
        for (const u of undo.reverse()) await u().catch(() => undefined);
        throw isOneError(err) ? err : new OneError('E_DRIVER_FAILED', `NIC attach failed: ${String(err)}`);
      }
    });
  }

  /** Removes one NIC; the network goes when this was its last NIC here. */
  detach(vmId: number, nic: PlanNic, signal: AbortSignal): Promise<void> {
    return this.serial(async () => {
      await this.unplug(vmId, nic, signal);
      await deleteNic(vmId, nic.nicId, signal);
      await this.release(nic.networkId, `${vmId}:${nic.nicId}`, signal);
    });
  }

  /** The unix socket QEMU serves for a vhost-user NIC (the switch's port connects to it). */
  vhostSocket(vmId: number, nicId: number): string {
    return vhostSocketPath(join(this.scratchDir, 'vhu'), vmId, nicId);
  }

  /** Whether microVM NICs can be vhost-user ports here (the facts' vhostUser), and why not. */
  async vhostUser(signal: AbortSignal): Promise<ProbeResult> {
    if (!this.drivers.has('ovswitch')) {
      return { usable: false, reason: `ovswitch is not usable: ${this.unusable.ovswitch ?? 'not probed'}` };
    }
    return this.ovs.vhostUser(signal);
  }

  /**
   * A vhost-user NIC: the network set up as for any NIC, then a
   * dpdkvhostuserclient port (named like the NIC's tap would be) pointing at
   * the socket QEMU will serve. Refused when the switch has no DPDK.
   */
  private async plugVhostUser(
    vmId: number,
    nic: PlanNic,
    undo: Array<() => Promise<void>>,
    signal: AbortSignal,
  ): Promise<string> {
    const socket = this.vhostSocket(vmId, nic.nicId);
    if (socket.length > MAX_SOCKET_PATH) {
      throw new OneError('E_DRIVER_FAILED', `vhost-user socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes`);
    }
    const driver = this.driverFor(nic);
    if (!(driver instanceof OvsDriver)) {
      throw new OneError('E_VHOST_USER', `NIC ${nic.nicId}: vhost-user NICs need VN_MAD ovswitch, not ${nic.driver}`, {
        nicId: nic.nicId,
      });
    }
    return this.plug(
      vmId,
      '',
      nic,
      undo,
      signal,
      async () => {
        // The network and the daemons are up now (ensure ran): DPDK must be initialised in them.
        const ok = await this.ovs.vhostUser(signal);
        if (!ok.usable) {
          throw new OneError(
            'E_VHOST_USER',
            `NIC ${nic.nicId}: this host cannot give vhost-user NICs: ${ok.reason ?? 'no DPDK'}`,
            { nicId: nic.nicId },
          );
        }
        await mkdir(join(this.scratchDir, 'vhu'), { recursive: true, mode: 0o700 });
        await rm(socket, { force: true });
        undo.push(() => rm(socket, { force: true }));
        return hostIfName(vmId, nic.nicId);
      },
      (net, port) => driver.attachVhostUser(net, port, socket, signal),
    );
  }

  /** Removes every NIC and the namespace (or, for taps, the firewall table) of a workload that is gone. */
  teardown(vmId: number, nics: PlanNic[], signal: AbortSignal, kind?: 'tap'): Promise<void> {
    return this.serial(async () => {
      for (const nic of nics) {
        await this.unplug(vmId, nic, signal);
        await deleteNic(vmId, nic.nicId, signal);
        if (nic.vhostUser && kind === 'tap') await rm(this.vhostSocket(vmId, nic.nicId), { force: true });
        await this.release(nic.networkId, `${vmId}:${nic.nicId}`, signal);
      }
      if (kind === 'tap') await removeTapRuleset(vmId, signal);
      else await removeNetns(this.netnsName(vmId), signal);
    });
  }

  /** Re-applies a running workload's NIC firewall (a security group changed), without a restart. */
  applyRules(vmId: number, nics: PlanNic[], signal: AbortSignal, kind?: 'tap'): Promise<void> {
    return this.serial(() =>
      kind === 'tap' ? this.tapFirewall(vmId, nics, signal) : this.firewall(vmId, nics, signal),
    );
  }

  private async tapFirewall(vmId: number, all: PlanNic[], signal: AbortSignal): Promise<void> {
    // vhost-user NICs have no kernel interface for nftables to match: they are not filtered (docs/networks.md).
    const nics = all.filter((n) => !n.vhostUser);
    await applyTapRuleset(join(this.scratchDir, this.nsPrefix), vmId, nics, signal);
    this.log.debug({ vmId, rules: nics.reduce((k, n) => k + (n.rules?.length ?? 0), 0) }, 'tap firewall applied');
  }

  private async firewall(vmId: number, nics: PlanNic[], signal: AbortSignal): Promise<void> {
    if (!nics.some((n) => n.rules !== undefined)) return;
    const ns = this.netnsName(vmId);
    await applyRuleset(netnsPath(ns), join(this.scratchDir, `${ns}.nft`), nics, signal);
    this.log.debug({ vmId, rules: nics.reduce((k, n) => k + (n.rules?.length ?? 0), 0) }, 'firewall applied');
  }

  /** The front-end's new peer list for a network (applied now if the network is here). */
  updatePeers(networkId: number, peers: string[], signal: AbortSignal): Promise<void> {
    return this.serial(async () => {
      this.peers.set(networkId, peers);
      const entry = this.nets.get(networkId);
      if (entry && (this.users.get(networkId)?.size ?? 0) > 0) {
        await entry.driver.setPeers(entry.net, peers, signal);
        this.log.debug({ networkId, peers }, 'network peers updated');
      }
    });
  }

  private async plug(
    vmId: number,
    ns: string,
    nic: PlanNic,
    undo: Array<() => Promise<void>>,
    signal: AbortSignal,
    makePort: () => Promise<string> = () => createNic(vmId, ns, nic, signal),
    attachPort?: (net: HostNetwork, port: string) => Promise<void>,
  ): Promise<string> {
    const driver = this.driverFor(nic);
    const net = this.hostNetwork(nic);
    const fresh = !this.nets.has(nic.networkId) || (this.users.get(nic.networkId)?.size ?? 0) === 0;
    await driver.ensure(net, signal).catch((err: unknown) => {
      this.withdrawOvs(driver);
      throw err;
    });
    this.nets.set(nic.networkId, { driver, net });
    const key = `${vmId}:${nic.nicId}`;
    const users = this.userSet(nic.networkId);
    const added = !users.has(key);
    users.add(key);
    undo.push(async () => {
      if (added) await this.release(nic.networkId, key, AbortSignal.timeout(10_000));
    });
    if (fresh || nic.peers) {
      // The plan's list and the last one pushed (net-peers) may each be the newer: use both. A stale
      // extra entry only floods a copy to a host that drops it; a missing one cuts a host off.
      const peers = [...new Set([...(this.peers.get(nic.networkId) ?? []), ...(nic.peers ?? [])])];
      await driver.setPeers(net, peers, signal);
    }
    undo.push(() => deleteNic(vmId, nic.nicId, AbortSignal.timeout(10_000)));
    const host = await makePort();
    undo.push(() => driver.detach(net, host, AbortSignal.timeout(10_000)));
    await (attachPort ? attachPort(net, host) : driver.attach(net, host, signal));
    this.log.debug({ vmId, nicId: nic.nicId, networkId: nic.networkId, host }, 'nic plugged');
    return host;
  }

  /** Takes a NIC's host end off its network (OVS keeps port rows of deleted interfaces otherwise). */
  private async unplug(vmId: number, nic: PlanNic, signal: AbortSignal): Promise<void> {
    const entry = this.nets.get(nic.networkId);
    // A switch that cannot answer must not keep the workload from going: its stale port is dropped at the next ensure.
    await entry?.driver.detach(entry.net, hostIfName(vmId, nic.nicId), signal).catch((err: unknown) => {
      this.log.warn({ vmId, nicId: nic.nicId, err: String(err) }, 'nic unplug failed');
    });
  }

  /**
   * At agent stop: the agent's own OVS daemons stop too, unless a network
   * still uses them — workloads keep running when the agent stops, and so
   * does their switch; the next agent re-uses it.
   */
  async shutdown(signal: AbortSignal): Promise<void> {
    await this.settled();
    const inUse = [...this.nets.entries()].some(
      ([id, e]) => e.driver.capabilities.name === 'ovswitch' && (this.users.get(id)?.size ?? 0) > 0,
    );
    if (inUse) {
      this.log.info('open vswitch left running for the workloads on it');
      return;
    }
    await this.ovs.stop(signal);
  }

  private async release(networkId: number, key: string, signal: AbortSignal): Promise<void> {
    const users = this.users.get(networkId);
    users?.delete(key);
    if (users && users.size > 0) return;
    const entry = this.nets.get(networkId);
    if (!entry) return;
    await entry.driver.remove(entry.net, signal);
    this.nets.delete(networkId);
    this.users.delete(networkId);
    this.log.info({ networkId }, 'network removed from host (last NIC left)');
  }

  private driverFor(nic: PlanNic): NetworkDriver {
    const d = this.drivers.get(nic.driver);
    if (!d) {
      const why = this.unusable[nic.driver] ?? 'unknown network driver';
      throw new OneError('E_DRIVER_UNSUPPORTED', `network driver ${nic.driver} is not usable on this host: ${why}`, {
        driver: nic.driver,
      });
    }
    return d;
  }

  private hostNetwork(nic: PlanNic): HostNetwork {
    return {
      networkId: nic.networkId,
      bridge: nic.bridge,
      vlanId: nic.vlanId,
      phydev: nic.phydev,
      localAddress: this.localAddress,
      mtu: nic.mtu,
      vlanTagged: nic.vlanTagged,
    };
  }

  private userSet(networkId: number): Set<string> {
    let s = this.users.get(networkId);
    if (!s) {
      s = new Set();
      this.users.set(networkId, s);
    }
    return s;
  }

  /** Host network changes run one at a time: two NICs of one network must not race to create its bridge. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

export { hostIfName };
