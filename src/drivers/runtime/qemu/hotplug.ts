/**
 * Disk and NIC hot-plug for QEMU microVMs. The `microvm` machine's own bus
 * (virtio-mmio) has no hot-plug, so every machine also gets a few empty PCIe
 * root ports (`pcie=on`, ports hp0…hpN-1); the guest kernel's native PCIe
 * hot-plug driver (pciehp, built into the guest kit's Debian cloud kernel)
 * handles them — with `pcie_ports=native`, because microvm's ACPI tables
 * carry no MCFG and Linux otherwise does not take control of the ports.
 *
 *   attach disk  blockdev-add <id>-node → device_add virtio-blk-pci id=<id> bus=hpN serial=<target>
 *   attach NIC   netdev_add tap <id>-net → device_add virtio-net-pci id=<id> bus=hpN mac=…
 *   detach       device_del <id> → wait for DEVICE_DELETED <id> → blockdev-del / netdev_del
 *
 * device_del presses the slot's attention button: Linux waits 5 s (the
 * window in which a user could cancel the button press, pciehp) before it
 * powers the slot down, so a detach takes 5–7 s. A guest without pciehp never
 * releases the device: the wait ends with E_HOTPLUG_GUEST and the device stays.
 *
 * Devices added after create live in spec.json's `machine.hotplug` with their
 * slot, so a restart of QEMU (reboot, poweroff/resume, a new agent) re-creates
 * them on the same ports (still unpluggable), and a restarted agent knows them.
 * Devices of the template at create sit on virtio-mmio: fixed while running.
 *
 * The CONTEXT volume is written with room to spare (CONTEXT_HEADROOM) and
 * rewritten in place for a NIC change: QEMU keeps the file open, the guest
 * re-reads it when the NIC's uevent arrives (guest kit stage 2).
 */
import { existsSync } from 'node:fs';
import { open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OneError } from '../../../core/errors.js';
import type { DiskSpec, MachineDevice, NicSpec, WorkloadSpec } from '../types.js';
import { type ContextVolumeInput, writeContextVolume } from './context-volume.js';
import { QmpError, qmp, qmpOne, qmpUntilEvent } from './qmp.js';

/** Empty PCIe root ports every machine gets: at most this many devices are added after create. */
export const HOTPLUG_SLOTS = 4;
/** Room left on the CONTEXT volume for later context changes (more NICs), bytes. */
export const CONTEXT_HEADROOM = 1024 * 1024;
/** How long a detach waits for the guest to release the device (5 s pciehp button delay + work under TCG), ms. */
export const UNPLUG_TIMEOUT_MS = 30_000;

type QmpCommand = { execute: string; arguments?: Record<string, unknown> };

const ID = /^[a-z][a-z0-9]{0,15}$/;
const SERIAL = /^[A-Za-z0-9_.-]{1,20}$/;

export const slotBus = (slot: number): string => `hp${slot}`;
const nodeName = (id: string): string => `${id}-node`;
const netdevId = (id: string): string => `${id}-net`;

/** The root ports, as QEMU arguments. */
export function slotArgs(slots: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < slots; i++) {
    out.push('-device', `pcie-root-port,id=${slotBus(i)},chassis=${i + 1},slot=${i + 1}`);
  }
  return out;
}

function blockdevOptions(id: string, disk: DiskSpec): Record<string, unknown> {
  return {
    driver: disk.format,
    'node-name': nodeName(id),
    'read-only': disk.readOnly === true,
    file: { driver: 'file', filename: disk.path, aio: 'threads' },
  };
}

function diskDevice(id: string, slot: number, disk: DiskSpec): Record<string, unknown> {
  return {
    driver: 'virtio-blk-pci',
    id,
    bus: slotBus(slot),
    drive: nodeName(id),
    ...(disk.serial ? { serial: disk.serial } : {}),
  };
}

function nicDevice(id: string, slot: number, nic: NicSpec): Record<string, unknown> {
  return { driver: 'virtio-net-pci', id, bus: slotBus(slot), netdev: netdevId(id), mac: nic.mac.toLowerCase() };
}

/** `-device` option text from a device_add argument object (same keys, key=value). */
function deviceText(dev: Record<string, unknown>): string {
  const { driver, ...rest } = dev;
  return [String(driver), ...Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`)].join(',');
}

/** QEMU arguments that re-create added devices on their slots when the machine starts. */
export function coldplugArgs(devices: readonly MachineDevice[]): string[] {
  const out: string[] = [];
  for (const d of devices) {
    const slot = slotOf(d);
    if (d.disk) out.push('-blockdev', JSON.stringify(blockdevOptions(d.id, d.disk)));
    if (d.disk) out.push('-device', deviceText(diskDevice(d.id, slot, d.disk)));
    if (d.nic) {
      out.push('-netdev', `tap,id=${netdevId(d.id)},ifname=${tapOf(d.nic)},script=no,downscript=no`);
      out.push('-device', deviceText(nicDevice(d.id, slot, d.nic)));
    }
  }
  return out;
}

/** The QMP commands that plug `device` into a running machine, in order. */
export function plugCommands(device: MachineDevice): QmpCommand[] {
  const slot = slotOf(device);
  if (device.disk) {
    return [
      { execute: 'blockdev-add', arguments: blockdevOptions(device.id, device.disk) },
      { execute: 'device_add', arguments: diskDevice(device.id, slot, device.disk) },
    ];
  }
  if (device.nic) {
    return [
      {
        execute: 'netdev_add',
        arguments: { type: 'tap', id: netdevId(device.id), ifname: tapOf(device.nic), script: 'no', downscript: 'no' },
      },
      { execute: 'device_add', arguments: nicDevice(device.id, slot, device.nic) },
    ];
  }
  throw new OneError('E_VALIDATION', `device ${device.id} is neither a disk nor a NIC`);
}

/** What is left to free once the guest released the device (or when a plug failed half way). */
export function releaseCommands(device: MachineDevice): QmpCommand[] {
  if (device.disk) return [{ execute: 'blockdev-del', arguments: { 'node-name': nodeName(device.id) } }];
  if (device.nic) return [{ execute: 'netdev_del', arguments: { id: netdevId(device.id) } }];
  return [];
}

/** The lowest slot no device uses; E_HOTPLUG_SLOTS_FULL when all are taken. */
export function freeSlot(devices: readonly MachineDevice[], slots: number): number {
  const used = new Set(devices.map((d) => d.slot));
  for (let i = 0; i < slots; i++) if (!used.has(i)) return i;
  throw new OneError(
    'E_HOTPLUG_SLOTS_FULL',
    `all ${slots} hot-plug slots are in use; detach a device or power the VM off and attach it then`,
    { slots },
  );
}

export function validateDevice(device: MachineDevice): void {
  if (!ID.test(device.id)) {
    throw new OneError(
      'E_VALIDATION',
      `device id ${JSON.stringify(device.id)} must be short lower-case letters/digits`,
    );
  }
  if ((device.disk === undefined) === (device.nic === undefined)) {
    throw new OneError('E_VALIDATION', `device ${device.id} must be one disk or one NIC`);
  }
  const d = device.disk;
  if (d && (!d.path.startsWith('/') || /[,\s]/.test(d.path))) {
    throw new OneError('E_VALIDATION', `disk ${JSON.stringify(d.path)} must be absolute, without commas or spaces`);
  }
  if (d?.serial !== undefined && !SERIAL.test(d.serial)) {
    throw new OneError('E_VALIDATION', `disk serial ${JSON.stringify(d.serial)} is not allowed`);
  }
  const n = device.nic;
  if (n && !/^[A-Za-z0-9_.-]{1,15}$/.test(n.tap ?? '')) {
    throw new OneError('E_VALIDATION', `NIC ${device.id} needs the name of a tap the agent made`);
  }
}

function slotOf(d: MachineDevice): number {
  if (d.slot === undefined) throw new OneError('E_DRIVER_FAILED', `device ${d.id} has no hot-plug slot`);
  return d.slot;
}

function tapOf(n: NicSpec): string {
  if (!n.tap) throw new OneError('E_VALIDATION', 'a hot-plugged NIC needs a tap the agent made');
  return n.tap;
}

// ------------------------------------------------------------- a live machine

export interface LiveMachine {
  workDir: string;
  qmpSocket: string;
  /** QEMU's pid when it runs, else undefined (the device list changes on disk only). */
  pid: number | undefined;
  /** Hot-plug slots the machine starts with (default HOTPLUG_SLOTS). */
  slots?: number;
  /** How long a detach waits for the guest (default UNPLUG_TIMEOUT_MS). */
  unplugTimeoutMs?: number;
}

/** Device ids QEMU knows (`/machine/peripheral`): plugged, or unplug not finished. */
async function peripherals(m: LiveMachine, signal: AbortSignal): Promise<Set<string>> {
  const list = (await qmpOne(m.qmpSocket, 'qom-list', signal, { path: '/machine/peripheral' })) as { name: string }[];
  return new Set(list.map((p) => p.name));
}

/** Whether the running QEMU was started with hot-plug slots (machines from before they existed were not). */
async function hasSlots(pid: number): Promise<boolean> {
  const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return argv.split('\0').some((a) => a.startsWith('pcie-root-port,id=hp'));
}

export async function readSpec(workDir: string): Promise<WorkloadSpec> {
  const path = join(workDir, 'spec.json');
  if (!existsSync(path)) throw new OneError('E_DRIVER_FAILED', `workload in ${workDir} was not created (no spec)`);
  return JSON.parse(await readFile(path, 'utf8')) as WorkloadSpec;
}

async function writeSpec(workDir: string, spec: WorkloadSpec): Promise<void> {
  const path = join(workDir, 'spec.json');
  await writeFile(`${path}.tmp`, JSON.stringify(spec));
  await rename(`${path}.tmp`, path);
}

function withDevices(spec: WorkloadSpec, devices: MachineDevice[]): WorkloadSpec {
  const { hotplug: _old, ...machine } = spec.machine ?? {};
  return { ...spec, machine: { ...machine, ...(devices.length > 0 ? { hotplug: devices } : {}) } };
}

/**
 * Adds a device: recorded in spec.json first (so a crash in between leaves a
 * record to retry or undo), then plugged live when the machine runs. A failed
 * plug is undone on both sides.
 */
export async function attachDevice(m: LiveMachine, device: MachineDevice, signal: AbortSignal): Promise<void> {
  validateDevice(device);
  const spec = await readSpec(m.workDir);
  const devices = spec.machine?.hotplug ?? [];
  const known = devices.find((d) => d.id === device.id);
  if (m.pid !== undefined && !(await hasSlots(m.pid))) {
    throw new OneError(
      'E_HOTPLUG_UNSUPPORTED',
      'this microVM was started without hot-plug slots (by an older agent); power it off and on, then attach again',
    );
  }
  const placed: MachineDevice = known ?? { ...device, slot: freeSlot(devices, m.slots ?? HOTPLUG_SLOTS) };
  if (!known) await writeSpec(m.workDir, withDevices(spec, [...devices, placed]));
  if (m.pid === undefined) return;
  if ((await peripherals(m, signal)).has(placed.id)) return;
  try {
    await qmp(m.qmpSocket, plugCommands(placed), signal);
  } catch (err) {
    await qmp(m.qmpSocket, releaseCommands(placed), AbortSignal.timeout(5000)).catch(() => undefined);
    const now = await readSpec(m.workDir);
    await writeSpec(
      m.workDir,
      withDevices(
        now,
        (now.machine?.hotplug ?? []).filter((d) => d.id !== placed.id),
      ),
    );
    if (err instanceof QmpError) {
      throw new OneError('E_HOTPLUG_UNSUPPORTED', `QEMU refused to plug ${placed.id}: ${err.message}`, {
        device: placed.id,
      });
    }
    throw err;
  }
}

/**
 * Removes a device. An added one (by id) is unplugged live when the machine
 * runs — once the guest released it — then dropped from spec.json. A boot-time
 * disk (by path) or NIC (by tap) can only go while the machine is stopped.
 */
export async function detachDevice(m: LiveMachine, device: MachineDevice, signal: AbortSignal): Promise<void> {
  const spec = await readSpec(m.workDir);
  const devices = spec.machine?.hotplug ?? [];
  const added = devices.find((d) => d.id === device.id);
  if (!added) {
    await detachBootDevice(m, spec, device);
    return;
  }
  if (m.pid !== undefined) await unplugLive(m, added, signal);
  await writeSpec(
    m.workDir,
    withDevices(
      spec,
      devices.filter((d) => d.id !== added.id),
    ),
  );
}

async function unplugLive(m: LiveMachine, device: MachineDevice, signal: AbortSignal): Promise<void> {
  if ((await peripherals(m, signal)).has(device.id)) {
    const gone = await qmpUntilEvent(
      m.qmpSocket,
      [{ execute: 'device_del', arguments: { id: device.id } }],
      (e) => e.event === 'DEVICE_DELETED' && e.data?.device === device.id,
      m.unplugTimeoutMs ?? UNPLUG_TIMEOUT_MS,
      signal,
    ).catch(async (err: unknown) => {
      // A second device_del while the first is pending is refused; the first one's event may have gone by.
      if (err instanceof QmpError && !(await peripherals(m, signal)).has(device.id)) return true;
      throw err;
    });
    if (!gone && (await peripherals(m, signal)).has(device.id)) {
      throw new OneError(
        'E_HOTPLUG_GUEST',
        `the guest did not release ${device.id} within ${(m.unplugTimeoutMs ?? UNPLUG_TIMEOUT_MS) / 1000} s (does its kernel have PCIe ` +
          'hot-plug, pciehp?); the device stays attached',
        { device: device.id },
      );
    }
  }
  // The backend outlives the device; already gone after an earlier attempt is fine.
  for (const cmd of releaseCommands(device)) {
    await qmp(m.qmpSocket, [cmd], signal).catch((err: unknown) => {
      if (!(err instanceof QmpError)) throw err;
    });
  }
}

async function detachBootDevice(m: LiveMachine, spec: WorkloadSpec, device: MachineDevice): Promise<void> {
  const machine = spec.machine ?? {};
  const disks = machine.disks ?? [];
  const nics = machine.nics ?? [];
  const diskAt = device.disk ? disks.findIndex((d) => d.path === device.disk?.path) : -1;
  const nicAt = device.nic ? nics.findIndex((n) => n.tap !== undefined && n.tap === device.nic?.tap) : -1;
  if (diskAt < 0 && nicAt < 0) return; // not attached: nothing to do
  if (m.pid !== undefined) {
    throw new OneError(
      'E_HOTPLUG_UNSUPPORTED',
      `${device.id} was part of the VM when it was created and sits on the microVM's fixed bus (virtio-mmio), ` +
        'which cannot hot-unplug; power the VM off and detach it then',
      { device: device.id },
    );
  }
  const next = {
    ...machine,
    disks: disks.filter((_, i) => i !== diskAt),
    nics: nics.filter((_, i) => i !== nicAt),
  };
  // Overlays of boot disks are named by position (disk-<i>.qcow2): a removed one must not shift the others'.
  if (diskAt >= 0 && !disks[diskAt]?.persistent && !disks[diskAt]?.readOnly) {
    throw new OneError(
      'E_HOTPLUG_UNSUPPORTED',
      `${device.id} is a copy-on-write disk of the VM's creation; it cannot be removed from a microVM`,
      { device: device.id },
    );
  }
  await writeSpec(m.workDir, { ...spec, machine: next });
}

// ------------------------------------------------------------- context volume

/** Leaves CONTEXT_HEADROOM free at the end of a fresh CONTEXT volume (sparse: costs no disk). */
export async function reserveContextRoom(isoPath: string): Promise<void> {
  const { size } = await stat(isoPath);
  const room = Math.ceil((size + CONTEXT_HEADROOM) / CONTEXT_HEADROOM) * CONTEXT_HEADROOM;
  await truncate(isoPath, room);
}

/**
 * Rewrites the CONTEXT volume of a (maybe running) machine in place: QEMU has
 * the file open, so the bytes change under it, never the inode or its size. The
 * guest reads it again when a NIC arrives. Also kept in spec.json.
 */
export async function rewriteContext(
  m: LiveMachine,
  context: Record<string, string>,
  signal: AbortSignal,
): Promise<void> {
  const spec = await readSpec(m.workDir);
  const iso = join(m.workDir, 'context.iso');
  const fresh = join(m.workDir, 'context-next.iso');
  const input: ContextVolumeInput = {
    context: { VMID: String(spec.vmId), ...context },
    env: spec.env,
    ...(spec.command ? { command: spec.command } : {}),
  };
  await writeContextVolume(input, join(m.workDir, 'context-next'), fresh, signal);
  try {
    const [now, next] = await Promise.all([stat(iso), readFile(fresh)]);
    if (next.length > now.size) {
      throw new OneError(
        'E_HOTPLUG_UNSUPPORTED',
        `the new CONTEXT (${next.length} bytes) does not fit the VM's context volume (${now.size}); ` +
          'power the VM off and on to enlarge it',
      );
    }
    const fh = await open(iso, 'r+');
    try {
      await fh.write(next, 0, next.length, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } finally {
    await rm(fresh, { force: true });
  }
  await writeSpec(m.workDir, { ...spec, context });
}
