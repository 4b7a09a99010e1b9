/**
 * NIC and disk hot-plug on a running crun container, end to end: one
 * namespace host with a real agent, the front-end's API. Each cycle times
 * from the request to the VM being RUNNING again (the host's work included):
 *   nic-attach (VXLAN network: veth, bridge, tunnel, nftables) and nic-detach
 *   (the network's last NIC on the host: bridge and tunnel removed);
 *   disk-attach of a 16 MB volatile ext4 disk (sparse file, mkfs, loop mount,
 *   visible in the container) and disk-detach (unmount, delete).
 */
import { performance } from 'node:perf_hooks';
import { TestAgent, waitFor } from '../test/support/agents.js';
import { Api } from '../test/support/api.js';
import { NetnsLab } from '../test/support/netns-hosts.js';
import { TestServer } from '../test/support/server.js';

const CYCLES = Number(process.env.BENCH_HOTPLUG_CYCLES ?? 10);

if (process.getuid?.() !== 0) {
  console.log('hotplug: skipped (namespaces and crun need root)');
  process.exit(0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function report(label: string, ms: number[]): void {
  const s = [...ms].sort((a, b) => a - b);
  console.log(
    `${label.padEnd(14)} n=${s.length}  p50 ${percentile(s, 50).toFixed(0)} ms  p90 ${percentile(s, 90).toFixed(0)} ms  max ${(s.at(-1) ?? 0).toFixed(0)} ms`,
  );
}

const server = await new TestServer({ args: ['--heartbeat', '1'] }).start();
const lab = await NetnsLab.create(1);
try {
  const api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  const agent = new TestAgent(lab, lab.hosts[0] as never);
  await agent.join(api, server);
  await waitFor('host connected', async () => (await api.get(`/api/v1/hosts/${agent.hostId}`)).body.facts?.address);
  const mk = async (name: string, size: number) =>
    (
      await api.post('/api/v1/vnets', {
        template: `NAME = ${name}\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 10.${size}.0.10, SIZE = 100 ]`,
      })
    ).body.id as number;
  const base = await mk('bench-base', 171);
  const extra = await mk('bench-extra', 172);
  const t = await api.post('/api/v1/templates', {
    template: `NAME = hp\nMEMORY = 32\nCPU = 0.1\nNIC = [ NETWORK_ID = ${base} ]\nCONTEXT = [ START_SCRIPT = "while :; do sleep 1; done" ]`,
  });
  const id = (await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {})).body.items[0].id as number;
  // Polled every 10 ms (waitFor's 100 ms would blur the figures).
  const running = async () => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const v = (await api.get(`/api/v1/vms/${id}`)).body;
      if (v.state === 'ACTIVE' && v.lcm_state === 'RUNNING') return v;
      if (Date.now() > deadline) throw new Error(`VM ${id} stuck in ${v.lcm_state}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await running();
  const times: Record<string, number[]> = { 'nic-attach': [], 'nic-detach': [], 'disk-attach': [], 'disk-detach': [] };
  const timed = async (label: string, request: () => Promise<{ status: number; body: unknown }>) => {
    const t0 = performance.now();
    const r = await request();
    if (r.status !== 200) throw new Error(`${label}: ${JSON.stringify(r.body)}`);
    const v = await running();
    times[label]?.push(performance.now() - t0);
    if (v.error) throw new Error(`${label}: ${v.error}`);
    return v;
  };
  for (let i = 0; i < CYCLES; i++) {
    const v = await timed('nic-attach', () =>
      api.post(`/api/v1/vms/${id}/nics`, { template: `NIC = [ NETWORK_ID = ${extra} ]` }),
    );
    const nics = Array.isArray(v.template.NIC) ? v.template.NIC : [v.template.NIC];
    await timed('nic-detach', () => api.del(`/api/v1/vms/${id}/nics/${nics.at(-1).NIC_ID}`));
    const d = await timed('disk-attach', () =>
      api.post(`/api/v1/vms/${id}/disks`, { template: 'DISK = [ TYPE = fs, SIZE = 16 ]' }),
    );
    const disks = Array.isArray(d.template.DISK) ? d.template.DISK : [d.template.DISK];
    await timed('disk-detach', () => api.del(`/api/v1/vms/${id}/disks/${disks.at(-1).DISK_ID}`));
  }
  for (const [label, ms] of Object.entries(times)) report(label, ms);
  if (process.env.BENCH_HOTPLUG_TRACE === '1') {
    for (const l of agent.log().split('\n')) if (/plan done|plan failed/.test(l)) console.log(l.slice(0, 300));
  }
  await api.del(`/api/v1/vms/${id}`);
  await waitFor('VM done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 60_000);
} finally {
  await lab.dispose();
  await server.dispose();
}
