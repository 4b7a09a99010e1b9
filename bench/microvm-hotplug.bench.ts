/**
 * Disk and NIC hot-plug on a running QEMU microVM (software emulation here),
 * with the qemu driver alone (no front-end, no agent), so the figures are the
 * machine's and the guest's share of a hot-plug:
 *   disk attach   attachDevice → the guest kit's console line "disk … mounted at /mnt/vdc"
 *   disk detach   detachDevice, which returns when QEMU reports DEVICE_DELETED (the guest let go)
 *   NIC attach    updateContext + attachDevice → the guest's "nic … hot-plugged" line (configured)
 *   NIC detach    detachDevice
 * and the boot time to ready without and with the hot-plug slots (PCIe root ports).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { buildBusyboxRootfs } from '../src/drivers/runtime/busybox-rootfs.js';
import { baseDiskFor } from '../src/drivers/runtime/qemu/disks.js';
import { QemuDriver } from '../src/drivers/runtime/qemu-driver.js';
import type { WorkloadHandle, WorkloadSpec } from '../src/drivers/runtime/types.js';

if (process.getuid?.() !== 0) {
  console.log('microvm-hotplug: skipped (needs root)');
  process.exit(0);
}

const run = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_MICROVM_HOTPLUG_ROUNDS ?? 3);
const base = await mkdtemp(join(tmpdir(), 'oneedge-bench-mvhp-'));
const signal = (): AbortSignal => AbortSignal.timeout(120_000);
const TAP = `oebhp${process.pid % 10000}`;
let seq = 0;

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${Math.round(s[Math.floor(s.length / 2)] ?? 0)} (min ${Math.round(s[0] ?? 0)}, max ${Math.round(s.at(-1) ?? 0)})`;
};

/** Resolves when `text` appears in the console log after byte `from`. */
async function consoleLine(log: string, from: number, text: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const fh = await open(log, 'r');
    try {
      const { size } = await fh.stat();
      const buf = Buffer.alloc(Math.max(0, size - from));
      await fh.read(buf, 0, buf.length, from);
      if (buf.toString('utf8').includes(text)) return;
    } finally {
      await fh.close();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no "${text}" on the console within ${ms} ms`);
}

async function logSize(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

async function boot(driver: QemuDriver, image: string): Promise<{ handle: WorkloadHandle; ms: number; log: string }> {
  const i = ++seq;
  const log = join(base, `vm-${i}.log`);
  const spec: WorkloadSpec = {
    vmId: i,
    name: `one-${i}`,
    workDir: join(base, `vm-${i}`),
    rootfs: join(base, 'rootfs'),
    cpu: 1,
    vcpu: 1,
    memoryMb: 128,
    env: {},
    context: { SET_HOSTNAME: `bench-${i}` },
    logPath: log,
    machine: { rootDisk: { path: image, format: 'raw' } },
  };
  const created = await driver.create(spec, signal());
  const t = performance.now();
  const handle = await driver.start(created, signal());
  return { handle, ms: performance.now() - t, log };
}

const slotless = new QemuDriver({ stateRoot: join(base, 'state0'), hotplugSlots: 0 });
const driver = new QemuDriver({ stateRoot: join(base, 'state') });
try {
  await mkdir(join(base, 'rootfs'), { recursive: true });
  await buildBusyboxRootfs(join(base, 'rootfs'));
  const image = await baseDiskFor(join(base, 'rootfs'), join(base, 'images'), signal());
  const data = join(base, 'data.ext4');
  await run('truncate', ['-s', '16M', data]);
  await run('mkfs.ext4', ['-q', '-F', data]);
  await run('ip', ['tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
  await run('ip', ['link', 'set', 'dev', TAP, 'up']);
  const probe = await driver.probeDetails(signal());
  console.log(`accelerator: ${probe.accel}; ${cpus().length} CPUs`);

  const plain: number[] = [];
  const slotted: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [d, into] of [
      [slotless, plain],
      [driver, slotted],
    ] as const) {
      const vm = await boot(d, image);
      into.push(vm.ms);
      await d.destroy(vm.handle, signal());
    }
  }
  console.log(`boot to ready, ms: without slots ${fmt(plain)}; with 4 hot-plug slots ${fmt(slotted)}`);

  const vm = await boot(driver, image);
  const times = {
    diskAttach: [] as number[],
    diskDetach: [] as number[],
    nicAttach: [] as number[],
    nicDetach: [] as number[],
  };
  for (let r = 0; r < ROUNDS; r++) {
    let from = await logSize(vm.log);
    let t = performance.now();
    await driver.attachDevice(
      vm.handle,
      { id: 'disk9', disk: { path: data, format: 'raw', persistent: true, serial: 'vdc' } },
      signal(),
    );
    await consoleLine(vm.log, from, 'mounted at /mnt/vdc');
    times.diskAttach.push(performance.now() - t);
    t = performance.now();
    await driver.detachDevice(vm.handle, { id: 'disk9' }, signal());
    times.diskDetach.push(performance.now() - t);

    from = await logSize(vm.log);
    t = performance.now();
    await driver.updateContext(vm.handle, { ETH5_MAC: '02:00:0a:63:00:05', ETH5_IP: '10.99.0.5' }, signal());
    await driver.attachDevice(vm.handle, { id: 'nic5', nic: { tap: TAP, mac: '02:00:0a:63:00:05' } }, signal());
    await consoleLine(vm.log, from, 'hot-plugged');
    times.nicAttach.push(performance.now() - t);
    t = performance.now();
    await driver.detachDevice(vm.handle, { id: 'nic5' }, signal());
    times.nicDetach.push(performance.now() - t);
  }
  await driver.destroy(vm.handle, signal());
  console.log(`disk attach → mounted in the guest, ms: ${fmt(times.diskAttach)}`);
  console.log(
    `disk detach → released by the guest, ms: ${fmt(times.diskDetach)} (5 s of it is Linux pciehp's button delay)`,
  );
  console.log(`NIC attach → configured in the guest, ms: ${fmt(times.nicAttach)}`);
  console.log(`NIC detach → released by the guest, ms: ${fmt(times.nicDetach)}`);
} finally {
  await run('ip', ['link', 'del', 'dev', TAP]).catch(() => undefined);
  await rm(base, { recursive: true, force: true });
}
