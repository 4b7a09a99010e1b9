/**
 * Live streams of the web UI (issue #9):
 * - log follow end to end (real daemon, a real loopback agent with the
 *   in-memory runtime; the bench appends to the VM's console.log where a
 *   runtime would): latency from an appended line to the client, throughput
 *   of a fast log, and memory of the daemon and agent while a client does not
 *   read (the credit window must hold the backlog on disk, not in RAM);
 * - VM monitoring events: the cost of one monitor tick's event for 20,000
 *   VMs (owner lookups cold and warm, over a real SQLite store) and of the
 *   per-subscriber permission filter.
 * Prints figures only.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OneEdgeClient } from '../src/client/index.js';
import { hasRight } from '../src/core/permissions.js';
import { EventHub, type VmMonitoringBatch } from '../src/server/events.js';
import { visibleMonitoring } from '../src/server/routes/event-routes.js';
import { openStore } from '../src/store/index.js';
import { LoopbackAgent, waitFor } from '../test/support/agents.js';
import { Api } from '../test/support/api.js';
import { TestServer } from '../test/support/server.js';
import { seedFleet } from './support/fleet-seed.js';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 300);
const BULK_MB = Number(process.env.BENCH_LOG_MB ?? 32);
const VMS = Number(process.env.BENCH_VMS ?? 20_000);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
/** CPU seconds (user + system) a process has used. */
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
};
const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
};

async function logFollow(): Promise<void> {
  const server = await new TestServer({ args: ['--heartbeat', '2'] }).start();
  const agent = new LoopbackAgent('mock');
  try {
    const admin = await Api.login(server.url, 'oneadmin', server.adminPassword);
    await agent.join(admin, server, 'bench-host');
    const tpl = await admin.post('/api/v1/templates', { template: 'NAME = noisy\nMEMORY = 16\nCPU = 0.1' });
    const vmId = (await admin.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {})).body.items[0].id as number;
    await waitFor('VM running', async () => (await admin.get(`/api/v1/vms/${vmId}`)).body.lcm_state === 'RUNNING');
    const log = join(agent.stateDir, 'vms', String(vmId), 'console.log');
    writeFileSync(log, '');
    const client = new OneEdgeClient(server.url, admin.token as string);

    // Latency: one line at a time, each waited for.
    let received = '';
    let opened: () => void = () => {};
    const open = new Promise<void>((resolve) => {
      opened = resolve;
    });
    let notify: (() => void) | undefined = () => opened();
    const abort = new AbortController();
    const following = client.followVmLog(
      vmId,
      (c) => {
        received += c.data;
        notify?.();
      },
      abort.signal,
      { tail: 0 },
    );
    await open;
    const lat: number[] = [];
    for (let i = 0; i < LINES; i++) {
      const line = `line ${i}\n`;
      const seen = new Promise<void>((resolve) => {
        notify = () => received.endsWith(line) && resolve();
      });
      const t0 = performance.now();
      appendFileSync(log, line);
      await seen;
      lat.push(performance.now() - t0);
    }
    console.log(
      `log follow latency (append → client, ${LINES} lines): p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms, max ${Math.max(...lat).toFixed(2)} ms`,
    );

    // Throughput: BULK_MB appended as fast as the disk takes it, read as fast as it comes.
    const block = `${'x'.repeat(1023)}\n`.repeat(256); // 256 KiB
    const want = received.length + BULK_MB * 4 * block.length;
    const done = new Promise<void>((resolve) => {
      notify = () => received.length >= want && resolve();
    });
    const serverPid = server.pid as number;
    const agentPid = agent.child?.pid as number;
    const cpu0 = { server: cpuSeconds(serverPid), agent: cpuSeconds(agentPid), bench: process.cpuUsage() };
    const t0 = performance.now();
    for (let i = 0; i < BULK_MB * 4; i++) appendFileSync(log, block);
    await done;
    const secs = (performance.now() - t0) / 1000;
    const benchCpu = process.cpuUsage(cpu0.bench);
    console.log(
      `log follow throughput: ${BULK_MB} MiB in ${secs.toFixed(2)} s = ${(BULK_MB / secs).toFixed(1)} MiB/s ` +
        `(CPU s: front-end ${(cpuSeconds(serverPid) - cpu0.server).toFixed(2)}, agent ${(cpuSeconds(agentPid) - cpu0.agent).toFixed(2)}, ` +
        `client+writer ${((benchCpu.user + benchCpu.system) / 1e6).toFixed(2)})`,
    );
    abort.abort();
    await following;

    // A client that does not read: the backlog must stay in the file, not in the daemons' memory.
    const before = { server: rssMb(serverPid), agent: rssMb(agentPid) };
    const stalled = new AbortController();
    const res = await fetch(`${server.url}/api/v1/vms/${vmId}/log?follow=true&tail=0`, {
      headers: { authorization: `Bearer ${admin.token}` },
      signal: stalled.signal,
    });
    for (let i = 0; i < BULK_MB * 4; i++) appendFileSync(log, block);
    await new Promise((r) => setTimeout(r, 3000));
    const during = { server: rssMb(serverPid), agent: rssMb(agentPid) };
    console.log(
      `stalled reader, ${BULK_MB} MiB appended: front-end RSS ${before.server.toFixed(0)} → ${during.server.toFixed(0)} MB, agent RSS ${before.agent.toFixed(0)} → ${during.agent.toFixed(0)} MB`,
    );
    stalled.abort();
    await res.body?.cancel().catch(() => undefined);
  } finally {
    await agent.dispose();
    await server.dispose();
  }
}

async function monitoringEvents(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'oneedge-bench-mon-'));
  try {
    const path = join(dir, 'one.db');
    const store = await openStore({ kind: 'sqlite', path });
    const hosts = seedFleet(path, Math.ceil(VMS / 100), 100);
    const samples = hosts.flatMap((h) => h.vmIds.map((vmId) => ({ vmId, hostId: h.id, ts: Date.now() })));
    const hub = new EventHub(store);
    let last: VmMonitoringBatch | undefined;
    hub.subscribeMonitoring((b) => {
      last = b;
    });
    const cold = performance.now();
    await hub.publishVmMonitoring(samples);
    const coldMs = performance.now() - cold;
    const warm: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await hub.publishVmMonitoring(samples);
      warm.push(performance.now() - t);
    }
    const batch = last as VmMonitoringBatch;
    const stranger = { uid: 99, gid: 99, groups: [99], admin: false, name: 'bench' };
    const filter: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      visibleMonitoring(batch, (o) => hasRight(stranger, o, 'use'));
      filter.push(performance.now() - t);
    }
    console.log(
      `VM monitoring event for ${samples.length} VMs in one tick: first ${coldMs.toFixed(0)} ms (owner lookups), then ${pct(warm, 50).toFixed(1)} ms (p50); ` +
        `${(batch.json.length / 1024).toFixed(0)} KiB for an admin, ${(batch.json.length / samples.length).toFixed(0)} B per VM ` +
        `= ${(batch.json.length / 30 / 1024).toFixed(0)} KiB/s to an admin's stream at the default 30 s vm-usage period`,
    );
    console.log(
      `per-subscriber permission filter (non-admin, ${samples.length} VMs): ${pct(filter, 50).toFixed(2)} ms per tick (p50)`,
    );
    hub.close();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await logFollow();
await monitoringEvents();
