/**
 * NIC and disk hot-plug (OpenNebula's `onevm nic-attach|nic-detach|disk-attach|disk-detach`)
 * as data and pure functions. The lifecycle tables' driver results already bring
 * every hot-plug state back to its origin; this file says how a VM gets there and
 * what its template looks like afterwards.
 *
 *   RUNNING  ─ nic-attach | nic-detach ─► HOTPLUG_NIC  ─ attach-nic | detach-nic ─► RUNNING
 *   RUNNING  ─ disk-attach | disk-detach ► HOTPLUG     ─ attach-disk | detach-disk ► RUNNING
 *   POWEROFF ─ disk-attach ──────────────► HOTPLUG_PROLOG_POWEROFF ─ attach-disk ──► POWEROFF
 *   POWEROFF ─ disk-detach ──────────────► HOTPLUG_EPILOG_POWEROFF ─ detach-disk ──► POWEROFF
 *   POWEROFF ─ nic-attach | nic-detach ──► POWEROFF (template only: the next boot wires it)
 *
 * Success or failure, the VM returns to where it came from (an error is recorded on
 * failure). While the host works, the NIC/DISK carries `ATTACH = YES`; when the result
 * arrives {@link settleHotplug} decides the template:
 *
 *   attach  ok → drop ATTACH            attach failed → drop the NIC/DISK (its lease/image is freed)
 *   detach  ok → drop the NIC/DISK      detach failed → drop ATTACH (nothing changed)
 */

import { OneError } from './errors.js';
import { getAll, setValue } from './template/access.js';
import type { Template, TemplateValue, TemplateVector } from './template/types.js';
import type { DriverOp, VmPhase } from './vm-state-machine.js';

export type HotplugKind = 'nic-attach' | 'nic-detach' | 'disk-attach' | 'disk-detach';

export interface HotplugRecord {
  kind: HotplugKind;
  /** NIC_ID or DISK_ID. */
  id: number;
}

export const HOTPLUG_OPS = {
  'nic-attach': 'attach-nic',
  'nic-detach': 'detach-nic',
  'disk-attach': 'attach-disk',
  'disk-detach': 'detach-disk',
} as const satisfies Record<HotplugKind, DriverOp>;

/** The LCM states a hot-plug op runs in. */
export const HOTPLUG_STATES = ['HOTPLUG', 'HOTPLUG_NIC', 'HOTPLUG_PROLOG_POWEROFF', 'HOTPLUG_EPILOG_POWEROFF'] as const;

export interface HotplugStep {
  to: VmPhase;
  /** The host op to run; absent when only the template changes (NICs of a powered-off VM). */
  op?: DriverOp;
}

const A = (lcm: VmPhase['lcm']): VmPhase => ({ state: 'ACTIVE', lcm });
const POWEROFF: VmPhase = { state: 'POWEROFF', lcm: 'LCM_INIT' };

/**
 * Where a hot-plug request takes a VM. Throws E_VM_ACTION_STATE outside RUNNING
 * and POWEROFF (a VM mid-operation, pending, suspended …).
 */
export function hotplugTransition(phase: VmPhase, kind: HotplugKind): HotplugStep {
  const op = HOTPLUG_OPS[kind];
  if (phase.state === 'ACTIVE' && phase.lcm === 'RUNNING') {
    return { to: A(kind.startsWith('nic') ? 'HOTPLUG_NIC' : 'HOTPLUG'), op };
  }
  if (phase.state === 'POWEROFF') {
    if (kind === 'disk-attach') return { to: A('HOTPLUG_PROLOG_POWEROFF'), op };
    if (kind === 'disk-detach') return { to: A('HOTPLUG_EPILOG_POWEROFF'), op };
    return { to: POWEROFF };
  }
  const now = phase.state === 'ACTIVE' ? phase.lcm : phase.state;
  throw new OneError('E_VM_ACTION_STATE', `cannot ${kind} a VM in ${now}: allowed from RUNNING, POWEROFF`, {
    action: kind,
    state: phase.state,
    lcmState: phase.lcm,
    allowed: ['RUNNING', 'POWEROFF'],
  });
}

export function isHotplugState(lcm: string): boolean {
  return (HOTPLUG_STATES as readonly string[]).includes(lcm);
}

/** DISK_ID of the disk at `index`: the stored attribute, else its position (templates before hot-plug). */
export function diskIdOf(disk: TemplateVector, index: number): number {
  return disk.DISK_ID !== undefined && /^\d+$/.test(disk.DISK_ID) ? Number(disk.DISK_ID) : index;
}

/**
 * Every DISK with its DISK_ID written down, so removing one disk does not renumber
 * the others (their files on the host are named by DISK_ID).
 */
export function withDiskIds(t: Template): Template {
  const all = getAll(t, 'DISK');
  if (all.length === 0) return t;
  return setValue(
    t,
    'DISK',
    all.map((d, i) => (typeof d === 'string' || d.DISK_ID !== undefined ? d : { ...d, DISK_ID: String(i) })),
  );
}

/** The id a new NIC or DISK gets: one above the highest in use (ids are never reused while in use). */
export function nextId(t: Template, name: 'NIC' | 'DISK'): number {
  let max = -1;
  for (const [i, v] of getAll(t, name).entries()) {
    if (typeof v === 'string') continue;
    const id = name === 'DISK' ? diskIdOf(v, i) : Number(v.NIC_ID ?? i);
    if (Number.isInteger(id)) max = Math.max(max, id);
  }
  return max + 1;
}

/** The NIC or DISK vector with this id, if any. */
export function findDevice(t: Template, name: 'NIC' | 'DISK', id: number): TemplateVector | undefined {
  for (const [i, v] of getAll(t, name).entries()) {
    if (typeof v === 'string') continue;
    const vid = name === 'DISK' ? diskIdOf(v, i) : Number(v.NIC_ID ?? i);
    if (vid === id) return v;
  }
  return undefined;
}

/** Rewrites the NIC/DISK with `id` (`change` returns undefined to remove it). */
export function updateDevice(
  t: Template,
  name: 'NIC' | 'DISK',
  id: number,
  change: (v: TemplateVector) => TemplateVector | undefined,
): Template {
  const out: TemplateValue[] = [];
  for (const [i, v] of getAll(t, name).entries()) {
    if (typeof v === 'string') {
      out.push(v);
      continue;
    }
    const vid = name === 'DISK' ? diskIdOf(v, i) : Number(v.NIC_ID ?? i);
    const next = vid === id ? change(v) : v;
    if (next) out.push(next);
  }
  return setValue(t, name, out);
}

const withoutAttach = (v: TemplateVector): TemplateVector => {
  const { ATTACH: _a, ...rest } = v;
  return rest;
};

export interface Settled {
  template: Template;
  /** The device left the VM: its lease (NIC) or image use (DISK) must be given back. */
  removed?: { name: 'NIC' | 'DISK'; vector: TemplateVector };
}

/** The template once the host op of `hp` finished (see the file comment). */
export function settleHotplug(t: Template, hp: HotplugRecord, success: boolean): Settled {
  const name = hp.kind.startsWith('nic') ? 'NIC' : 'DISK';
  const device = findDevice(t, name, hp.id);
  if (!device) return { template: t };
  const attaching = hp.kind.endsWith('attach');
  const drop = attaching !== success;
  if (!drop) return { template: updateDevice(t, name, hp.id, withoutAttach) };
  return { template: updateDevice(t, name, hp.id, () => undefined), removed: { name, vector: withoutAttach(device) } };
}
