import { performance } from 'node:perf_hooks';
import { LoopbackAgent, waitFor } from '../test/support/agents.js';
import { Api } from '../test/support/api.js';
import { TestServer } from '../test/support/server.js';

const N = Number(process.env.BENCH_VMS ?? 100);

if (process.getuid?.() !== 0) {
  console.log('lifecycle: skipped (crun containers need root)');
  process.exit(0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Resolves with the time each VM id reached RUNNING, read from the event stream. */
function watchRunning(url: string, token: string, signal: AbortSignal): Map<number, (t: number) => void> {
  const waiters = new Map<number, (t: number) => void>();
  void (async () => {
    const res = await fetch(`${url}/api/v1/events?kinds=vm`, { headers: { authorization: `Bearer ${token}` }, signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) {
          const e = JSON.parse(data.slice(6)) as { id: number; lcm_state?: string };
          if (e.lcm_state === 'RUNNING') waiters.get(e.id)?.(performance.now());
        }
        i = buf.indexOf('\n\n');
      }
    }
  })();
  return waiters;
}

async function terminateAll(api: Api): Promise<void> {
  const vms = (await api.get('/api/v1/vms?limit=0')).body.items as { id: number }[];
  for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
  await waitFor('VMs terminated', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 120_000);
}

const server = await new TestServer({
  env: { ONEEDGE_LOG_LEVEL: 'warn' },
  args: ['--agent-host', '127.0.0.1'],
}).start();
const agent = new LoopbackAgent('crun', ['--log-level', 'warn']);
const ctrl = new AbortController();
try {
  const api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  const hostId = await agent.join(api, server, 'bench-local');
  try {
    await waitFor('agent connected with crun', async () => {
      const h = (await api.get(`/api/v1/hosts/${hostId}`)).body;
      return h.connected && h.facts?.runtimes?.includes('crun');
    });
    const tpl = await api.post('/api/v1/templates', { template: 'NAME = b\nMEMORY = 16\nCPU = 0.01' });
    const waiters = watchRunning(server.url, api.token as string, ctrl.signal);
    const running = (id: number) => new Promise<number>((resolve) => waiters.set(id, resolve));

    // warm-up: the image download and first unpack are not part of the steady state
    const warm = await api.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {});
    await waitFor(
      'warm-up VM running',
      async () => (await api.get(`/api/v1/vms/${warm.body.items[0].id}`)).body.lcm_state === 'RUNNING',
      60_000,
    );

    const latencies: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const res = await api.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {});
      const id = res.body.items[0].id as number;
      const done = running(id);
      latencies.push((await done) - t0);
    }
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(
      `lifecycle: create → RUNNING, ${N} crun containers one at a time: p50 ${p50.toFixed(0)} ms (goal 250: ratio ${(p50 / 250).toFixed(2)}), p99 ${p99.toFixed(0)} ms (goal 500: ratio ${(p99 / 500).toFixed(2)}), min ${latencies[0]?.toFixed(0)} ms, max ${latencies.at(-1)?.toFixed(0)} ms`,
    );

    // Free the host first: 100 VMs of CPU 0.01 allocate a whole core, and the scheduler honours capacity.
    await terminateAll(api);
    const t0 = performance.now();
    const burst = await api.post(`/api/v1/templates/${tpl.body.id}/instantiate`, { multiple: N });
    const ids = (burst.body.items as { id: number }[]).map((v) => v.id);
    const all = await Promise.all(ids.map((id) => running(id)));
    const total = Math.max(...all) - t0;
    console.log(
      `lifecycle: burst of ${N} in one call: all RUNNING after ${(total / 1000).toFixed(2)} s (${(N / (total / 1000)).toFixed(1)} containers/s); first after ${(Math.min(...all) - t0).toFixed(0)} ms`,
    );
    console.log('lifecycle: references: Firecracker boots in 125 ms; Fly starts a machine in ~300 ms');

    await terminateAll(api);
  } finally {
    await agent.dispose();
  }
} finally {
  ctrl.abort();
  await agent.dispose();
  await server.dispose();
}
