/**
 * API benchmark (issue #2): with 20,000 VMs stored, `GET /api/v1/vms/{id}`
 * requests/s and p99 latency under concurrent load from a second process, and
 * the time to list all 20,000 VMs (one call, and paginated).
 * Goals: ≥ 5,000 req/s, p99 < 5 ms, full list < 150 ms. Prints figures only.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Api } from '../test/support/api.js';
import { TestServer } from '../test/support/server.js';

const VMS = Number(process.env.BENCH_VMS ?? 20_000);
const BATCH = 1000;
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

function runLoad(job: object): Promise<{
  requestsPerSecond: number;
  total: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
}> {
  const script = new URL('./support/load.js', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load exited ${code}`))));
  });
}

async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<{ median: number; min: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] ?? 0, min: times[0] ?? 0 };
}

const server = await new TestServer({ env: { ONEEDGE_LOG_LEVEL: 'warn' } }).start();
try {
  const api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  const tpl = await api.post('/api/v1/templates', {
    template: `NAME = bench\nMEMORY = 128\nCPU = 0.5\nDISK = [ TYPE = fs, SIZE = 64 ]\nCONTEXT = [ NETWORK = YES, HOSTNAME = "$NAME" ]\n`,
  });
  const t0 = performance.now();
  for (let made = 0; made < VMS; made += BATCH) {
    const res = await api.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {
      multiple: Math.min(BATCH, VMS - made),
    });
    if (res.status !== 201) throw new Error(`instantiate failed: ${JSON.stringify(res.body)}`);
  }
  const createMs = performance.now() - t0;
  console.log(
    `api: created ${VMS} VMs in ${(createMs / 1000).toFixed(2)} s (${Math.round(VMS / (createMs / 1000))} VMs/s, batches of ${BATCH})`,
  );

  const all = await api.get('/api/v1/vms?limit=0');
  const ids = (all.body.items as { id: number }[]).map((v) => v.id);
  const bytes = JSON.stringify(all.body).length;

  // warm-up, then measure
  await runLoad({
    url: server.url,
    token: api.token,
    path: '/api/v1/vms/{id}',
    ids,
    connections: CONNECTIONS,
    durationSeconds: 2,
  });
  const load = await runLoad({
    url: server.url,
    token: api.token,
    path: '/api/v1/vms/{id}',
    ids,
    connections: CONNECTIONS,
    durationSeconds: LOAD_SECONDS,
  });
  console.log(
    `api: GET /api/v1/vms/{id}, ${CONNECTIONS} connections, ${LOAD_SECONDS} s: ${Math.round(load.requestsPerSecond)} req/s ` +
      `(goal 5,000: ratio ${(load.requestsPerSecond / 5000).toFixed(2)}); latency p50 ${load.latency.p50} ms, p90 ${load.latency.p90} ms, ` +
      `p99 ${load.latency.p99} ms (goal < 5 ms), max ${load.latency.max} ms; errors ${load.errors}, non-2xx ${load.non2xx}`,
  );
  console.log(
    `api: vs OpenNebula's published 60 ms per vm.info: ${(60 / Math.max(load.latency.p50, 0.01)).toFixed(0)}x faster at p50`,
  );

  const one = await timeIt(7, () =>
    fetch(`${server.url}/api/v1/vms?limit=0`, { headers: { authorization: `Bearer ${api.token}` } }).then((r) =>
      r.arrayBuffer(),
    ),
  );
  console.log(
    `api: list all ${ids.length} VMs in one call (${(bytes / 1e6).toFixed(1)} MB JSON): median ${one.median.toFixed(1)} ms, min ${one.min.toFixed(1)} ms (goal < 150 ms; OpenNebula's VM pool: 2.4 s)`,
  );
  const paged = await timeIt(5, async () => {
    let after = -1;
    for (;;) {
      const page = await api.get(`/api/v1/vms?limit=500&after=${after}`);
      if (page.body.next === null) break;
      after = page.body.next;
    }
  });
  console.log(
    `api: list all ${ids.length} VMs in pages of 500: median ${paged.median.toFixed(1)} ms, min ${paged.min.toFixed(1)} ms`,
  );
} finally {
  await server.dispose();
}
