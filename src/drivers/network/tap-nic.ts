/**
 * A microVM's NIC on the host: a persistent tap device named like a
 * container's host-side veth end (`oe<vmId>n<nicId>`), made in the agent's
 * own network namespace so the network driver plugs it into the network's
 * bridge exactly as it plugs a veth. QEMU (or Firecracker) opens it by name;
 * the guest gets the NIC's MAC and configures itself from the context
 * (ETHx_*). Deleting it is `deleteNic` (the same link name).
 */
import type { PlanNic } from '../../core/agent-protocol.js';
import { ip, linkExists } from './ip-tools.js';
import { hostIfName } from './workload-netns.js';

/** Creates the NIC's tap (if missing), sets its MTU and brings it up. Returns its name. */
export async function createTap(vmId: number, nic: PlanNic, signal: AbortSignal): Promise<string> {
  const name = hostIfName(vmId, nic.nicId);
  if (!(await linkExists(name, signal))) {
    try {
      await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap'], signal);
    } catch (err) {
      if (!(await linkExists(name, signal))) throw err;
    }
  }
  const mtu = nic.mtu ? ['mtu', String(nic.mtu)] : [];
  await ip(['link', 'set', 'dev', name, ...mtu, 'up'], signal);
  return name;
}
