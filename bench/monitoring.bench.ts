/**
 * Push-monitoring ingest on one front-end: a simulated fleet (bench/support/fleet-sim.ts:
 * real TLS WebSockets with per-host credentials, real frame encoding, 100 VMs per host)
 * in a few processes, at OpenNebula's default probe periods, against a real
 * `oneedge server` (SQLite). Reports frames, records and VM samples ingested per
 * second, the front-end's CPU (from /proc), ingest lag (record stamp → committed
 * row, from /metrics) and the event-loop delay.
 *
 * BENCH_FLEETS=1000,2500,5000,10000  BENCH_WINDOW_S=60  BENCH_SIMS=3  BENCH_VMS=100
 * BENCH_SPEEDUP=1 (divide every period by it to measure peak throughput on a smaller fleet)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PROBE_PERIOD_DEFAULTS_S, type ProbePeriods } from '../src/core/monitoring.js';
import { waitFor } from '../test/support/agents.js';
import { Api } from '../test/support/api.js';
import { TestServer } from '../test/support/server.js';
import { seedFleet } from './support/fleet-seed.js';

const FLEETS = (process.env.BENCH_FLEETS ?? '1000,2500,5000,10000').split(',').map(Number);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 60);
const SIMS = Number(process.env.BENCH_SIMS ?? 3);
const VMS = Number(process.env.BENCH_VMS ?? 100);
const SPEEDUP = Number(process.env.BENCH_SPEEDUP ?? 1);
const RAMP_PER_S = Number(process.env.BENCH_RAMP ?? 400);
const TICK_HZ = 100; // USER_HZ of /proc/<pid>/stat

const periods = Object.fromEntries(
  Object.entries(PROBE_PERIOD_DEFAULTS_S).map(([k, v]) => [k, v / SPEEDUP]),
) as ProbePeriods;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

interface Result {
  hosts: number;
  connected: number;
  framesPerS: number;
  recordsPerS: number;
  vmSamplesPerS: number;
  rowsPerS: number;
  cpuPct: number;
  /** CPU of the simulator processes together (the fleet's own cost on the same machine). */
  simCpuPct: number;
  lagP50: number;
  lagMax: number;
  loopP99: number;
  dropped: number;
}

async function runFleet(hosts: number): Promise<Result> {
  const server = await new TestServer({
    // BENCH_PROFILE=DIR writes a V8 CPU profile of the front-end there.
    ...(process.env.BENCH_PROFILE ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] } : {}),
    args: ['--agent-host', '127.0.0.1', '--heartbeat', '30'],
  }).start();
  const sims: ReturnType<typeof spawn>[] = [];
  try {
    const api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    const seeded = seedFleet(join(server.dataDir, 'one.db'), hosts, VMS);
    const caPem = readFileSync(join(server.dataDir, 'pki', 'ca.crt'), 'utf8');
    const counters = new Map<
      number,
      { connected: number; frames: number; records: number; vmSamples: number; busy?: number; redials?: number }
    >();
    const dialStart = performance.now();
    for (let s = 0; s < SIMS; s++) {
      const slice = seeded.filter((_, i) => i % SIMS === s);
      const job = {
        url: `wss://127.0.0.1:${server.agentPort}`,
        caPem,
        hosts: slice,
        periods,
        rampPerSecond: RAMP_PER_S / SIMS,
      };
      // The job (every host's credential) goes through stdin: a large fleet's is too big for argv.
      const child = spawn(process.execPath, [new URL('./support/fleet-sim.js', import.meta.url).pathname], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      child.stdin?.end(JSON.stringify(job));
      sims.push(child);
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
        try {
          counters.set(s, JSON.parse(l));
        } catch {
          // partial line
        }
      });
    }
    const total = () => [...counters.values()].reduce((a, c) => a + c.connected, 0);
    await waitFor('fleet connected', async () => total() >= hosts, 60_000 + (hosts / RAMP_PER_S) * 3000).catch(
      (err) => {
        throw new Error(
          `${String(err)}: ${JSON.stringify([...counters.values()])}\n${server.output.slice(-5).join('\n')}`,
        );
      },
    );
    const connectMs = Math.max(...[...counters.values()].map((c) => (c as { helloMsMax?: number }).helloMsMax ?? 0));
    const sum = (k: 'busy' | 'redials') => [...counters.values()].reduce((a, c) => a + (c[k] ?? 0), 0);
    const connectS = (performance.now() - dialStart) / 1000;
    console.log(
      `  ${hosts} hosts connected in ${connectS.toFixed(1)} s (ramp ${RAMP_PER_S}/s); slowest hello → welcome ${connectMs} ms; ${sum('busy')} dials told to come back later (503), ${sum('redials')} redials`,
    );
    // Warm-up: one full beacon period with every host reporting, so each kind is in the mix.
    await new Promise((r) => setTimeout(r, Math.min(30, periods.beacon) * 1000 + 5000));
    const scrape = async () =>
      (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${api.token}` } })).text();
    const pid = server.pid as number;
    const m0 = await scrape();
    const c0 = cpuTicks(pid);
    const simTicks = () => sims.reduce((a, c) => a + (c.pid ? cpuTicks(c.pid) : 0), 0);
    const s0 = simTicks();
    const t0 = performance.now();
    const lags: number[] = [];
    let loopP99 = 0;
    const sampler = setInterval(() => {
      void scrape().then((t) => {
        lags.push(metric(t, 'oneedge_monitor_ingest_lag_seconds', '{quantile="last_tick_max"}'));
        loopP99 = Math.max(loopP99, metric(t, 'nodejs_eventloop_delay_seconds', '{quantile="0.99"}'));
      });
    }, 2000);
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    clearInterval(sampler);
    const m1 = await scrape();
    const c1 = cpuTicks(pid);
    const s1 = simTicks();
    const dt = (performance.now() - t0) / 1000;
    const d = (name: string, labels = '') => (metric(m1, name, labels) - metric(m0, name, labels)) / dt;
    lags.sort((a, b) => a - b);
    const vmSamples = (rows: number) => rows; // every VM sample is one row
    return {
      hosts,
      connected: total(),
      framesPerS: d('oneedge_monitor_frames_total'),
      recordsPerS: d('oneedge_monitor_records_total'),
      vmSamplesPerS: vmSamples(d('oneedge_monitor_rows_written_total')),
      rowsPerS: d('oneedge_monitor_rows_written_total'),
      cpuPct: ((c1 - c0) / TICK_HZ / dt) * 100,
      simCpuPct: ((s1 - s0) / TICK_HZ / dt) * 100,
      lagP50: lags[Math.floor(lags.length / 2)] ?? Number.NaN,
      lagMax: lags.at(-1) ?? Number.NaN,
      loopP99,
      dropped:
        metric(m1, 'oneedge_monitor_dropped_total', '{reason="stale"}') +
        metric(m1, 'oneedge_monitor_dropped_total', '{reason="malformed"}') +
        metric(m1, 'oneedge_monitor_dropped_total', '{reason="not_own_vm"}'),
    };
  } finally {
    for (const s of sims) s.kill('SIGTERM');
    if (process.env.BENCH_PROFILE) await server.stop();
    await server.dispose();
  }
}

console.log(
  `monitoring: ${VMS} VMs per host, periods ${JSON.stringify(periods)} s, ${SIMS} simulator processes, ${WINDOW_S} s window`,
);
console.log(
  'hosts   connected  frames/s  records/s  rows/s(VM+host)  front-end CPU  simulators CPU  lag p50  lag max  loop p99  dropped',
);
let largest = 0;
for (const n of FLEETS) {
  const r = await runFleet(n);
  console.log(
    `${String(r.hosts).padStart(6)}  ${String(r.connected).padStart(9)}  ${r.framesPerS.toFixed(0).padStart(8)}  ${r.recordsPerS
      .toFixed(0)
      .padStart(
        9,
      )}  ${r.rowsPerS.toFixed(0).padStart(15)}  ${`${r.cpuPct.toFixed(0)} %`.padStart(13)}  ${`${r.simCpuPct.toFixed(0)} %`.padStart(14)}  ${`${r.lagP50.toFixed(2)} s`.padStart(7)}  ${`${r.lagMax.toFixed(2)} s`.padStart(7)}  ${`${(r.loopP99 * 1000).toFixed(0)} ms`.padStart(8)}  ${String(r.dropped).padStart(7)}`,
  );
  if (r.connected >= n && r.cpuPct <= 100 && r.lagMax < 1) largest = n;
}
console.log(`largest fleet within 1 core and lag < 1 s: ${largest || 'none of those tried'} hosts`);
