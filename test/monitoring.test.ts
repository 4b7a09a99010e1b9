import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { encodeMonitorBatch } from '../src/agent/monitoring/monitor.js';
import { tlsOptions } from '../src/agent/tls.js';
import type { MonitorRecord } from '../src/core/monitoring.js';
import { LoopbackAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { BIN, TestServer } from './support/server.js';

const run = promisify(execFile);
const PERIODS = 'beacon=1,system=2,host=1,datastore=1,vm-state=0.5,vm-sync=2,vm-usage=0.5';
const METRICS_TOKEN = 'scrape-token-0123456789abcdef';

/**
 * Push monitoring end to end over loopback (in-memory runtime, short probe
 * periods): probes reach host bodies and time series, operator probe scripts,
 * the history API and its permissions, /metrics and its auth, and a doctored
 * agent that reports another host's VMs.
 */
describe('push monitoring (loopback agents)', () => {
  let server: TestServer;
  let api: Api;
  let agent: LoopbackAgent;
  let hostId: number;
  let templateId: number;
  const vmIds: number[] = [];

  before(async () => {
    server = await new TestServer({
      args: ['--heartbeat', '1', '--agent-host', '127.0.0.1', '--monitor-flush-ms', '100'],
      env: { ONEEDGE_METRICS_TOKEN: METRICS_TOKEN },
    }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    agent = new LoopbackAgent('mock', ['--probe-periods', PERIODS]);
    // Operator probes: one prints attributes, one fails.
    const probes = join(agent.stateDir, 'probes.d');
    mkdirSync(probes, { recursive: true });
    writeFileSync(join(probes, '10-temp'), '#!/bin/sh\necho TEMPERATURE=42\necho \'SITE="edge lab"\'\n');
    writeFileSync(join(probes, '20-broken'), '#!/bin/sh\necho nope >&2\nexit 3\n');
    chmodSync(join(probes, '10-temp'), 0o755);
    chmodSync(join(probes, '20-broken'), 0o755);
    hostId = await agent.join(api, server, 'mon-1');
    templateId = (await api.post('/api/v1/templates', { template: 'NAME = m\nMEMORY = 32\nCPU = 0.1' })).body.id;
  });
  after(async () => {
    await agent?.dispose();
    await server?.dispose();
  });

  test('within one beacon the host shows real capacity, NUMA, runtimes, usage, datastore and probe attributes', async () => {
    const host = await waitFor(
      'host monitoring folded in',
      async () => {
        const h = (await api.get(`/api/v1/hosts/${hostId}`)).body;
        return h.state === 'MONITORED' && h.monitoring?.usage && h.monitoring?.datastore && h.facts?.pci
          ? h
          : undefined;
      },
      // ~3 s on a quiet machine (agent start, first probes, a fold tick); well within one default
      // beacon period (30 s) even on a loaded 2-core CI runner.
      10_000,
    );
    assert.ok(host.facts.cpus >= 1);
    assert.deepEqual(host.facts.runtimes, ['mock']);
    assert.ok(Array.isArray(host.facts.numa) && host.facts.numa.length >= 1, 'NUMA nodes from sysfs');
    assert.ok(host.facts.pci.length > 0, 'PCI devices from /sys/bus/pci');
    assert.ok(Array.isArray(host.facts.hugepages));
    assert.equal(host.template.TOTALCPU, String(host.facts.cpus * 100));
    assert.ok(host.template.MODELNAME !== undefined);
    const u = host.monitoring.usage;
    assert.equal(u.totalCpu, host.facts.cpus * 100);
    assert.ok(u.usedCpu >= 0 && u.usedCpu <= u.totalCpu);
    assert.ok(u.usedMemoryKb > 0 && u.totalMemoryKb > u.usedMemoryKb);
    assert.ok(u.numa.length >= 1 && u.numa[0].freeMemoryKb > 0);
    assert.equal(u.custom.TEMPERATURE, '42');
    assert.equal(u.custom.SITE, 'edge lab');
    assert.equal(u.probeErrors[0].probe, '20-broken');
    assert.match(u.probeErrors[0].error, /exit 3: nope/);
    assert.ok(host.monitoring.datastore.totalMb > 0);
  });

  test('host and VM history through the API, with permission checks', async () => {
    const res = await api.post(`/api/v1/templates/${templateId}/instantiate`, { multiple: 2 });
    for (const v of res.body.items) vmIds.push(v.id);
    for (const id of vmIds) {
      await waitFor(`VM ${id} running`, async () => (await api.get(`/api/v1/vms/${id}`)).body.lcm_state === 'RUNNING');
    }
    const vmSeries = await waitFor('VM usage samples', async () => {
      const r = await api.get(`/api/v1/vms/${vmIds[0]}/monitoring`);
      return r.status === 200 && r.body.items.length >= 2 ? r.body : undefined;
    });
    assert.equal(vmSeries.vm_id, vmIds[0]);
    assert.ok(vmSeries.current.memoryKb > 0, 'memory from the runtime stats');
    assert.equal(vmSeries.current.host_id, hostId);
    assert.ok(vmSeries.items.every((s: { ts: number }) => s.ts >= vmSeries.from && s.ts <= vmSeries.to));

    const hs = await api.get(`/api/v1/hosts/${hostId}/monitoring?kind=host`);
    assert.equal(hs.status, 200);
    assert.ok(hs.body.items.length >= 1);
    assert.ok(hs.body.items.every((i: { kind: string }) => i.kind === 'host'));
    const narrow = await api.get(`/api/v1/hosts/${hostId}/monitoring?from=1&to=2`);
    assert.deepEqual(narrow.body.items, []);
    const bad = await api.get(`/api/v1/hosts/${hostId}/monitoring?from=5&to=1`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'E_VALIDATION');

    await api.post('/api/v1/users', { name: 'mon-user', password: 'pw-mon-user-1' });
    const user = await Api.login(server.url, 'mon-user', 'pw-mon-user-1');
    const hidden = (await user.get(`/api/v1/vms/${vmIds[0]}`)).status;
    assert.notEqual(hidden, 200);
    assert.equal(
      (await user.get(`/api/v1/vms/${vmIds[0]}/monitoring`)).status,
      hidden,
      "another user's VM: as hidden as the VM",
    );
    assert.equal((await user.get('/api/v1/vms/999999/monitoring')).status, 404);
    assert.equal((await new Api(server.url).get(`/api/v1/hosts/${hostId}/monitoring`)).status, 401);
  });

  test('the CLI shows capacity and usage: host show, host monitoring, host top, vm show, vm monitoring', async () => {
    const home = mkdtempSync(join(tmpdir(), 'oneedge-cli-home-'));
    const env = {
      ...process.env,
      HOME: home,
      ONEEDGE_URL: server.url,
      ONEEDGE_AUTH: join(server.dataDir, 'oneadmin.auth'),
    };
    const cli = async (...args: string[]) => {
      const r = await run(process.execPath, [BIN, ...args], { env });
      return r.stdout;
    };
    try {
      const show = await cli('host', 'show', String(hostId));
      assert.match(show, /^HOST CAPACITY$/m);
      assert.match(show, /^TOTAL CPU\s+: \d+00 \(\d+ cores/m);
      assert.match(show, /^RUNTIMES\s+: mock$/m);
      assert.match(show, /^MONITORING \(/m);
      assert.match(show, /^USED CPU\s+: \d+ \/ \d+$/m);
      assert.match(show, /^TEMPERATURE\s+: 42$/m);
      assert.match(show, /^PROBE ERROR 20-broken\s*: exit 3: nope$/m);
      assert.match(show, /^SYSTEM DS\s+: .+ free of /m);
      assert.match(show, /^NUMA NODES$/m);
      const hist = await cli('host', 'monitoring', String(hostId), '--from', '-10m');
      assert.match(hist.split('\n')[0] ?? '', /TIME\s+USED_CPU\s+FREE_CPU\s+USED_MEM/);
      assert.ok(hist.trim().split('\n').length >= 2, 'at least one sample row');
      const top = await cli('host', 'top', '-n', '1');
      assert.match(top, /ID\s+NAME\s+STAT\s+VMS\s+CPU\s+MEMORY\s+WILD\s+SEEN/);
      assert.match(top, /mon-1\s+on\s+2\s+\d+\/\d+/);
      const vmShow = await cli('vm', 'show', String(vmIds[0]));
      assert.match(vmShow, /^VIRTUAL MACHINE MONITORING \(/m);
      assert.match(vmShow, /^MEMORY\s+: \d/m);
      const vmHist = await cli('vm', 'monitoring', String(vmIds[0]), '--json');
      assert.ok(JSON.parse(vmHist).items.length >= 1);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('/metrics needs the scrape token or an admin, and shows health and fleet gauges', async () => {
    const anon = await fetch(`${server.url}/metrics`);
    assert.equal(anon.status, 401);
    const user = await Api.login(server.url, 'mon-user', 'pw-mon-user-1');
    const forbidden = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${user.token}` } });
    assert.equal(forbidden.status, 403);
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    assert.equal(wrong.status, 401);
    for (const token of [METRICS_TOKEN, api.token]) {
      const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.match(text, /^oneedge_hosts\{state="MONITORED"\} 1$/m);
      assert.match(text, /^oneedge_vms\{state="ACTIVE",lcm_state="RUNNING"\} 2$/m);
      assert.match(text, /^process_cpu_seconds_total [\d.]+$/m);
      assert.match(text, /^nodejs_eventloop_delay_seconds\{quantile="0.99"\} [\d.e-]+$/m);
      const records = Number(/^oneedge_monitor_records_total (\d+)$/m.exec(text)?.[1]);
      assert.ok(records > 0, 'records ingested');
      assert.match(text, /^oneedge_fleet_cpu\{kind="total"\} [1-9]\d*$/m);
    }
  });

  test("a doctored agent cannot report another host's VMs", async () => {
    const rogue = new LoopbackAgent('mock', ['--probe-periods', PERIODS]);
    try {
      const rogueId = await rogue.join(api, server, 'rogue-1');
      await waitFor('rogue connected', async () => (await api.get(`/api/v1/hosts/${rogueId}`)).body.connected);
      const id = rogue.identity();
      await rogue.kill9();
      await waitFor('rogue disconnected', async () => !(await api.get(`/api/v1/hosts/${rogueId}`)).body.connected);
      const ws = new WebSocket(`wss://127.0.0.1:${server.agentPort}/agent/v1/channel`, {
        headers: { authorization: `Bearer ${id.credential}` },
        ...tlsOptions({ ca: id.caPem }),
      });
      const welcomed = new Promise<void>((resolve) => ws.on('message', () => resolve()));
      await new Promise((r) => ws.once('open', r));
      const facts = {
        hostname: 'rogue',
        arch: 'x64',
        cpus: 1,
        memoryMb: 64,
        agentVersion: 'x',
        runtimes: ['mock'],
        unusable: {},
      };
      ws.send(JSON.stringify({ t: 'hello', protocol: 1, facts, workloads: [] }));
      await welcomed;
      const victim = vmIds[0] as number;
      const now = Date.now();
      const forged: MonitorRecord[] = [
        {
          k: 'vm-usage',
          ts: now,
          vms: [
            {
              vmId: victim,
              cpu: 1,
              memoryKb: 123_456_789,
              netRxBytes: 0,
              netTxBytes: 0,
              diskReadBytes: 0,
              diskWriteBytes: 0,
            },
          ],
        },
        { k: 'vm-state', ts: now, full: false, vms: [{ vmId: victim, state: 'stopped', deployId: `one-${victim}` }] },
      ];
      ws.send(JSON.stringify({ t: 'monitor', z: await encodeMonitorBatch(forged) }));
      const metrics = async () =>
        (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      await waitFor('refusal counted', async () => {
        const n = Number(/^oneedge_monitor_dropped_total\{reason="not_own_vm"\} (\d+)$/m.exec(await metrics())?.[1]);
        return n >= 2;
      });
      // Reports about itself are accepted; one stamped before the newest of its kind is dropped.
      const usage = (mark: string) => ({
        totalCpu: 100,
        usedCpu: 1,
        freeCpu: 99,
        totalMemoryKb: 1000,
        usedMemoryKb: 10,
        freeMemoryKb: 990,
        netRxBytes: 0,
        netTxBytes: 0,
        numa: [],
        custom: { MARK: mark },
        probeErrors: [],
      });
      ws.send(
        JSON.stringify({ t: 'monitor', z: await encodeMonitorBatch([{ k: 'host', ts: now, usage: usage('new') }]) }),
      );
      ws.send(
        JSON.stringify({
          t: 'monitor',
          z: await encodeMonitorBatch([{ k: 'host', ts: now - 5000, usage: usage('old') }]),
        }),
      );
      await waitFor('stale record counted', async () => {
        const n = Number(/^oneedge_monitor_dropped_total\{reason="stale"\} (\d+)$/m.exec(await metrics())?.[1]);
        return n >= 1;
      });
      const rogueHost = await waitFor('own report folded', async () => {
        const h = (await api.get(`/api/v1/hosts/${rogueId}`)).body;
        return h.monitoring?.usage?.custom?.MARK ? h : undefined;
      });
      assert.equal(rogueHost.monitoring.usage.custom.MARK, 'new', 'the older record was dropped');
      ws.close();
      const v = (await api.get(`/api/v1/vms/${victim}`)).body;
      assert.equal(v.lcm_state, 'RUNNING', 'the forged state changed nothing');
      const series = (await api.get(`/api/v1/vms/${victim}/monitoring`)).body;
      assert.ok(
        series.items.every(
          (s: { memoryKb: number; host_id: number }) => s.memoryKb !== 123_456_789 && s.host_id === hostId,
        ),
        'no forged sample stored',
      );
      assert.notEqual(series.current.memoryKb, 123_456_789);
    } finally {
      await rogue.dispose();
    }
    for (const id of vmIds) await api.del(`/api/v1/vms/${id}`);
  });
});
