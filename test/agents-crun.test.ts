import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { type NetnsHost, NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';

const skip = netnsSkipReason();

/** A template whose VMs each serve HTTP on 9000+VMID and keep a sleep loop running. */
const WEB = `NAME = web
MEMORY = 48
CPU = 0.25
CONTEXT = [
  START_SCRIPT = "#!/bin/sh
echo \\"hello from $NAME\\" > /tmp/index.html
httpd -p $((9000 + $VMID)) -h /tmp
while :; do sleep 1; done" ]
`;

interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
}

/**
 * Issue #3's acceptance on real parts: three network-namespace hosts, a real
 * agent in each, real crun containers, the front-end on the root namespace.
 */
describe('edge hosts with real agents and crun containers', { skip }, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  const agents: TestAgent[] = [];
  let templateId: number;

  const vm = (id: number) => api.get<VmView & Record<string, unknown>>(`/api/v1/vms/${id}`).then((r) => r.body);
  const waitPhase = (id: number, want: string, ms = 30_000) =>
    waitFor(
      `VM ${id} ${want}`,
      async () => {
        const v = await vm(id);
        return `${v.state}/${v.lcm_state}` === want ? v : undefined;
      },
      ms,
    );
  const agentOf = (v: VmView) => agents.find((a) => a.hostId === v.host_id) as TestAgent;
  const pidOf = async (v: VmView): Promise<number> => {
    const reg = JSON.parse(readFileSync(join(agentOf(v).stateDir, 'workloads.json'), 'utf8')) as {
      vmId: number;
      pid: number;
    }[];
    return reg.find((r) => r.vmId === v.id)?.pid as number;
  };
  /** A zombie is dead: it only waits for its (re-)parent to reap it. */
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };

  /** 2 MB hugepages the pinned-VM test reserves from (the agents probe them at start). */
  const HUGEPAGES = '/proc/sys/vm/nr_hugepages';
  let hugepagesBefore = '0';

  before(async () => {
    hugepagesBefore = readFileSync(HUGEPAGES, 'utf8').trim();
    writeFileSync(HUGEPAGES, '32');
    server = await new TestServer({ args: ['--heartbeat', '1', '--action-timeout', '60'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(3);
    for (const h of lab.hosts) {
      const a = new TestAgent(lab, h);
      agents.push(a);
      await a.join(api, server);
    }
    for (const a of agents) {
      await waitFor(`host ${a.hostId} connected`, async () => {
        const h = (await api.get(`/api/v1/hosts/${a.hostId}`)).body;
        return h.connected && h.facts?.runtimes.includes('crun');
      });
    }
    templateId = (await api.post('/api/v1/templates', { template: WEB })).body.id;
  });
  after(async () => {
    // Terminate what is left so the agents tidy up, then remove everything regardless.
    try {
      const vms = (await api.get('/api/v1/vms?limit=0')).body.items as VmView[];
      for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
      await waitFor('all VMs done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 20_000);
    } catch {
      // cleanup below handles leftovers
    }
    await lab?.dispose();
    await server?.dispose();
    writeFileSync(HUGEPAGES, hugepagesBefore);
  });

  test('9 VMs run spread over 3 hosts, in their host namespace, with cgroup limits; HTTP answers across hosts', async () => {
    const res = await api.post(`/api/v1/templates/${templateId}/instantiate`, { multiple: 9 });
    assert.equal(res.status, 201);
    const ids: number[] = res.body.items.map((v: VmView) => v.id);
    const running = [];
    for (const id of ids) running.push(await waitPhase(id, 'ACTIVE/RUNNING', 60_000));
    const perHost = new Map<number, number>();
    for (const v of running) perHost.set(v.host_id as number, (perHost.get(v.host_id as number) ?? 0) + 1);
    assert.deepEqual([...perHost.values()], [3, 3, 3], 'striping puts 3 VMs on each host');

    for (const v of running) {
      const agent = agentOf(v);
      const pid = await pidOf(v);
      assert.ok(alive(pid), `VM ${v.id} has a live process`);
      assert.equal(
        readlinkSync(`/proc/${pid}/ns/net`),
        (await lab.exec(agent.host, ['readlink', '/proc/self/ns/net'])).trim(),
        `VM ${v.id} runs in its host's network namespace ${agent.host.ns}`,
      );
      const cg = `/sys/fs/cgroup/memory${agent.cgroupParent()}/one-${v.id}`;
      assert.equal(Number(readFileSync(`${cg}/memory.limit_in_bytes`, 'utf8')), 48 * 1024 * 1024);
      const quota = Number(
        readFileSync(`/sys/fs/cgroup/cpu${agent.cgroupParent()}/one-${v.id}/cpu.cfs_quota_us`, 'utf8'),
      );
      assert.equal(quota, 100_000, 'VCPU = 1 caps it at one core');
      const shares = Number(readFileSync(`/sys/fs/cgroup/cpu${agent.cgroupParent()}/one-${v.id}/cpu.shares`, 'utf8'));
      assert.equal(shares, 256, 'CPU = 0.25 is its share under contention');
    }
    const target = running[0] as VmView;
    const other = agents.find((a) => a.hostId !== target.host_id) as TestAgent;
    const url = `http://${agentOf(target).host.ip}:${9000 + target.id}/`;
    const consoleLog = (await api.get(`/api/v1/vms/${target.id}/log`)).body.data;
    const body = await waitFor(`HTTP from another host (VM log: ${consoleLog})`, async () =>
      (
        await lab.exec(other.host, [
          process.execPath,
          '-e',
          `fetch('${url}').then(r=>r.text()).then(t=>process.stdout.write(t))`,
        ])
      ).trim(),
    );
    assert.equal(body, `hello from web-${target.id}`);
  });

  test('poweroff, resume, reboot, undeploy/resume and terminate act on the real process', async () => {
    const id = (await api.post(`/api/v1/templates/${templateId}/instantiate`, {})).body.items[0].id as number;
    let v = await waitPhase(id, 'ACTIVE/RUNNING');
    const first = await pidOf(v);
    await api.post(`/api/v1/vms/${id}/actions/poweroff`);
    v = await waitPhase(id, 'POWEROFF/LCM_INIT');
    assert.equal(alive(first), false, 'poweroff stops the process');
    await api.post(`/api/v1/vms/${id}/actions/resume`);
    v = await waitPhase(id, 'ACTIVE/RUNNING');
    const second = await pidOf(v);
    assert.ok(alive(second));
    await api.post(`/api/v1/vms/${id}/actions/reboot`);
    v = await waitFor('new pid after reboot', async () => {
      const now = await vm(id);
      const pid = await pidOf(now);
      return now.lcm_state === 'RUNNING' && pid !== second && alive(pid) ? now : undefined;
    });
    await api.post(`/api/v1/vms/${id}/actions/undeploy`);
    await waitPhase(id, 'UNDEPLOYED/LCM_INIT');
    await api.post(`/api/v1/vms/${id}/actions/resume`);
    v = await waitPhase(id, 'ACTIVE/RUNNING', 40_000);
    const agent = agentOf(v);
    const pid = await pidOf(v);
    await api.del(`/api/v1/vms/${id}`);
    await waitPhase(id, 'DONE/LCM_INIT');
    assert.equal(alive(pid), false, 'no process');
    assert.equal(existsSync(join(agent.stateDir, 'vms', String(id))), false, 'no bundle or work directory');
    assert.ok(
      !readFileSync('/proc/self/mountinfo', 'utf8').includes(join(agent.stateDir, 'vms', String(id))),
      'no mount',
    );
    for (const ctrl of readdirSync('/sys/fs/cgroup')) {
      assert.equal(existsSync(`/sys/fs/cgroup/${ctrl}${agent.cgroupParent()}/one-${id}`), false, `no ${ctrl} cgroup`);
    }
  });

  test('a workload whose command exits powers its VM off', async () => {
    const t = await api.post('/api/v1/templates', {
      template: 'NAME = oneshot\nMEMORY = 16\nCPU = 0.1\nCOMMAND = "echo done; sleep 1"',
    });
    const id = (await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {})).body.items[0].id as number;
    await waitPhase(id, 'POWEROFF/LCM_INIT', 40_000);
    const log = await api.get(`/api/v1/vms/${id}/log`);
    assert.match(log.body.data, /done/);
  });

  test('kill -9 of an agent: workloads keep running, the restarted agent re-attaches with the same PIDs', async () => {
    const agent = agents[0] as TestAgent;
    const mine = ((await api.get(`/api/v1/vms?limit=0&host_id=${agent.hostId}`)).body.items as VmView[]).filter(
      (v) => v.lcm_state === 'RUNNING',
    );
    assert.ok(mine.length > 0);
    const pids = await Promise.all(mine.map((v) => pidOf(v)));
    await agent.kill9();
    await waitFor(
      'host seen disconnected',
      async () => !(await api.get(`/api/v1/hosts/${agent.hostId}`)).body.connected,
    );
    for (const pid of pids) assert.ok(alive(pid), 'workloads survive the agent');
    for (const v of mine) assert.equal((await vm(v.id)).lcm_state, 'RUNNING');
    agent.start();
    await waitFor('host reconnected', async () => (await api.get(`/api/v1/hosts/${agent.hostId}`)).body.connected);
    await new Promise((r) => setTimeout(r, 1500));
    for (const [i, v] of mine.entries()) {
      assert.equal((await vm(v.id)).lcm_state, 'RUNNING');
      assert.equal(await pidOf(await vm(v.id)), pids[i], 're-attached to the same process');
    }
    assert.match(agent.log(), /re-attached to workload/);
  });

  test('actions for a host whose link is cut are delivered when the link returns', async () => {
    const agent = agents[1] as TestAgent;
    const v = ((await api.get(`/api/v1/vms?limit=0&host_id=${agent.hostId}`)).body.items as VmView[]).find(
      (x) => x.lcm_state === 'RUNNING',
    ) as VmView;
    const pid = await pidOf(v);
    await lab.setLink(agent.host, false);
    await waitFor(
      'cut link noticed',
      async () => !(await api.get(`/api/v1/hosts/${agent.hostId}`)).body.connected,
      20_000,
    );
    await api.post(`/api/v1/vms/${v.id}/actions/poweroff`);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await vm(v.id)).lcm_state, 'SHUTDOWN_POWEROFF', 'the action waits for the host');
    assert.ok(alive(pid));
    await lab.setLink(agent.host, true);
    await waitPhase(v.id, 'POWEROFF/LCM_INIT', 60_000);
    assert.equal(alive(pid), false);
  });

  test('cold migration moves a running container to another host and cleans the source; resched lets the scheduler choose', async () => {
    const id = (await api.post(`/api/v1/templates/${templateId}/instantiate`, {})).body.items[0].id as number;
    const v = await waitPhase(id, 'ACTIVE/RUNNING', 40_000);
    const source = agentOf(v);
    const oldPid = await pidOf(v);
    const target = agents.find((a) => a.hostId !== v.host_id) as TestAgent;
    const registered = (a: TestAgent) =>
      (JSON.parse(readFileSync(join(a.stateDir, 'workloads.json'), 'utf8')) as { vmId: number }[]).some(
        (r) => r.vmId === id,
      );
    const runningOn = (hostId: number) => async () => {
      const x = await vm(id);
      return `${x.state}/${x.lcm_state}` === 'ACTIVE/RUNNING' && x.host_id === hostId ? x : undefined;
    };
    const cleaned = (a: TestAgent) => async () => {
      const x = await vm(id);
      return x.cleanup_hosts === undefined && !registered(a) && !existsSync(join(a.stateDir, 'vms', String(id)));
    };
    const serves = (a: TestAgent) =>
      waitFor(`HTTP from VM ${id} on host ${a.hostId}`, async () =>
        (
          await lab.exec(agents.find((o) => o !== a)?.host as NetnsHost, [
            process.execPath,
            '-e',
            `fetch('http://${a.host.ip}:${9000 + id}/').then(r=>r.text()).then(t=>process.stdout.write(t))`,
          ])
        ).includes(`hello from web-${id}`),
      );

    const r = await api.post(`/api/v1/vms/${id}/actions/migrate-poweroff`, { host_id: target.hostId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const moved = await waitFor(`VM ${id} running on host ${target.hostId}`, runningOn(target.hostId), 40_000);
    assert.equal(alive(oldPid), false, 'the source container is gone');
    assert.ok(alive(await pidOf(moved)), 'a container runs on the target');
    await serves(target);
    await waitFor(`host ${source.hostId} cleaned`, cleaned(source));
    assert.deepEqual(
      (moved.history as { host_id: number }[]).map((h) => h.host_id),
      [source.hostId, target.hostId],
    );

    assert.equal((await api.post(`/api/v1/vms/${id}/actions/resched`)).status, 200);
    const resched = await waitFor(
      `VM ${id} rescheduled`,
      async () => {
        const x = await vm(id);
        return `${x.state}/${x.lcm_state}` === 'ACTIVE/RUNNING' && x.host_id !== target.hostId ? x : undefined;
      },
      40_000,
    );
    assert.equal(resched.resched, false, 'the flag clears once moved');
    await serves(agentOf(resched));
    await waitFor(`host ${target.hostId} cleaned`, cleaned(target));
    await api.del(`/api/v1/vms/${id}`);
    await waitPhase(id, 'DONE/LCM_INIT');
  });

  test("a pinned VM's container has exactly the CPUs and memory node the scheduler chose", async () => {
    const agent = agents[2] as TestAgent;
    const marked = await api.put(`/api/v1/hosts/${agent.hostId}`, { template: 'PIN_POLICY = PINNED', append: true });
    assert.equal(marked.status, 200, JSON.stringify(marked.body));
    const t = await api.post('/api/v1/templates', {
      template: 'NAME = pinned\nMEMORY = 32\nCPU = 1\nVCPU = 1\nTOPOLOGY = [ PIN_POLICY = CORE ]',
    });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const id = (await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {})).body.items[0].id as number;
    const v = await waitPhase(id, 'ACTIVE/RUNNING', 40_000);
    assert.equal(v.host_id, agent.hostId, 'pinned VMs go to PIN_POLICY=PINNED hosts');
    const numa = (v as unknown as { numa: { nodes: { cpus: number[]; memory_node_id: number }[] } }).numa;
    assert.equal(numa.nodes.length, 1);
    const cg = `/sys/fs/cgroup/cpuset${agent.cgroupParent()}/one-${id}`;
    const list = (text: string) =>
      text
        .trim()
        .split(',')
        .flatMap((r) => {
          const [a, b] = r.split('-').map(Number) as [number, number | undefined];
          return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
        });
    assert.deepEqual(list(readFileSync(`${cg}/cpuset.cpus`, 'utf8')), [...(numa.nodes[0]?.cpus ?? [])].sort());
    assert.deepEqual(list(readFileSync(`${cg}/cpuset.mems`, 'utf8')), [numa.nodes[0]?.memory_node_id]);
    await api.del(`/api/v1/vms/${id}`);
    const done = await waitPhase(id, 'DONE/LCM_INIT');
    assert.equal((done as unknown as { numa: unknown }).numa, null, 'the placement is released with the host');

    // Hugepages: 16 MB of 2 MB pages become the container's hugetlb limit on the chosen node.
    const ht = await api.post('/api/v1/templates', {
      template: 'NAME = huge\nMEMORY = 16\nCPU = 1\nVCPU = 1\nTOPOLOGY = [ PIN_POLICY = CORE, HUGEPAGE_SIZE = 2 ]',
    });
    assert.equal(ht.status, 201, JSON.stringify(ht.body));
    const hid = (await api.post(`/api/v1/templates/${ht.body.id}/instantiate`, {})).body.items[0].id as number;
    const hv = await waitPhase(hid, 'ACTIVE/RUNNING', 40_000);
    const hnuma = (hv as unknown as { numa: { nodes: { hugepages?: { size_kb: number; pages: number } }[] } }).numa;
    assert.deepEqual(hnuma.nodes[0]?.hugepages, { size_kb: 2048, pages: 8 });
    const limit = readFileSync(
      `/sys/fs/cgroup/hugetlb${agent.cgroupParent()}/one-${hid}/hugetlb.2MB.limit_in_bytes`,
      'utf8',
    );
    assert.equal(Number(limit), 16 * 1024 * 1024);
    await api.del(`/api/v1/vms/${hid}`);
    await waitPhase(hid, 'DONE/LCM_INIT');
  });
});
