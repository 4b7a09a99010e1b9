/**
 * A slice of a simulated edge fleet, run as its own process by
 * bench/monitoring.bench.ts. Each simulated host is a real agent channel: a
 * TLS WebSocket with its own host credential, `hello` with its 100 (mock)
 * workloads, then `monitor` frames encoded exactly as the agent encodes them
 * (src/agent/monitoring/monitor.ts), each probe on its own period with the
 * agent's 200 ms batching. Probes are not executed (10,000 of them would
 * measure this machine's /proc, not the front-end): records carry realistic
 * shapes and sizes — a system record with NUMA and PCI devices, usage, the
 * datastore, VM state (full lists every vm-sync) and per-VM usage.
 *
 * Job: JSON in argv[2]. Prints a JSON line of counters every second.
 */
import WebSocket from 'ws';
import { encodeMonitorBatch } from '../../src/agent/monitoring/monitor.js';
import { ResumingTls, redialDelay, retryAfterMs, tlsOptions } from '../../src/agent/tls.js';
import type { HostFacts } from '../../src/core/agent-protocol.js';
import type { MonitorKind, MonitorRecord, ProbePeriods } from '../../src/core/monitoring.js';

interface Job {
  url: string;
  caPem: string;
  hosts: { id: number; credential: string; vmIds: number[] }[];
  periods: ProbePeriods;
  rampPerSecond: number;
}

const job = JSON.parse(process.argv[2] ?? (await readStdin())) as Job;
const counters = {
  connected: 0,
  frames: 0,
  records: 0,
  vmSamples: 0,
  errors: 0,
  closed: 0,
  helloMsMax: 0,
  openMsMax: 0,
  /** Dials refused with 503 (the front-end shedding load) and redials after any failure. */
  busy: 0,
  redials: 0,
  resumed: 0,
  lastError: '',
};

const PCI = Array.from({ length: 24 }, (_, i) => ({
  address: `0000:00:${i.toString(16).padStart(2, '0')}.0`,
  vendor: '0x8086',
  device: `0x${(0x1000 + i).toString(16)}`,
  class: '0x020000',
  driver: i % 3 === 0 ? 'virtio-pci' : null,
  numaNode: 0,
}));
const NUMA = [
  {
    id: 0,
    cores: Array.from({ length: 8 }, (_, i) => ({ id: i, cpus: [i, i + 8] })),
    memoryKb: 32 * 1024 * 1024,
    freeMemoryKb: 20 * 1024 * 1024,
    hugepages: [{ sizeKb: 2048, total: 512, free: 500 }],
    distance: [10],
  },
];

function facts(id: number): HostFacts {
  return {
    hostname: `sim-${id}`,
    arch: 'x64',
    cpus: 16,
    memoryMb: 32768,
    agentVersion: '0.1.0',
    runtimes: ['mock'],
    unusable: {},
    numa: NUMA,
  };
}

class SimHost {
  private ws: WebSocket | null = null;
  private readonly pending = new Map<MonitorKind, MonitorRecord>();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastFull = 0;
  private readonly tls = new ResumingTls();
  private failures = 0;
  private retryAfter: number | undefined;

  constructor(private readonly h: Job['hosts'][number]) {}

  /** Like the agent's channel: TLS resumption, 503 Retry-After, backoff with jitter on failure. */
  connect(): void {
    const ws = new WebSocket(`${job.url}/agent/v1/channel`, {
      headers: { authorization: `Bearer ${this.h.credential}` },
      ...tlsOptions({ ca: job.caPem }),
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
      createConnection: this.tls.connect as never,
    });
    this.ws = ws;
    const dialled = performance.now();
    let opened = 0;
    let welcomed = false;
    ws.on('open', () => {
      opened = performance.now();
      counters.openMsMax = Math.max(counters.openMsMax, Math.round(opened - dialled));
      ws.send(
        JSON.stringify({
          t: 'hello',
          protocol: 1,
          facts: facts(this.h.id),
          workloads: this.h.vmIds.map((vmId) => ({ vmId, state: 'running' })),
        }),
      );
    });
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { t: string };
      if (m.t === 'welcome') {
        counters.connected++;
        if (this.tls.resumed) counters.resumed++;
        this.failures = 0;
        welcomed = true;
        counters.helloMsMax = Math.max(counters.helloMsMax, Math.round(performance.now() - opened));
        this.start();
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      if (res.statusCode === 503) {
        counters.busy++;
        this.retryAfter = retryAfterMs(res.headers['retry-after']);
      } else counters.errors++;
      ws.terminate();
    });
    ws.on('error', (err) => {
      counters.errors++;
      counters.lastError = err.message;
    });
    ws.on('close', () => {
      counters.closed++;
      for (const t of this.timers.splice(0)) clearInterval(t);
      if (stopping) return;
      if (welcomed) counters.connected--;
      this.failures++;
      counters.redials++;
      setTimeout(() => this.connect(), this.retryAfter ?? redialDelay(this.failures, 1000, 60_000));
      this.retryAfter = undefined;
    });
  }

  private every(periodS: number, make: () => MonitorRecord): void {
    this.keep(make());
    this.timers.push(setInterval(() => this.keep(make()), periodS * 1000));
  }

  private start(): void {
    const p = job.periods;
    const id = this.h.id;
    this.every(p.beacon, () => ({ k: 'beacon', ts: Date.now(), periodMs: p.beacon * 1000 }));
    this.every(p.system, () => ({
      k: 'system',
      ts: Date.now(),
      system: {
        ...facts(id),
        cpuModel: 'Simulated CPU @ 2.1GHz',
        cpuMhz: 2100,
        kernel: '6.1.0-sim',
        hugepages: [{ sizeKb: 2048, total: 512, free: 500 }],
        pci: PCI,
      },
    }));
    this.every(p.host, () => {
      const used = Math.round(Math.random() * 1600);
      return {
        k: 'host',
        ts: Date.now(),
        usage: {
          totalCpu: 1600,
          usedCpu: used,
          freeCpu: 1600 - used,
          totalMemoryKb: 33554432,
          usedMemoryKb: 12000000 + Math.round(Math.random() * 1e6),
          freeMemoryKb: 20000000,
          netRxBytes: Math.round(Math.random() * 1e12),
          netTxBytes: Math.round(Math.random() * 1e12),
          numa: [{ id: 0, freeMemoryKb: 20000000, usedMemoryKb: 13554432, hugepages: [{ sizeKb: 2048, free: 500 }] }],
          custom: { RACK: 'r12' },
          probeErrors: [],
        },
      };
    });
    this.every(p.datastore, () => ({
      k: 'datastore',
      ts: Date.now(),
      datastore: { path: '/var/lib/oneedge-agent', totalMb: 400000, usedMb: 120000, freeMb: 280000 },
    }));
    this.every(p['vm-state'], () => {
      const full = Date.now() - this.lastFull >= p['vm-sync'] * 1000;
      if (full) this.lastFull = Date.now();
      const vms = full
        ? this.h.vmIds.map((vmId) => ({ vmId, state: 'running' as const, deployId: `one-${vmId}` }))
        : [];
      return { k: 'vm-state', ts: Date.now(), full, vms, ...(full ? { foreign: [] } : {}) };
    });
    this.every(p['vm-usage'], () => ({
      k: 'vm-usage',
      ts: Date.now(),
      vms: this.h.vmIds.map((vmId) => ({
        vmId,
        cpu: Math.round(Math.random() * 5000) / 100,
        memoryKb: 40000 + Math.round(Math.random() * 20000),
        netRxBytes: Math.round(Math.random() * 1e9),
        netTxBytes: Math.round(Math.random() * 1e9),
        diskReadBytes: Math.round(Math.random() * 1e9),
        diskWriteBytes: Math.round(Math.random() * 1e9),
      })),
    }));
  }

  private keep(r: MonitorRecord): void {
    // Like the agent: a partial VM-state run without changes sends nothing.
    if (r.k === 'vm-state' && !r.full && r.vms.length === 0) return;
    this.pending.set(r.k, r);
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        void this.flush();
      }, 200);
    }
  }

  private async flush(): Promise<void> {
    const records = [...this.pending.values()];
    this.pending.clear();
    if (records.length === 0 || this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ t: 'monitor', z: await encodeMonitorBatch(records) }));
    counters.frames++;
    counters.records += records.length;
    for (const r of records) if (r.k === 'vm-usage') counters.vmSamples += r.vms.length;
  }
}

const hosts = job.hosts.map((h) => new SimHost(h));
let next = 0;
const ramp = setInterval(() => {
  for (let i = 0; i < Math.max(1, job.rampPerSecond / 20) && next < hosts.length; i++) hosts[next++]?.connect();
  if (next >= hosts.length) clearInterval(ramp);
}, 50);
setInterval(() => process.stdout.write(`${JSON.stringify(counters)}\n`), 1000);
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  process.exit(0);
});

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8') || '{}';
}
