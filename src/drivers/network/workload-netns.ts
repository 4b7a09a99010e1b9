/**
 * A container workload's own network namespace and its NICs: one veth pair
 * per NIC, the host end plugged into the network by its driver, the other end
 * moved into the namespace and named eth<NIC_ID> with the NIC's MAC, MTU,
 * addresses and default route. Runtime-neutral data (PlanNic) in, argv out.
 */
import type { PlanNic } from '../../core/agent-protocol.js';
import { CommandError } from '../runtime/exec.js';
import { deleteLink, ip, linkExists } from './ip-tools.js';

export const netnsPath = (name: string) => `/run/netns/${name}`;

/** Host-side interface name of a NIC: at most 15 characters. */
export const hostIfName = (vmId: number, nicId: number) => `oe${vmId}n${nicId}`;

export async function netnsExists(name: string, signal: AbortSignal): Promise<boolean> {
  const out = await ip(['netns', 'list'], signal);
  return out.split('\n').some((l) => l.split(' ')[0] === name);
}

export async function ensureNetns(name: string, signal: AbortSignal): Promise<void> {
  if (await netnsExists(name, signal)) return;
  await ip(['netns', 'add', name], signal);
  await ip(['-n', name, 'link', 'set', 'dev', 'lo', 'up'], signal);
}

export async function removeNetns(name: string, signal: AbortSignal): Promise<void> {
  if (await netnsExists(name, signal)) await ip(['netns', 'del', name], signal);
}

/**
 * Creates the NIC's veth pair (if missing) and configures the namespace end.
 * Returns the host end's name; the caller plugs it into the network.
 */
export async function createNic(vmId: number, ns: string, nic: PlanNic, signal: AbortSignal): Promise<string> {
  const host = hostIfName(vmId, nic.nicId);
  const inner = `eth${nic.nicId}`;
  const innerExists = await ip(['-n', ns, 'link', 'show', 'dev', inner], signal).then(
    () => true,
    (err: unknown) => {
      if (err instanceof CommandError) return false;
      throw err;
    },
  );
  if (!innerExists) {
    await deleteLink(host, signal);
    const tmp = `oet${vmId}n${nic.nicId}`.slice(0, 15);
    await ip(['link', 'add', 'name', host, 'type', 'veth', 'peer', 'name', tmp, 'netns', ns], signal);
    await ip(['-n', ns, 'link', 'set', 'dev', tmp, 'name', inner], signal);
  }
  const mtu = nic.mtu ? ['mtu', String(nic.mtu)] : [];
  await ip(['link', 'set', 'dev', host, ...mtu, 'up'], signal);
  await ip(['-n', ns, 'link', 'set', 'dev', inner, 'address', nic.mac, ...mtu, 'up'], signal);
  for (const a of nic.ips) {
    await ip(['-n', ns, 'addr', 'replace', `${a.address}/${a.prefixLength}`, 'dev', inner, 'nodad'], signal);
  }
  if (nic.gateway) {
    await ip(['-n', ns, 'route', 'replace', 'default', 'via', nic.gateway, 'dev', inner], signal).catch(
      (err: unknown) => {
        // A gateway outside the NIC's subnet cannot be a next hop: the NIC still works on its subnet.
        if (!(err instanceof CommandError)) throw err;
      },
    );
  }
  return host;
}

/** Removes a NIC: deleting the host end of a veth removes its peer in the namespace too. */
export async function deleteNic(vmId: number, nicId: number, signal: AbortSignal): Promise<void> {
  await deleteLink(hostIfName(vmId, nicId), signal);
}

export { linkExists };
