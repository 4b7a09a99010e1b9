/**
 * Virtual networks on two namespace hosts joined by a Linux bridge (the lab
 * underlay), measured at the agent's level with the real drivers:
 *   1. time to wire a NIC: NetworkHost.setup (netns, veth, bridge, VXLAN device,
 *      FDB peers, nftables) until a ping from the new workload crosses the overlay;
 *   2. time to re-apply a security-group change to 100 running workloads' NICs;
 *   3. TCP throughput (iperf3, 3 s) between the two hosts over the VXLAN overlay
 *      and over the plain underlay, and their ratio.
 * The process re-executes itself inside host A's namespace (the agent's view).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { NetworkHost } from '../src/agent/network-host.js';
import type { PlanNic, PlanSecurityRule } from '../src/core/agent-protocol.js';
import { VxlanDriver } from '../src/drivers/network/vxlan-driver.js';

const run = promisify(execFile);
const ip = (...a: string[]) => run('ip', a);
const TAG = process.env.OE_NETBENCH_TAG ?? Math.floor(Math.random() * 0xffff).toString(16);
const HOST_A = `oenb${TAG}a`;
const HOST_B = `oenb${TAG}b`;
const WL_B = `oenb${TAG}wb`;
const BRIDGE = `oenb${TAG}`;
const UNDER = ['10.198.0.1', '10.198.0.2'];
const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 100);
const SKIP_SG = process.env.BENCH_SKIP_SG === '1';

if (process.getuid?.() !== 0) {
  console.log('networks: skipped (namespaces need root)');
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function lab(up: boolean): Promise<void> {
  if (!up) {
    for (const ns of [WL_B, HOST_A, HOST_B]) await ip('netns', 'del', ns).catch(() => undefined);
    await ip('link', 'del', BRIDGE).catch(() => undefined);
    return;
  }
  await ip('link', 'add', BRIDGE, 'type', 'bridge');
  await ip('link', 'set', BRIDGE, 'up');
  for (const [i, ns] of [HOST_A, HOST_B].entries()) {
    await ip('netns', 'add', ns);
    await ip('link', 'add', `${BRIDGE}v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip('link', 'set', `${BRIDGE}v${i}`, 'master', BRIDGE, 'up');
    await ip('-n', ns, 'addr', 'add', `${UNDER[i]}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  // Host B's side of the overlay: its bridge and VXLAN device, one workload namespace on it.
  const net = { networkId: 1, bridge: 'onebr1', vlanId: 4242, localAddress: UNDER[1] };
  const vx = new VxlanDriver({ netns: HOST_B });
  await vx.ensure(net, AbortSignal.timeout(10_000));
  await vx.setPeers(net, [UNDER[0] as string], AbortSignal.timeout(10_000));
  await ip('netns', 'add', WL_B);
  await ip('-n', HOST_B, 'link', 'add', 'wlb', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', WL_B);
  await vx.attach(net, 'wlb', AbortSignal.timeout(10_000));
  await ip('-n', HOST_B, 'link', 'set', 'wlb', 'mtu', '1450');
  await ip('-n', WL_B, 'link', 'set', 'eth0', 'mtu', '1450', 'up');
  await ip('-n', WL_B, 'addr', 'add', '192.168.99.250/16', 'dev', 'eth0');
}

function nic(vmId: number, rules?: PlanSecurityRule[]): PlanNic {
  return {
    nicId: 0,
    networkId: 1,
    driver: 'vxlan',
    bridge: 'onebr1',
    vlanId: 4242,
    mac: `02:00:c0:a8:${((vmId >> 8) & 255).toString(16).padStart(2, '0')}:${(vmId & 255).toString(16).padStart(2, '0')}`,
    ips: [{ address: `192.168.${42 + (vmId >> 8)}.${vmId & 255}`, prefixLength: 16 }],
    mtu: 1450,
    peers: [UNDER[1] as string],
    ...(rules ? { rules } : {}),
  };
}

async function pingable(ns: string, target: string): Promise<boolean> {
  return run('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', target]).then(
    () => true,
    () => false,
  );
}

/** Milliseconds until the first echo reply, pinging every 10 ms (first reply's sequence number × 10 ms). */
async function firstReplyMs(ns: string, target: string): Promise<number> {
  const { stdout } = await run('ip', [
    'netns',
    'exec',
    ns,
    'busybox',
    'ping',
    '-c',
    '1',
    '-A',
    '-i',
    '0.01',
    '-w',
    '5',
    target,
  ]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const seq = /seq=(\d+)/.exec(stdout);
  if (!seq) throw new Error(`no reply from ${target}: ${stdout}`);
  return Number(seq[1]) * 10;
}

async function iperf(fromNs: string, serverNs: string, serverIp: string): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-B', serverIp], { stdio: 'ignore' });
  try {
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, 500));
      const { stdout } = await run('ip', ['netns', 'exec', fromNs, 'iperf3', '-c', serverIp, '-t', '3', '-J']).catch(
        (err: { stdout?: string }) => ({ stdout: err.stdout ?? '{}' }),
      );
      const r = JSON.parse(stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
      const bps = r.end?.sum_received?.bits_per_second;
      if (bps !== undefined) return bps;
      if (attempt >= 5) throw new Error(`iperf3 failed: ${r.error ?? stdout.slice(0, 200)}`);
    }
  } finally {
    server.kill();
  }
}

async function inside(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'oenb-'));
  const host = new NetworkHost(`oenb${TAG}`, scratch, pino({ level: 'warn' }));
  await host.probe(AbortSignal.timeout(30_000));
  host.localAddress = UNDER[0];
  const allow: PlanSecurityRule[] = [
    { direction: 'outbound', protocol: 'ALL', ports: [], cidrs: [] },
    { direction: 'inbound', protocol: 'ICMP', ports: [], cidrs: [] },
  ];
  try {
    // 1. Wire a NIC until traffic flows (the network's first NIC on the host: bridge and tunnel included).
    const wire: number[] = [];
    const wireSetup: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await host.setup(1, [nic(1, allow)], AbortSignal.timeout(30_000));
      const setup = performance.now() - t0;
      wire.push(setup + (await firstReplyMs(host.netnsName(1), '192.168.99.250')));
      wireSetup.push(setup);
      await host.teardown(1, [nic(1)], AbortSignal.timeout(30_000));
    }
    console.log(
      `wire a NIC (create -> ping across the VXLAN overlay), 7 runs: median ${median(wire).toFixed(0)} ms, min ${Math.min(...wire).toFixed(0)} ms, max ${Math.max(...wire).toFixed(0)} ms; host-side setup median ${median(wireSetup).toFixed(0)} ms`,
    );
    // 2. A security-group change re-applied to many running workloads.
    if (!SKIP_SG) {
      const created = performance.now();
      for (let v = 10; v < 10 + WORKLOADS; v++) await host.setup(v, [nic(v, allow)], AbortSignal.timeout(30_000));
      const setupMs = performance.now() - created;
      const changed = [...allow, { direction: 'inbound' as const, protocol: 'TCP', ports: ['8080'], cidrs: [] }];
      const t1 = performance.now();
      await Promise.all(
        Array.from({ length: WORKLOADS }, (_, k) =>
          host.applyRules(10 + k, [nic(10 + k, changed)], AbortSignal.timeout(60_000)),
        ),
      );
      const sgMs = performance.now() - t1;
      for (let v = 10; v < 10 + WORKLOADS; v++) await host.teardown(v, [nic(v)], AbortSignal.timeout(30_000));
      console.log(
        `set up ${WORKLOADS} workload NICs one after another: ${setupMs.toFixed(0)} ms (${(setupMs / WORKLOADS).toFixed(1)} ms each)`,
      );
      console.log(
        `security-group change re-applied to ${WORKLOADS} running workloads: ${sgMs.toFixed(0)} ms (${(sgMs / WORKLOADS).toFixed(1)} ms each)`,
      );
    }
    // 3. Throughput: overlay (workload A -> workload B) and plain underlay (host A -> host B).
    await host.setup(
      2,
      [nic(2, allow.concat([{ direction: 'inbound', protocol: 'TCP', ports: [], cidrs: [] }]))],
      AbortSignal.timeout(30_000),
    );
    while (!(await pingable(host.netnsName(2), '192.168.99.250'))) await new Promise((r) => setTimeout(r, 5));
    const overlay = await iperf(host.netnsName(2), WL_B, '192.168.99.250');
    const plain = await iperf(HOST_A, HOST_B, UNDER[1] as string);
    await host.teardown(2, [nic(2)], AbortSignal.timeout(30_000));
    const gbit = (b: number) => `${(b / 1e9).toFixed(2)} Gbit/s`;
    console.log(
      `TCP throughput host to host: VXLAN overlay ${gbit(overlay)}, plain underlay ${gbit(plain)}, overlay/plain = ${(overlay / plain).toFixed(2)}`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.env.OE_NETBENCH_INSIDE === '1') {
  await inside();
} else {
  await lab(true);
  try {
    const child = spawn('nsenter', [`--net=/run/netns/${HOST_A}`, '--', process.execPath, process.argv[1] as string], {
      stdio: 'inherit',
      env: { ...process.env, OE_NETBENCH_INSIDE: '1', OE_NETBENCH_TAG: TAG },
    });
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    if (code !== 0) process.exitCode = code;
  } finally {
    await lab(false);
  }
}
