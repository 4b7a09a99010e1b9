import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';

const run = promisify(execFile);
const skip = netnsSkipReason();

/** Short probe periods (s) so the acceptance runs in seconds; OpenNebula's defaults are 30/600/120/5/180/30. */
const BEACON_S = 1;
const PERIODS = `beacon=${BEACON_S},system=5,host=1,datastore=2,vm-state=0.5,vm-sync=2,vm-usage=1`;
const MISSING_RUNS = 3;

interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
}

/**
 * Issue #4's acceptance on real parts: namespace hosts, real agents with crun,
 * the front-end in the root namespace, short probe periods.
 */
describe('push monitoring with real agents and crun (namespace hosts)', { skip }, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  const agents: TestAgent[] = [];
  let templateId: number;
  const work = mkdtempSync(join(tmpdir(), 'oneedge-mon-'));
  const fenceLog = join(work, 'fence.log');
  const fenceExit = join(work, 'fence.exit');
  const saved = { periods: process.env.ONEEDGE_PROBE_PERIODS, runs: process.env.ONEEDGE_VM_MISSING_RUNS };

  const host = (id: number) => api.get(`/api/v1/hosts/${id}`).then((r) => r.body);
  const vm = (id: number) => api.get<VmView>(`/api/v1/vms/${id}`).then((r) => r.body);
  const waitPhase = (id: number, want: string, ms = 30_000) =>
    waitFor(
      `VM ${id} ${want}`,
      async () => {
        const v = await vm(id);
        return `${v.state}/${v.lcm_state}` === want ? v : undefined;
      },
      ms,
    ).catch(async (err) => {
      const v = await vm(id);
      const log = server.output.filter((l) => /"level":(40|50)|host|VM states/.test(l)).slice(-15);
      throw new Error(`${String(err)}; it is ${v.state}/${v.lcm_state}\n${log.join('\n')}`);
    });
  const agentOf = (hostId: number | null) => agents.find((a) => a.hostId === hostId) as TestAgent;
  const crunRoot = (a: TestAgent) => join(a.stateDir, 'runtime', 'crun');
  const containers = async (a: TestAgent) =>
    JSON.parse((await run('crun', ['--root', crunRoot(a), 'list', '--format', 'json'])).stdout || '[]') as {
      id: string;
      pid: number;
      status: string;
    }[];
  const fenced = () => (existsSync(fenceLog) ? readFileSync(fenceLog, 'utf8').split('\n').filter(Boolean) : []);

  before(async () => {
    process.env.ONEEDGE_PROBE_PERIODS = PERIODS;
    process.env.ONEEDGE_VM_MISSING_RUNS = String(MISSING_RUNS);
    const fence = join(work, 'fence.sh');
    writeFileSync(
      fence,
      `#!/bin/sh\necho "$ONEEDGE_HOST_ID $ONEEDGE_HOST_NAME" >> ${fenceLog}\nexit $(cat ${fenceExit})\n`,
    );
    chmodSync(fence, 0o755);
    writeFileSync(fenceExit, '1');
    server = await new TestServer({
      args: [
        '--heartbeat',
        '1',
        '--action-timeout',
        '120',
        '--monitor-flush-ms',
        '100',
        '--monitor-beacon',
        String(BEACON_S),
        '--host-failure-action',
        'recreate',
        '--host-failure-fence',
        JSON.stringify([fence]),
        '--host-failure-grace',
        '1',
        '--host-failure-fence-timeout',
        '5',
      ],
    }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(3);
    for (const h of lab.hosts) agents.push(new TestAgent(lab, h));
    templateId = (
      await api.post('/api/v1/templates', {
        template: 'NAME = mon\nMEMORY = 32\nCPU = 0.1\nCOMMAND = "while :; do sleep 1; done"',
      })
    ).body.id;
  });
  after(async () => {
    try {
      const vms = (await api.get('/api/v1/vms?limit=0')).body.items as VmView[];
      for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
      await waitFor('all VMs done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 20_000);
    } catch {
      // the lab cleanup below removes leftovers
    }
    await lab?.dispose();
    await server?.dispose();
    rmSync(work, { recursive: true, force: true });
    process.env.ONEEDGE_PROBE_PERIODS = saved.periods;
    process.env.ONEEDGE_VM_MISSING_RUNS = saved.runs;
    if (saved.periods === undefined) delete process.env.ONEEDGE_PROBE_PERIODS;
    if (saved.runs === undefined) delete process.env.ONEEDGE_VM_MISSING_RUNS;
  });

  test('within one beacon of connecting, a new host shows its real capacity, NUMA topology and working runtimes', async () => {
    for (const a of agents) await a.join(api, server);
    for (const a of agents) {
      const connectedAt = await waitFor(
        `host ${a.hostId} connected`,
        async () => ((await host(a.hostId)).connected ? Date.now() : undefined),
        90_000,
      );
      const h = await waitFor(`host ${a.hostId} monitored`, async () => {
        const x = await host(a.hostId);
        return x.state === 'MONITORED' && x.facts?.pci && x.monitoring?.usage && x.monitoring?.datastore
          ? x
          : undefined;
      });
      assert.ok(Date.now() - connectedAt <= BEACON_S * 1000 + 500, 'system, usage and datastore within one beacon');
      assert.ok(h.facts.runtimes.includes('crun'), 'crun works here');
      const sysNodes = readFileSync('/sys/devices/system/node/online', 'utf8').trim();
      assert.ok(h.facts.numa.length >= 1, `NUMA nodes (${sysNodes})`);
      assert.ok(h.facts.numa[0].cores.length >= 1);
      assert.equal(h.monitoring.usage.totalCpu, h.facts.cpus * 100);
      assert.ok(h.facts.pci.some((d: { address: string }) => existsSync(`/sys/bus/pci/devices/${d.address}`)));
      // The agent runs in its namespace: its network counters are its veth's.
      assert.ok(h.monitoring.usage.netRxBytes > 0);
    }
  });

  test('a cut link: ERROR within 3 beacons, VMs UNKNOWN, a failing fence does nothing; restored: MONITORED, RUNNING, no duplicate', async () => {
    const ids: number[] = (
      await api.post(`/api/v1/templates/${templateId}/instantiate`, { multiple: 3 })
    ).body.items.map((v: VmView) => v.id);
    const running: VmView[] = [];
    for (const id of ids) running.push(await waitPhase(id, 'ACTIVE/RUNNING', 60_000));
    const target = running[0] as VmView;
    const a = agentOf(target.host_id);
    const before = (await containers(a)).find((c) => c.id === `one-${target.id}`);
    assert.ok(before, 'the container runs');

    const cutAt = Date.now();
    await lab.setLink(a.host, false);
    await waitFor('host ERROR', async () => (await host(a.hostId)).state === 'ERROR', 15_000);
    const tookMs = Date.now() - cutAt;
    assert.ok(tookMs <= 3 * BEACON_S * 1000 + 1000, `ERROR after ${tookMs} ms`);
    await waitPhase(target.id, 'ACTIVE/UNKNOWN', 5000);
    // The failure hook runs the fence after its grace; it fails, so the VM stays where it is.
    await waitFor('fence ran', async () => fenced().some((l) => l.startsWith(`${a.hostId} `)), 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    const still = await vm(target.id);
    assert.equal(still.lcm_state, 'UNKNOWN');
    assert.equal(still.host_id, a.hostId, 'a failed fence leaves the VM on its host');

    await lab.setLink(a.host, true);
    await waitFor('host MONITORED again', async () => (await host(a.hostId)).state === 'MONITORED', 60_000);
    await waitPhase(target.id, 'ACTIVE/RUNNING', 20_000);
    const after = (await containers(a)).filter((c) => c.id === `one-${target.id}`);
    assert.equal(after.length, 1, 'one container');
    assert.equal(after[0]?.pid, before.pid, 'the same process: nothing was started twice');
  });

  test('a workload that vanishes from the runtime goes POWEROFF only after the configured misses; a killed one at once', async () => {
    const live = ((await api.get('/api/v1/vms?limit=0')).body.items as VmView[]).filter(
      (x) => x.lcm_state === 'RUNNING',
    );
    const [gone, killed] = live as [VmView, VmView];
    // Vanished: the runtime no longer knows the container (its state is removed behind the agent's back).
    const a = agentOf(gone.host_id);
    const pid = (await containers(a)).find((c) => c.id === `one-${gone.id}`)?.pid as number;
    const removedAt = Date.now();
    // (the runtime's state, and the driver's handle file, or crun's driver would call it "stopped")
    rmSync(join(crunRoot(a), `one-${gone.id}`), { recursive: true, force: true });
    rmSync(join(a.stateDir, 'vms', String(gone.id), 'workload', 'handle.json'), { force: true });
    await waitPhase(gone.id, 'POWEROFF/LCM_INIT', 20_000);
    const tookMs = Date.now() - removedAt;
    assert.ok(tookMs >= (MISSING_RUNS - 1) * 500, `not before ${MISSING_RUNS} VM-state runs (${tookMs} ms)`);
    process.kill(pid, 'SIGKILL');
    // Killed: the container is still listed, stopped — seen powered off (a guest shutdown), no miss counting.
    const b = agentOf(killed.host_id);
    const victim = (await containers(b)).find((c) => c.id === `one-${killed.id}`)?.pid as number;
    process.kill(victim, 'SIGKILL');
    await waitPhase(killed.id, 'POWEROFF/LCM_INIT', 10_000);
  });

  test('a container started by hand is listed as wild; one named after a VM of another host as a zombie', async () => {
    const a = agents[1] as TestAgent;
    const other = ((await api.get('/api/v1/vms?limit=0')).body.items as VmView[]).find(
      (x) => x.host_id !== a.hostId && x.host_id !== null,
    ) as VmView;
    const bundle = (name: string) => {
      const dir = join(work, name);
      mkdirSync(join(dir, 'rootfs', 'bin'), { recursive: true });
      copyFileSync('/bin/busybox', join(dir, 'rootfs', 'bin', 'busybox'));
      return dir;
    };
    for (const name of ['one-424242', `one-${other.id}`]) {
      const dir = bundle(name);
      await run('crun', ['spec'], { cwd: dir });
      const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      spec.process.terminal = false;
      spec.process.args = ['/bin/busybox', 'sleep', '600'];
      spec.root.readonly = true;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
      // stdio ignored: a detached container would hold execFile's pipes open for its whole life
      await new Promise<void>((resolve, reject) => {
        const p = spawn('crun', ['--root', crunRoot(a), 'run', '-d', '--bundle', dir, name], { stdio: 'ignore' });
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`crun run ${name}: exit ${code}`))));
      });
    }
    const h = await waitFor(
      'wild and zombie listed',
      async () => {
        const x = await host(a.hostId);
        return x.wilds?.length && x.zombies?.length ? x : undefined;
      },
      10_000,
    );
    assert.deepEqual(h.wilds, [{ deploy_id: 'one-424242', runtime: 'crun' }]);
    assert.deepEqual(h.zombies, [{ deploy_id: `one-${other.id}`, runtime: 'crun', vm_id: other.id }]);
    for (const name of ['one-424242', `one-${other.id}`])
      await run('crun', ['--root', crunRoot(a), 'delete', '-f', name]);
    await waitFor('no more wilds', async () => (await host(a.hostId)).wilds?.length === 0, 10_000);
  });

  test('the failure hook recreates a dead host’s VMs on another host once the fence succeeds', async () => {
    writeFileSync(fenceExit, '0');
    const id = (await api.post(`/api/v1/templates/${templateId}/instantiate`, {})).body.items[0].id as number;
    const v = await waitPhase(id, 'ACTIVE/RUNNING', 60_000);
    // The host it landed on dies.
    const a = agentOf(v.host_id);
    // The agent has seen the workload running in a VM-state run of its own (not just the deploy's
    // result), so the container is up and settled before its host is cut off.
    await waitFor(
      'the agent reports the VM running',
      async () => (await containers(a)).some((c) => c.id === `one-${id}` && c.status === 'running'),
      10_000,
    );
    const fencesBefore = fenced().length;
    await lab.setLink(a.host, false);
    await waitFor('host ERROR', async () => (await host(a.hostId)).state === 'ERROR', 15_000);
    // What the hook acts on: the host's running VMs went UNKNOWN (a VM that is not, it leaves alone).
    await waitFor('VM UNKNOWN', async () => (await vm(id)).lcm_state === 'UNKNOWN', 15_000).catch(async (err) => {
      const log = server.output.filter((l) => l.includes(`"vmId":${id}`) || /"level":(40|50)/.test(l)).slice(-15);
      throw new Error(`${String(err)}; VM ${id}: ${JSON.stringify(await vm(id))}\n${log.join('\n')}`);
    });
    await waitFor(
      'fence ran',
      async () =>
        fenced()
          .slice(fencesBefore)
          .some((l) => l.startsWith(`${a.hostId} `)),
      10_000,
    );
    const moved = await waitFor(
      'VM recreated on another host',
      async () => {
        const x = await vm(id);
        return x.lcm_state === 'RUNNING' && x.host_id !== null && x.host_id !== a.hostId ? x : undefined;
      },
      60_000,
    ).catch(async (err) => {
      const x = await vm(id);
      const log = server.output.filter((l) => /host-failure|fenc|recover|"level":50/.test(l)).slice(-10);
      throw new Error(`${String(err)}; VM is ${x.state}/${x.lcm_state} on ${x.host_id}\n${log.join('\n')}`);
    });
    assert.notEqual(moved.host_id, a.hostId);
    await lab.setLink(a.host, true);
    // The fenced host comes back with its old container: a zombie of a VM that now runs elsewhere.
    const back = await waitFor(
      'zombie on the returning host',
      async () => {
        const x = await host(a.hostId);
        return x.state === 'MONITORED' && x.zombies?.some((z: { vm_id: number }) => z.vm_id === id) ? x : undefined;
      },
      60_000,
    );
    assert.ok(back.zombies.length >= 1);
    assert.equal((await vm(id)).host_id, moved.host_id, 'the zombie report does not move the VM back');
  });
});
