import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';
import { fetchInWorkload, instantiateTemplate, workloadPid } from './support/vms.js';

const run = promisify(execFile);
const skip = netnsSkipReason();

interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
  template: { NIC?: Record<string, string> | Record<string, string>[] };
}

/** A container on one host with one NIC, serving HTTP on 8080 (allowed by its group) and 9090 (not). */
const vmTemplate = (name: string, hostId: number, networkId: number, group: number) => `NAME = ${name}
MEMORY = 32
CPU = 0.1
SCHED_REQUIREMENTS = "ID = ${hostId}"
NIC = [ NETWORK_ID = ${networkId}, SECURITY_GROUPS = ${group} ]
CONTEXT = [
  NETWORK = YES,
  START_SCRIPT = "#!/bin/sh
echo ok > /tmp/index.html
httpd -p 8080 -h /tmp
httpd -p 9090 -h /tmp
while :; do sleep 1; done" ]
`;

/**
 * Issue #6's ovswitch acceptance on real parts: namespace hosts with real
 * agents, each running its own ovsdb-server and ovs-vswitchd (userspace
 * datapath), crun containers as access ports with a VLAN tag, and a trunk
 * (PHYDEV) per host into one Linux bridge that carries the 802.1Q frames.
 */
describe('ovswitch VLAN networks across edge hosts', { skip }, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  let trunk: { bridge: string; rootVeths: string[] };
  const agents: TestAgent[] = [];
  let net10: number;
  let net20: number;
  let group: number;

  const vm = (id: number) => api.get<VmView>(`/api/v1/vms/${id}`).then((r) => r.body);
  const running = (id: number) =>
    waitFor(
      `VM ${id} running`,
      async () => {
        const v = await vm(id);
        if (v.state === 'ACTIVE' && /FAILURE/.test(v.lcm_state)) throw new Error(JSON.stringify(v));
        return v.lcm_state === 'RUNNING' ? v : undefined;
      },
      60_000,
    );
  const create = (text: string) => instantiateTemplate(api, text);
  const terminate = async (id: number) => {
    await api.del(`/api/v1/vms/${id}`);
    await waitFor(`VM ${id} done`, async () => (await vm(id)).state === 'DONE', 30_000);
  };
  const nicOf = (v: VmView) =>
    (Array.isArray(v.template.NIC) ? v.template.NIC[0] : v.template.NIC) as Record<string, string>;
  const pidOf = (v: VmView) => workloadPid(agents, v);
  /** HTTP GET from inside a VM's own network namespace. */
  const fetchFrom = (from: VmView, url: string) => fetchInWorkload(pidOf(from), url);
  const ovsDir = (a: TestAgent) => join(a.stateDir, 'network', 'ovs');
  /** ovs-vsctl against a host agent's own OVS database. */
  const vsctl = async (a: TestAgent, ...args: string[]) =>
    (await run('ovs-vsctl', [`--db=unix:${join(ovsDir(a), 'db.sock')}`, '--timeout=5', ...args])).stdout.trim();
  const ovsPids = (a: TestAgent) =>
    ['ovsdb-server', 'ovs-vswitchd'].map((d) => {
      const f = join(ovsDir(a), `${d}.pid`);
      return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : 0;
    });
  const alive = (pid: number) =>
    pid > 0 && existsSync(`/proc/${pid}`) && !/ [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

  before(async () => {
    server = await new TestServer({ args: ['--heartbeat', '1', '--action-timeout', '60'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(2);
    trunk = await lab.addTrunk('trunk0');
    for (const h of lab.hosts) {
      const a = new TestAgent(lab, h, 'crun', ['--ovs', 'own']);
      agents.push(a);
      await a.join(api, server);
    }
    for (const a of agents) {
      await waitFor(`host ${a.hostId} offers ovswitch`, async () => {
        const h = (await api.get(`/api/v1/hosts/${a.hostId}`)).body;
        return h.connected && h.facts?.runtimes.includes('crun') && h.facts?.networkDrivers?.includes('ovswitch');
      });
    }
    const g = await api.post('/api/v1/secgroups', {
      template:
        'NAME = web\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = 8080 ]\nRULE = [ PROTOCOL = ICMP, RULE_TYPE = inbound ]',
    });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    group = g.body.id;
    // Same subnet on both VLANs: only the tags keep them apart.
    const a = await api.post('/api/v1/vnets', {
      template:
        'NAME = vlan10\nVN_MAD = ovswitch\nVLAN_ID = 10\nPHYDEV = trunk0\nAR = [ TYPE = IP4, IP = 192.168.60.10, SIZE = 20 ]',
    });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    net10 = a.body.id;
    const b = await api.post('/api/v1/vnets', {
      template:
        'NAME = vlan20\nVN_MAD = ovswitch\nVLAN_ID = 20\nPHYDEV = trunk0\nAR = [ TYPE = IP4, IP = 192.168.60.100, SIZE = 20 ]',
    });
    assert.equal(b.status, 201, JSON.stringify(b.body));
    net20 = b.body.id;
  });
  after(async () => {
    try {
      const vms = (await api.get('/api/v1/vms?limit=0')).body.items as VmView[];
      for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
      await waitFor('all VMs done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 30_000);
    } catch {
      // lab.dispose removes whatever is left (it kills every process in the hosts, OVS daemons included)
    }
    await lab?.dispose();
    await server?.dispose();
  });

  let a1: VmView;
  let a2: VmView;

  test('VLAN 10 containers on two hosts exchange TCP over the trunk; VLAN 20 cannot reach them; the firewall holds', async () => {
    const [h1, h2] = agents as [TestAgent, TestAgent];
    a1 = await running(await create(vmTemplate('a1', h1.hostId, net10, group)));
    a2 = await running(await create(vmTemplate('a2', h2.hostId, net10, group)));
    const ip1 = nicOf(a1).IP as string;
    const ip2 = nicOf(a2).IP as string;
    assert.equal(nicOf(a1).VN_MAD, 'ovswitch');
    assert.equal(nicOf(a1).PHYDEV, 'trunk0', 'the NIC carries the network uplink');
    assert.equal(await waitFor('a2 -> a1', () => fetchFrom(a2, `http://${ip1}:8080/`), 20_000), 'ok');
    assert.equal(await waitFor('a1 -> a2', () => fetchFrom(a1, `http://${ip2}:8080/`), 20_000), 'ok');
    assert.equal(await fetchFrom(a1, `http://${ip2}:9090/`), null, 'security group: 9090 is dropped on an OVS port');

    const b2 = await running(await create(vmTemplate('b2', h2.hostId, net20, group)));
    assert.equal(await fetchFrom(b2, `http://${ip1}:8080/`), null, 'VLAN 20 cannot reach VLAN 10 on another host');
    assert.equal(await fetchFrom(b2, `http://${ip2}:8080/`), null, 'not even on the same host');

    // The switch: access ports with the tag, one netdev bridge, the trunk carrying the host's VLANs.
    assert.equal(await vsctl(h2, 'get', 'Bridge', 'oeovs0', 'datapath_type'), 'netdev');
    assert.equal(await vsctl(h1, 'get', 'Port', 'trunk0', 'trunks'), '[10]');
    assert.equal(await vsctl(h2, 'get', 'Port', 'trunk0', 'trunks'), '[10, 20]');
    assert.equal(await vsctl(h2, 'get', 'Port', `oe${b2.id}n0`, 'tag'), '20');
    await terminate(b2.id);
    assert.equal(
      await vsctl(h2, 'get', 'Port', 'trunk0', 'trunks'),
      '[10]',
      'VLAN 20 left the trunk with its last NIC',
    );
    assert.doesNotMatch(await vsctl(h2, 'list-ports', 'oeovs0'), new RegExp(`oe${b2.id}n0`), 'its port is gone');
  });

  test('frames between the hosts carry 802.1Q tag 10 on the trunk', async (t) => {
    const haveTcpdump = await run('tcpdump', ['--version']).then(
      () => true,
      () => false,
    );
    if (!haveTcpdump) return t.skip('tcpdump is not installed (scripts/lib.sh installs it for CI)');
    const cap = spawn('tcpdump', ['-i', trunk.rootVeths[0] as string, '-e', '-n', '-l', '-c', '4', 'vlan'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    cap.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      await waitFor('tcpdump listening', async () => cap.stderr.read()?.toString().includes('listening'), 5000).catch(
        () => undefined,
      );
      await waitFor(
        'tagged frames seen',
        async () => {
          await fetchFrom(a1, `http://${nicOf(a2).IP}:8080/`);
          return /vlan 10/.test(out);
        },
        15_000,
      );
    } finally {
      cap.kill('SIGKILL');
    }
    assert.match(out, /ethertype 802\.1Q .*vlan 10/);
    assert.doesNotMatch(out, /vlan 20/);
  });

  test('a killed agent re-uses its running OVS daemons; the workloads keep their network', async () => {
    const h1 = agents[0] as TestAgent;
    const before = ovsPids(h1);
    assert.ok(before.every(alive), `own daemons run: ${before.join(',')}`);
    await h1.kill9();
    assert.equal(await fetchFrom(a2, `http://${nicOf(a1).IP}:8080/`), 'ok', 'traffic flows while the agent is away');
    h1.start();
    await waitFor('agent 1 back', async () => (await api.get(`/api/v1/hosts/${h1.hostId}`)).body.connected);
    assert.deepEqual(ovsPids(h1), before, 'the same daemons');
    const a3 = await running(await create(vmTemplate('a3', h1.hostId, net10, group)));
    assert.equal(await waitFor('a2 -> a3', () => fetchFrom(a2, `http://${nicOf(a3).IP}:8080/`), 20_000), 'ok');
    await terminate(a3.id);
  });

  test("the host's last NIC leaving removes its ports and bridge; a stopping agent stops its unused daemons", async () => {
    const h1 = agents[0] as TestAgent;
    await terminate(a1.id);
    assert.equal(
      await run('ovs-vsctl', [`--db=unix:${join(ovsDir(h1), 'db.sock')}`, 'br-exists', 'oeovs0']).then(
        () => 'exists',
        (err: { code?: number }) => err.code,
      ),
      2,
      'bridge deleted',
    );
    assert.doesNotMatch(await lab.exec(h1.host, ['ip', '-o', 'link', 'show']), /oeovs0|oe\d+n0/, 'no host-side ports');
    const pids = ovsPids(h1);
    const child = h1.child;
    assert.ok(child);
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    await waitFor('daemons stopped', async () => !pids.some(alive), 10_000);
    // Host 2 still carries a2: its switch stays.
    assert.match(await vsctl(agents[1] as TestAgent, 'list-ports', 'oeovs0'), new RegExp(`oe${a2.id}n0`));
  });
});
