/**
 * The microVM part of a plan (PlanMachine) from a VM template:
 * `GRAPHICS=[TYPE=VNC]`, `OS=[KERNEL_CMD]` and `TOPOLOGY=[THREADS]`. Pure;
 * the lifecycle controller adds it to plans for microVM runtimes, with the
 * KERNEL/RAMDISK images of `OS=[KERNEL_DS, INITRD_DS]` (server/agents/plan-os-files.ts).
 * NICs and disks are the runtime-neutral PlanSpec.nics and PlanSpec.disks.
 */
import type { PlanMachine } from './agent-protocol.js';
import { OneError } from './errors.js';
import type { Template } from './template/index.js';
import { getString, getVector, getVectors } from './template/index.js';

/** Runtimes whose workloads boot their own kernel. */
export const MICROVM_RUNTIMES: ReadonlySet<string> = new Set(['qemu', 'firecracker']);

export function machineOf(t: Template): PlanMachine {
  const machine: PlanMachine = {};
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
