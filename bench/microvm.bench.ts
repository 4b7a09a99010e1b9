/**
 * microVM boot time to ready and host memory per idle VM, with the qemu driver
 * (software emulation, TCG, here; KVM where a probe boot proves it works):
 * 1 VM, then 4 booting in parallel. "Ready" is the guest kit's ONEEDGE-READY
 * console line (modules loaded, root mounted, context applied), which is when
 * the driver's start returns. Memory is the QEMU process RSS after 3 s idle.
 * Each VM boots, like a VM with an OS image DISK, from a qcow2 overlay over one
 * shared ext4 disk image (built once from the busybox root filesystem).
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildBusyboxRootfs } from '../src/drivers/runtime/busybox-rootfs.js';
import { baseDiskFor } from '../src/drivers/runtime/qemu/disks.js';
import { QemuDriver } from '../src/drivers/runtime/qemu-driver.js';
import type { WorkloadHandle, WorkloadSpec } from '../src/drivers/runtime/types.js';

if (process.getuid?.() !== 0) {
  console.log('microvm: skipped (needs root)');
  process.exit(0);
}

const ROUNDS = Number(process.env.BENCH_MICROVM_ROUNDS ?? 3);
const base = await mkdtemp(join(tmpdir(), 'oneedge-bench-microvm-'));
const driver = new QemuDriver({ stateRoot: join(base, 'state') });
const signal = (): AbortSignal => AbortSignal.timeout(120_000);
let seq = 0;

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function bootMany(n: number): Promise<{ ms: number[]; wallMs: number; rss: number[] }> {
  const rootfs = join(base, 'rootfs');
  const image = await baseDiskFor(rootfs, join(base, 'images'), signal());
  const specs: WorkloadSpec[] = Array.from({ length: n }, () => {
    const i = ++seq;
    return {
      vmId: i,
      name: `one-${i}`,
      workDir: join(base, `vm-${i}`),
      rootfs,
      cpu: 1,
      vcpu: 1,
      memoryMb: 128,
      env: {},
      context: { SET_HOSTNAME: `bench-${i}` },
      logPath: join(base, `vm-${i}.log`),
      machine: { rootDisk: { path: image, format: 'raw' } },
    };
  });
  const handles: WorkloadHandle[] = [];
  for (const s of specs) handles.push(await driver.create(s, signal()));
  const t0 = performance.now();
  const ms: number[] = [];
  const started = await Promise.all(
    handles.map(async (h) => {
      const t = performance.now();
      const out = await driver.start(h, signal());
      ms.push(performance.now() - t);
      return out;
    }),
  );
  const wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 3000));
  const rss: number[] = [];
  for (const h of started) rss.push(await rssMb((await driver.inspect(h, signal())).pid as number));
  for (const h of started) await driver.destroy(h, signal());
  return { ms, wallMs, rss };
}

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${Math.round(s[Math.floor(s.length / 2)] ?? 0)} (min ${Math.round(s[0] ?? 0)}, max ${Math.round(s.at(-1) ?? 0)})`;
};

try {
  await mkdir(join(base, 'rootfs'), { recursive: true });
  await buildBusyboxRootfs(join(base, 'rootfs'));
  const probe = await driver.probeDetails(signal());
  console.log(
    `accelerator: ${probe.accel} (KVM: ${probe.kvm ? 'works' : `no — ${probe.kvmReason}`}); ${cpus().length} CPUs`,
  );
  const one: number[] = [];
  const oneRss: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const res = await bootMany(1);
    one.push(...res.ms);
    oneRss.push(...res.rss);
  }
  console.log(`1 VM, boot to ready, ms: ${fmt(one)}; idle RSS MB: ${fmt(oneRss)}`);
  const four: number[] = [];
  const fourWall: number[] = [];
  const fourRss: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const res = await bootMany(4);
    four.push(...res.ms);
    fourWall.push(res.wallMs);
    fourRss.push(...res.rss);
  }
  console.log(
    `4 VMs in parallel, each to ready, ms: ${fmt(four)}; all ready: ${fmt(fourWall)}; idle RSS MB per VM: ${fmt(fourRss)}`,
  );
  console.log(
    `KVM boot: ${probe.kvm ? 'measured above' : 'not measurable here (no usable KVM)'}; anchor: Firecracker publishes < 125 ms to guest user space`,
  );
} finally {
  await rm(base, { recursive: true, force: true });
}
