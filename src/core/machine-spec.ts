/**
 * The microVM part of a plan (PlanMachine) from a VM template: NICs from
 * `HOST_NIC=[BRIDGE, MAC, MTU]` — a tap on a bridge that already exists on
 * the host, for hosts without virtual networks (a MAC is derived from the VM
 * id and NIC index when the template has none, with the 02:00 prefix),
 * `GRAPHICS=[TYPE=VNC]`, `OS=[KERNEL_CMD]` and `TOPOLOGY=[THREADS]`.
 * Pure; the lifecycle controller adds it to plans for microVM runtimes.
 */
import type { PlanMachine } from './agent-protocol.js';
import { OneError } from './errors.js';
import type { Template } from './template/index.js';
import { getString, getVector, getVectors } from './template/index.js';

/** Runtimes whose workloads boot their own kernel. */
export const MICROVM_RUNTIMES: ReadonlySet<string> = new Set(['qemu', 'firecracker']);

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** 02:00:<vmId, 3 bytes>:<index> — unique per VM and NIC, locally administered, unicast. */
export function defaultMac(vmId: number, index: number): string {
  const b = [(vmId >> 16) & 0xff, (vmId >> 8) & 0xff, vmId & 0xff, index & 0xff];
  return ['02', '00', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export function machineOf(vmId: number, t: Template): PlanMachine {
  const machine: PlanMachine = {};
  const nics: NonNullable<PlanMachine['nics']> = [];
  for (const [i, nic] of getVectors(t, 'HOST_NIC').entries()) {
    const bridge = nic.BRIDGE;
    if (bridge === undefined) continue;
    if (!IFNAME.test(bridge)) {
      throw new OneError(
        'E_TEMPLATE_INVALID',
        `HOST_NIC ${i}: BRIDGE ${JSON.stringify(bridge)} is not an interface name`,
        {
          attribute: 'HOST_NIC/BRIDGE',
        },
      );
    }
    const mac = nic.MAC ?? defaultMac(vmId, i);
    if (!MAC.test(mac)) {
      throw new OneError('E_TEMPLATE_INVALID', `HOST_NIC ${i}: MAC ${JSON.stringify(mac)} is invalid`, {
        attribute: 'HOST_NIC/MAC',
      });
    }
    const entry: { bridge: string; mac: string; mtu?: number } = { bridge, mac: mac.toLowerCase() };
    if (nic.MTU !== undefined) {
      const mtu = Number(nic.MTU);
      if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) {
        throw new OneError('E_TEMPLATE_INVALID', `HOST_NIC ${i}: MTU ${nic.MTU} must be from 576 to 9000`, {
          attribute: 'HOST_NIC/MTU',
        });
      }
      entry.mtu = mtu;
    }
    nics.push(entry);
  }
  if (nics.length > 0) machine.nics = nics;
  if (getVectors(t, 'GRAPHICS').some((g) => (g.TYPE ?? '').toUpperCase() === 'VNC')) machine.vnc = true;
  const cmd = getVector(t, 'OS')?.KERNEL_CMD;
  if (cmd) machine.kernelCmdline = cmd;
  const threads = getString(t, 'TOPOLOGY/THREADS');
  if (threads !== undefined) {
    const n = Number(threads);
    if (n !== 1 && n !== 2) {
      throw new OneError('E_TEMPLATE_INVALID', `TOPOLOGY/THREADS ${threads} must be 1 or 2 for a microVM`, {
        attribute: 'TOPOLOGY/THREADS',
      });
    }
    machine.threads = n;
  }
  return machine;
}
