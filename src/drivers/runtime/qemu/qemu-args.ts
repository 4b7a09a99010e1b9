/**
 * The QEMU command line of one VM, as an argv array (never a shell string).
 * Pure: everything it needs is in QemuLaunch, so it is unit-tested alone.
 *
 * microvm (default): direct kernel boot, virtio-mmio devices through ACPI,
 * no PCI, no firmware — the fastest boot QEMU has. `pc` (q35): for a root
 * disk that boots with its own bootloader, virtio-pci devices.
 *
 * Console: the one serial port (microvm's ACPI tables describe only ttyS0)
 * goes to the console log file (append, survives restarts); with VNC it is a
 * text console rendered in the VNC framebuffer (80×25) that also logs to the
 * same file, and the guest runs a login shell on it.
 */
import type { MachineDevice } from '../types.js';
import { coldplugArgs, slotArgs } from './hotplug.js';

export type Accel = 'kvm' | 'tcg';

export interface QemuDisk {
  id: string;
  file: string;
  format: 'raw' | 'qcow2';
  readOnly: boolean;
}

export interface QemuNic {
  id: string;
  tap: string;
  mac: string;
  /** A vhost-user NIC: the unix socket QEMU serves (the switch connects as client); `tap` is unused. */
  vhostUser?: string;
}

export interface QemuLaunch {
  binary: string;
  name: string;
  accel: Accel;
  /** Host TSC rate, kHz, for TCG guests (tsc_early_khz): without it parallel TCG boots hang. */
  tscKhz?: number;
  machine: 'microvm' | 'q35';
  vcpu: number;
  threads: number;
  memoryMb: number;
  /** NUMA nodes to bind guest memory to. */
  memoryNodes?: number[];
  kernel?: string;
  initrd?: string;
  cmdline: string[];
  disks: QemuDisk[];
  nics: QemuNic[];
  logPath: string;
  qmpSocket: string;
  pidFile: string;
  vncSocket?: string;
  /** Start paused (-S). */
  paused?: boolean;
  /** Empty PCIe root ports for hot-plug (qemu/hotplug.ts); microvm then also gets PCIe. */
  hotplugSlots?: number;
  /** Devices added after create, re-created on their slots. */
  hotplug?: MachineDevice[];
}

/** sockets × cores × threads with `threads` per core (1 or 2, like Firecracker's SMT). */
function smp(vcpu: number, threads: number): string {
  const t = threads > 1 && vcpu % threads === 0 ? threads : 1;
  return `${vcpu},sockets=1,cores=${vcpu / t},threads=${t}`;
}

export function kernelCmdline(
  launch: Pick<QemuLaunch, 'accel' | 'tscKhz' | 'vncSocket' | 'machine' | 'hotplugSlots'>,
  extra: string[],
): string[] {
  const args = launch.vncSocket ? ['console=ttyS0', 'oneedge.tty=ttyS0'] : ['console=ttyS0'];
  args.push('quiet', 'panic=-1', 'reboot=t');
  // microvm's ACPI has no MCFG, so Linux would not claim the root ports' hot-plug without pcie_ports=native.
  if (launch.machine === 'microvm') args.push(launch.hotplugSlots ? 'pcie_ports=native' : 'pci=off');
  if (launch.accel === 'tcg' && launch.tscKhz) args.push(`tsc_early_khz=${launch.tscKhz}`, 'tsc=reliable');
  return [...args, ...extra];
}

/**
 * Guest RAM a vhost-user backend can map: a memfd shared with other processes
 * (the switch reads and writes the virtio rings and buffers in it). Bound to
 * the VM's NUMA nodes when it has any.
 */
export function sharedMemoryArgs(l: Pick<QemuLaunch, 'memoryMb' | 'memoryNodes'>): string[] {
  const bind = l.memoryNodes && l.memoryNodes.length > 0 ? `,host-nodes=${l.memoryNodes.join(',')},policy=bind` : '';
  return [
    '-object',
    `memory-backend-memfd,id=ram0,size=${l.memoryMb}M,share=on${bind}`,
    '-m',
    `${l.memoryMb}`,
    '-machine',
    'memory-backend=ram0',
  ];
}

/**
 * A vhost-user NIC: QEMU is the socket server (`server=on,wait=off`: it boots
 * without waiting; the switch's dpdkvhostuserclient port connects and
 * reconnects by itself), the netdev speaks vhost-user over it.
 */
export function vhostUserNicArgs(n: QemuNic, bus: 'device' | 'pci'): string[] {
  return [
    '-chardev',
    `socket,id=chr-${n.id},path=${n.vhostUser},server=on,wait=off`,
    '-netdev',
    `vhost-user,id=${n.id},chardev=chr-${n.id}`,
    '-device',
    `virtio-net-${bus},netdev=${n.id},mac=${n.mac}`,
  ];
}

export function qemuArgv(l: QemuLaunch): string[] {
  const micro = l.machine === 'microvm';
  const argv = [l.binary, '-name', `${l.name},process=${l.name}`];
  const pcie = micro && (l.hotplugSlots ?? 0) > 0 ? ',pcie=on' : '';
  argv.push('-M', micro ? `microvm,acpi=on,rtc=on${pcie}` : 'q35');
  argv.push('-accel', l.accel === 'kvm' ? 'kvm' : 'tcg,tb-size=32');
  argv.push('-cpu', l.accel === 'kvm' ? 'host' : 'max');
  argv.push('-smp', smp(l.vcpu, l.threads));
  if (l.nics.some((n) => n.vhostUser)) argv.push(...sharedMemoryArgs(l));
  else if (l.memoryNodes && l.memoryNodes.length > 0) {
    argv.push(
      '-object',
      `memory-backend-ram,id=ram0,size=${l.memoryMb}M,host-nodes=${l.memoryNodes.join(',')},policy=bind`,
      '-m',
      `${l.memoryMb}`,
      '-machine',
      'memory-backend=ram0',
    );
  } else argv.push('-m', `${l.memoryMb}`);
  argv.push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot');
  // With VNC the one serial port is a text console in the framebuffer that also logs to the file.
  argv.push(
    '-chardev',
    l.vncSocket
      ? `vc,id=con0,cols=80,rows=25,logfile=${l.logPath},logappend=on`
      : `file,id=con0,path=${l.logPath},append=on`,
    '-serial',
    'chardev:con0',
  );
  if (l.vncSocket) argv.push('-vnc', `unix:${l.vncSocket}`);
  if (l.kernel) {
    argv.push('-kernel', l.kernel);
    if (l.initrd) argv.push('-initrd', l.initrd);
    argv.push('-append', l.cmdline.join(' '));
  }
  const bus = micro ? 'device' : 'pci';
  for (const d of l.disks) {
    argv.push(
      '-drive',
      `id=${d.id},file=${d.file},format=${d.format},if=none,cache=writeback,aio=threads${d.readOnly ? ',readonly=on' : ''}`,
      '-device',
      `virtio-blk-${bus},drive=${d.id}`,
    );
  }
  for (const n of l.nics) {
    if (n.vhostUser) {
      argv.push(...vhostUserNicArgs(n, bus));
      continue;
    }
    argv.push(
      '-netdev',
      `tap,id=${n.id},ifname=${n.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-${bus},netdev=${n.id},mac=${n.mac}`,
    );
  }
  if (micro) argv.push('-device', 'virtio-rng-device');
  argv.push(...slotArgs(l.hotplugSlots ?? 0), ...coldplugArgs(l.hotplug ?? []));
  argv.push('-qmp', `unix:${l.qmpSocket},server=on,wait=off`);
  argv.push('-daemonize', '-pidfile', l.pidFile);
  if (l.paused) argv.push('-S');
  return argv;
}
