/**
 * The ovswitch driver on two namespace hosts whose `trunk0` links meet on a
 * Linux bridge in the root namespace (the lab's switch), against the plain
 * `bridge` driver on the same link:
 *   1. time to wire a NIC: NetworkHost.setup (netns, veth, OVS port with its
 *      VLAN tag, trunk, nftables) until a ping from the new workload reaches a
 *      workload on the other host; the very first one includes starting the
 *      host's own ovsdb-server and ovs-vswitchd;
 *   2. TCP throughput (iperf3, 3 s) workload to workload over the OVS VLAN
 *      trunk (userspace datapath, 802.1Q on the wire) vs over Linux bridges.
 * The process re-executes itself inside host A's namespace (the agent's view);
 * host B is driven from there with the drivers' netns option.
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
import { BridgeDriver } from '../src/drivers/network/bridge-driver.js';
import { OvsDaemons } from '../src/drivers/network/ovs-daemons.js';
import { OvsDriver } from '../src/drivers/network/ovs-driver.js';
import type { HostNetwork, NetworkDriver } from '../src/drivers/network/types.js';

const run = promisify(execFile);
const ip = (...a: string[]) => run('ip', a);
const TAG = process.env.OE_OVSBENCH_TAG ?? Math.floor(Math.random() * 0xffff).toString(16);
const HOST_A = `oeob${TAG}a`;
const HOST_B = `oeob${TAG}b`;
const WL_B = `oeob${TAG}wb`;
const SWITCH = `oeob${TAG}`;
const PEER = '192.168.97.250';
const RUNS = 7;

if (process.getuid?.() !== 0) {
  console.log('networks-ovs: skipped (namespaces need root)');
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const sec = (ms = 30_000) => AbortSignal.timeout(ms);

async function killAll(ns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

async function lab(up: boolean): Promise<void> {
  if (!up) {
    for (const ns of [WL_B, HOST_A, HOST_B]) {
      await killAll(ns);
      await ip('netns', 'del', ns).catch(() => undefined);
    }
    await ip('link', 'del', SWITCH).catch(() => undefined);
    return;
  }
  await ip('link', 'add', SWITCH, 'type', 'bridge');
  await ip('link', 'set', SWITCH, 'up');
  for (const [i, ns] of [HOST_A, HOST_B].entries()) {
    await ip('netns', 'add', ns);
    await ip('link', 'add', `${SWITCH}v${i}`, 'type', 'veth', 'peer', 'name', 'trunk0', 'netns', ns);
    await ip('link', 'set', `${SWITCH}v${i}`, 'master', SWITCH, 'up');
    await ip('-n', ns, 'link', 'set', 'trunk0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  await ip('netns', 'add', WL_B);
  await ip('-n', HOST_B, 'link', 'add', 'wlb', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', WL_B);
  await ip('-n', WL_B, 'addr', 'add', `${PEER}/24`, 'dev', 'eth0');
  await ip('-n', WL_B, 'link', 'set', 'eth0', 'up');
}

const allow: PlanSecurityRule[] = [
  { direction: 'outbound', protocol: 'ALL', ports: [], cidrs: [] },
  { direction: 'inbound', protocol: 'ICMP', ports: [], cidrs: [] },
];

function nic(kind: 'ovswitch' | 'bridge', vmId: number, rules = allow): PlanNic {
  return {
    nicId: 0,
    networkId: kind === 'ovswitch' ? 1 : 2,
    driver: kind,
    bridge: kind === 'ovswitch' ? 'oeovs0' : 'onebr2',
    ...(kind === 'ovswitch' ? { vlanId: 10 } : {}),
    phydev: 'trunk0',
    mac: `02:00:c0:a8:61:${vmId.toString(16).padStart(2, '0')}`,
    ips: [{ address: `192.168.97.${vmId}`, prefixLength: 24 }],
    rules,
  };
}

/** Milliseconds until the first echo reply, pinging every 10 ms. */
async function firstReplyMs(ns: string, target: string): Promise<number> {
  const argv = ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-A', '-i', '0.01', '-w', '5', target];
  const { stdout } = await run('ip', argv).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const seq = /seq=(\d+)/.exec(stdout);
  if (!seq) throw new Error(`no reply from ${target}: ${stdout}`);
  return Number(seq[1]) * 10;
}

async function iperf(fromNs: string): Promise<{ bps: number; retransmits: number }> {
  const server = spawn('ip', ['netns', 'exec', WL_B, 'iperf3', '-s', '-B', PEER], { stdio: 'ignore' });
  try {
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, 500));
      const { stdout } = await run('ip', ['netns', 'exec', fromNs, 'iperf3', '-c', PEER, '-t', '3', '-J']).catch(
        (err: { stdout?: string }) => ({ stdout: err.stdout ?? '{}' }),
      );
      const r = JSON.parse(stdout || '{}') as {
        end?: { sum_received?: { bits_per_second: number }; sum_sent?: { retransmits?: number } };
        error?: string;
      };
      const bps = r.end?.sum_received?.bits_per_second;
      if (bps !== undefined) return { bps, retransmits: r.end?.sum_sent?.retransmits ?? 0 };
      if (attempt >= 5) throw new Error(`iperf3 failed: ${r.error ?? stdout.slice(0, 200)}`);
    }
  } finally {
    server.kill();
  }
}

/** Host B's side: its switch with the peer workload plugged in. */
async function peerSide(driver: NetworkDriver, net: HostNetwork): Promise<void> {
  await driver.ensure(net, sec());
  await driver.attach(net, 'wlb', sec());
}

async function measure(host: NetworkHost, kind: 'ovswitch' | 'bridge'): Promise<void> {
  const wire: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await host.setup(1, [nic(kind, 1)], sec());
    const setup = performance.now() - t0;
    wire.push(setup + (await firstReplyMs(host.netnsName(1), PEER)));
    await host.teardown(1, [nic(kind, 1)], sec());
  }
  console.log(
    `${kind}: wire a NIC (create -> first ping reply from the other host), ${RUNS} runs: median ${median(wire).toFixed(0)} ms, min ${Math.min(...wire).toFixed(0)}, max ${Math.max(...wire).toFixed(0)}`,
  );
  const tcp = allow.concat([{ direction: 'inbound', protocol: 'TCP', ports: [], cidrs: [] }]);
  await host.setup(2, [nic(kind, 2, tcp)], sec());
  await firstReplyMs(host.netnsName(2), PEER);
  const r = await iperf(host.netnsName(2));
  await host.teardown(2, [nic(kind, 2)], sec());
  console.log(
    `${kind}: TCP workload to workload across the hosts: ${(r.bps / 1e9).toFixed(2)} Gbit/s (${r.retransmits} retransmits)`,
  );
}

async function inside(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'oeob-'));
  const host = new NetworkHost(`oeob${TAG}`, scratch, pino({ level: 'warn' }), { ovs: { mode: 'own' } });
  const peerOvs = new OvsDaemons({ mode: 'own', runDir: join(scratch, 'peer-ovs'), netns: HOST_B });
  try {
    await host.probe(sec());
    if (!host.names().includes('ovswitch')) throw new Error(`ovswitch unusable: ${host.unusable.ovswitch}`);
    const ovsNet: HostNetwork = { networkId: 1, bridge: 'oeovs0', vlanId: 10, phydev: 'trunk0' };
    const peer = new OvsDriver(peerOvs, { netns: HOST_B });
    await peerSide(peer, ovsNet);
    // The first ovswitch NIC on a host starts its daemons.
    const t0 = performance.now();
    await host.setup(1, [nic('ovswitch', 1)], sec());
    const first = performance.now() - t0 + (await firstReplyMs(host.netnsName(1), PEER));
    await host.teardown(1, [nic('ovswitch', 1)], sec());
    console.log(`ovswitch: first NIC on the host, own ovsdb-server + ovs-vswitchd started: ${first.toFixed(0)} ms`);
    await measure(host, 'ovswitch');
    await peer.detach(ovsNet, 'wlb', sec());
    await peer.remove(ovsNet, sec());

    const flat: HostNetwork = { networkId: 2, bridge: 'onebr2', phydev: 'trunk0' };
    await peerSide(new BridgeDriver({ netns: HOST_B }), flat);
    await measure(host, 'bridge');
  } finally {
    await host.shutdown(sec()).catch(() => undefined);
    await peerOvs.stop(sec()).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.env.OE_OVSBENCH_INSIDE === '1') {
  await inside();
} else {
  await lab(true);
  try {
    const child = spawn('nsenter', [`--net=/run/netns/${HOST_A}`, '--', process.execPath, process.argv[1] as string], {
      stdio: 'inherit',
      env: { ...process.env, OE_OVSBENCH_INSIDE: '1', OE_OVSBENCH_TAG: TAG },
    });
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    if (code !== 0) process.exitCode = code;
  } finally {
    await lab(false);
  }
}
