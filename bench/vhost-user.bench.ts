/**
 * microVM NICs on the Open vSwitch netdev datapath: vhost-user ports of the
 * DPDK switch vs taps as OVS access ports (the path ovswitch microVM NICs
 * take without BRIDGE_TYPE = openvswitch_dpdk). One own ovsdb-server + DPDK
 * ovs-vswitchd started by the product's OvsDaemons (dpdk auto), one netdev
 * bridge, two QEMU TCG microVMs (the guest kit, 128 MiB) on one VLAN, booted
 * with the product's argv builder. The client guest fetches a 32 MiB file from
 * busybox httpd in the server guest 4 times and prints the times it measured
 * (guest /proc/uptime); tap and vhost-user boots alternate, ROUNDS each.
 * Needs root, QEMU, openvswitch-switch-dpdk, librte-mempool-ring23 and free
 * 2 MB hugepages; skipped otherwise.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OvsDaemons } from '../src/drivers/network/ovs-daemons.js';
import { vhostInterfaceArgs, vhostUserPrerequisites } from '../src/drivers/network/vhost-user.js';
import { sleep } from '../src/drivers/runtime/exec.js';
import { writeContextVolume } from '../src/drivers/runtime/qemu/context-volume.js';
import { ensureGuestKit } from '../src/drivers/runtime/qemu/guest-kit.js';
import { hostTscKhz } from '../src/drivers/runtime/qemu/probe.js';
import { kernelCmdline, type QemuLaunch, qemuArgv } from '../src/drivers/runtime/qemu/qemu-args.js';

const run = promisify(execFile);
const ROUNDS = Number(process.env.OE_VHU_BENCH_ROUNDS ?? '2');
const TAG = Math.floor(Math.random() * 0xfff).toString(16);
const BR = `oevb${TAG}`;

async function skip(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  const pre = await vhostUserPrerequisites();
  if (!pre.usable) return pre.reason;
  return run('qemu-system-x86_64', ['--version']).then(
    () => undefined,
    () => 'qemu-system-x86 is not installed',
  );
}

const why = await skip();
if (why) {
  console.log(`vhost-user: skipped (${why})`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'oneedge-vhu-bench-'));
const sig = (ms = 60_000) => AbortSignal.timeout(ms);
const ovs = new OvsDaemons({ mode: 'own', runDir: join(work, 'ovs'), dpdk: 'auto' });
const pids: number[] = [];

async function guest(n: 1 | 2, mode: 'tap' | 'vhost-user', script: string): Promise<string> {
  const kit = await ensureGuestKit({ cacheRoot: join(tmpdir(), 'oneedge-bench-guest-kit') });
  const dir = join(work, `${mode}-${n}-${Date.now()}`);
  const mac = `52:54:00:00:76:0${n}`;
  const tsc = await hostTscKhz();
  await writeContextVolume(
    {
      context: { ETH0_IP: `10.76.0.${n}`, ETH0_MASK: '255.255.255.0', ETH0_MAC: mac, START_SCRIPT: script },
      env: {},
    },
    join(dir, 'ctx'),
    join(work, `ctx-${mode}-${n}.iso`),
    sig(),
  );
  const l: QemuLaunch = {
    binary: 'qemu-system-x86_64',
    name: `vhu-bench-${n}`,
    accel: 'tcg',
    ...(tsc ? { tscKhz: tsc } : {}),
    machine: 'microvm',
    vcpu: 1,
    threads: 1,
    memoryMb: 128,
    kernel: kit.vmlinux ?? kit.kernel,
    initrd: kit.initrd,
    cmdline: [],
    disks: [{ id: 'context', file: join(work, `ctx-${mode}-${n}.iso`), format: 'raw', readOnly: true }],
    nics: [
      mode === 'tap'
        ? { id: 'net0', tap: `oevt${TAG}${n}`, mac }
        : { id: 'net0', tap: '', mac, vhostUser: join(work, `vhu${n}.sock`) },
    ],
    logPath: join(work, `console-${mode}-${n}.log`),
    qmpSocket: join(work, `qmp-${n}.sock`),
    pidFile: join(work, `qemu-${n}.pid`),
  };
  l.cmdline = kernelCmdline(l, []);
  rmSync(l.logPath, { force: true });
  await run(qemuArgv(l)[0] as string, qemuArgv(l).slice(1));
  pids.push(Number(readFileSync(l.pidFile, 'utf8').trim()));
  return l.logPath;
}

function stopGuests(): void {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

try {
  await ovs.ready(sig());
  const vs = (args: string[]) => ovs.vsctl(args, sig());
  await vs(['--may-exist', 'add-br', BR, '--', 'set', 'Bridge', BR, 'datapath_type=netdev']);
  for (const n of [1, 2]) {
    const tap = `oevt${TAG}${n}`;
    await run('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await run('ip', ['link', 'set', tap, 'up']);
    await vs(['add-port', BR, tap, 'tag=76']);
    const port = `oevu${TAG}${n}`;
    await vs(['add-port', BR, port, 'tag=77', ...vhostInterfaceArgs(port, join(work, `vhu${n}.sock`))]);
  }
  const server = 'mkdir -p /www; dd if=/dev/zero of=/www/big bs=1M count=32 2>/dev/null; httpd -p 80 -h /www';
  const client =
    'sleep 3; for i in 1 2 3 4; do a=$(cut -d" " -f1 /proc/uptime); wget -q -O /dev/null http://10.76.0.2/big; b=$(cut -d" " -f1 /proc/uptime); echo XFER $a $b; done; echo XDONE';
  const times: Record<string, number[]> = { tap: [], 'vhost-user': [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ['tap', 'vhost-user'] as const) {
      await guest(2, mode, server);
      await sleep(3000, sig());
      const log = await guest(1, mode, client);
      const deadline = Date.now() + 180_000;
      let text = '';
      while (Date.now() < deadline && !text.includes('XDONE')) {
        await sleep(500, sig());
        text = (() => {
          try {
            return readFileSync(log, 'utf8');
          } catch {
            return '';
          }
        })();
      }
      stopGuests();
      const got = [...text.matchAll(/XFER ([\d.]+) ([\d.]+)/g)].map((m) => Number(m[2]) - Number(m[1]));
      if (got.length === 0) throw new Error(`${mode}: no transfer finished:\n${text.slice(-2000)}`);
      times[mode]?.push(...got);
      console.log(`${mode} round ${r + 1}: ${got.map((t) => t.toFixed(2)).join(' ')} s per 32 MiB`);
    }
  }
  for (const [mode, xs] of Object.entries(times)) {
    const m = median(xs);
    console.log(`${mode}: median ${m.toFixed(2)} s → ${(32 / m).toFixed(1)} MiB/s (n=${xs.length})`);
  }
} finally {
  stopGuests();
  await ovs.vsctl(['--if-exists', 'del-br', BR], sig()).catch(() => undefined);
  for (const n of [1, 2]) await run('ip', ['link', 'del', `oevt${TAG}${n}`]).catch(() => undefined);
  await ovs.stop(sig()).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
