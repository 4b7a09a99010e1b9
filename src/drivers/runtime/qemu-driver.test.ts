/**
 * The qemu driver against real QEMU (TCG here; KVM where a probe boot proves
 * it): the shared runtime conformance suite, plus what only a microVM shows
 * (context applied in the guest, NIC on a bridge with the context's IP, vCPU
 * pinning, QMP re-attach). Needs root, qemu-system-x86, the kernel package and
 * busybox-static; skipped with a reason otherwise, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildBusyboxRootfs } from './busybox-rootfs.js';
import { runtimeConformance } from './conformance.js';
import { QemuDriver, type QemuDriverOptions } from './qemu-driver.js';
import type { WorkloadHandle, WorkloadSpec } from './types.js';

const run = promisify(execFile);
const CI = process.env.CI === 'true';
const signal = (): AbortSignal => AbortSignal.timeout(60_000);

function skipReason(): string | undefined {
  if (CI) return undefined;
  if (process.getuid?.() !== 0) return 'microVMs need root (taps, namespaces)';
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86 is not installed';
  if (!existsSync('/bin/busybox')) return 'busybox-static is not installed';
  if (!existsSync('/lib/modules') || !existsSync('/boot')) return 'linux-image-cloud-amd64 is not installed';
  return undefined;
}

const skip = skipReason();
const base = join(tmpdir(), `oneedge-qemu-${process.pid}`);
const options: QemuDriverOptions = { stateRoot: join(base, 'state'), rebootGraceMs: 8000 };
let rootfs: string | undefined;

async function busyboxRoot(): Promise<string> {
  if (!rootfs) {
    rootfs = join(base, 'rootfs');
    await mkdir(rootfs, { recursive: true });
    await buildBusyboxRootfs(rootfs);
  }
  return rootfs;
}

/** QEMU processes whose command line mentions `text`. */
async function qemuProcesses(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('qemu-system') && cmd.includes(text)) out.push(Number(entry));
  }
  return out;
}

after(async () => {
  for (const pid of await qemuProcesses(base)) process.kill(pid, 'SIGKILL');
  await rm(base, { recursive: true, force: true });
});

runtimeConformance('qemu', () => new QemuDriver(options), {
  skip,
  rootfs: busyboxRoot,
  baseDir: join(base, 'conformance'),
  namePrefix: `one-qc${process.pid % 1000}`,
  realProcesses: true,
  waitMs: 30_000,
  memoryMb: 128,
  hardRebootIsPowerCut: true,
  makeNetns: async () => {
    const name = `oeqt${process.pid % 100000}`;
    await run('ip', ['netns', 'add', name]);
    return {
      path: `/var/run/netns/${name}`,
      dispose: async () => {
        await run('ip', ['netns', 'del', name]).catch(() => undefined);
      },
    };
  },
  leftovers: async (handle: WorkloadHandle, spec: WorkloadSpec) => {
    const left: string[] = [];
    for (const pid of await qemuProcesses(spec.workDir)) left.push(`qemu process ${pid}`);
    if (existsSync(join(options.stateRoot as string, 'vms', handle.name))) left.push('index entry');
    return left;
  },
});

async function firstBytes(socketPath: string, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= n) {
        sock.destroy();
        resolve(got.subarray(0, n).toString('latin1'));
      }
    });
    sock.on('error', reject);
  });
}

describe('qemu microVM on a bridge', { skip }, () => {
  it('takes its IP, MTU and hostname from the context, serves HTTP, pins vCPUs, offers VNC, cleans up', async () => {
    const ns = `oeqn${process.pid % 100000}`;
    await run('ip', ['netns', 'add', ns]);
    const netns = `/var/run/netns/${ns}`;
    const inNs = (...argv: string[]) => run('nsenter', [`--net=${netns}`, '--', ...argv]);
    const driver = new QemuDriver(options);
    let handle: WorkloadHandle | undefined;
    try {
      await inNs('ip', 'link', 'add', 'br0', 'type', 'bridge');
      await inNs('ip', 'addr', 'add', '10.123.0.1/24', 'dev', 'br0');
      await inNs('ip', 'link', 'set', 'br0', 'up');
      const workDir = join(base, 'net-vm');
      const spec: WorkloadSpec = {
        vmId: 77,
        name: 'one-77',
        workDir,
        rootfs: await busyboxRoot(),
        cpu: 1,
        vcpu: 1,
        memoryMb: 128,
        cpuSet: [0],
        env: {},
        netns,
        context: {
          SET_HOSTNAME: 'vmnet',
          ETH0_IP: '10.123.0.2',
          ETH0_MASK: '255.255.255.0',
          ETH0_MAC: '02:00:0a:7b:00:02',
          ETH0_MTU: '1400',
          ETH0_GATEWAY: '10.123.0.1',
          START_SCRIPT:
            'mkdir -p /www; echo "hello-$(hostname)" > /www/index.html; cat /sys/class/net/eth0/mtu > /www/mtu; ' +
            'ip route > /www/route; httpd -p 80 -h /www',
        },
        logPath: join(base, 'net-vm.log'),
        machine: { nics: [{ bridge: 'br0', mac: '02:00:0a:7b:00:02' }], vnc: true },
      };
      handle = await driver.start(await driver.create(spec, signal()), signal());
      const pid = (await driver.inspect(handle, signal())).pid as number;
      const get = async (path: string): Promise<string> =>
        (await inNs('curl', '-sf', '--max-time', '5', `http://10.123.0.2${path}`)).stdout;
      assert.equal((await get('/')).trim(), 'hello-vmnet');
      assert.equal((await get('/mtu')).trim(), '1400');
      assert.match(await get('/route'), /default via 10\.123\.0\.1/);
      for (const task of await readdir(`/proc/${pid}/task`)) {
        const status = await readFile(`/proc/${pid}/task/${task}/status`, 'utf8').catch(() => '');
        if (status) assert.match(status, /Cpus_allowed_list:\s+0\n/, `thread ${task} pinned to CPU 0`);
      }
      const vnc = driver.vncSocket(handle);
      assert.ok(vnc);
      assert.equal(await firstBytes(vnc, 12), 'RFB 003.008\n');
      await driver.stop(handle, 10_000, signal());
      const log = await readFile(spec.logPath, 'utf8');
      assert.match(log, /ONEEDGE-POWEROFF/, `stopped through the ACPI power button; console:\n${log}`);
      await assert.rejects(inNs('ip', 'link', 'show', 'one-77-0'), 'the tap is gone after stop');
      await driver.destroy(handle, signal());
      handle = undefined;
      assert.equal(existsSync(workDir), false);
    } finally {
      if (handle) await driver.destroy(handle, signal()).catch(() => undefined);
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  });
});
