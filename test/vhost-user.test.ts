/**
 * vhost-user microVM NICs on the Open vSwitch DPDK datapath (issue #6's last
 * ovswitch gap, issue #8's NICs), on real parts: namespace hosts with real
 * agents, each running its own ovsdb-server and the DPDK build of
 * ovs-vswitchd (openvswitch-switch-dpdk, 2 MB hugepages), QEMU TCG microVMs
 * whose NICs are `-netdev vhost-user` sockets with shared guest memory, and a
 * trunk (PHYDEV) per host into one Linux bridge carrying the 802.1Q frames.
 * A third host runs with `--ovs-dpdk off`: it reports the capability missing
 * and the scheduler does not place vhost-user NICs there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { hugepages, vhostUserPrerequisites } from '../src/drivers/network/vhost-user.js';
import { buildGuestKit } from '../src/drivers/runtime/qemu/guest-kit.js';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';
import { instantiateTemplate } from './support/vms.js';

const run = promisify(execFile);

/** Two DPDK switches at once: the probe's need (80 pages) each. */
const PAGES_NEEDED = 160;

async function skipReason(): Promise<string | false> {
  const ns = netnsSkipReason();
  if (ns) return ns;
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86 is not installed';
  const pre = await vhostUserPrerequisites();
  const pages = await hugepages();
  const why = !pre.usable
    ? pre.reason
    : (pages?.free ?? 0) < PAGES_NEEDED
      ? `${pages?.free ?? 0} free 2 MB hugepages, this test needs ${PAGES_NEEDED} (two DPDK switches)`
      : undefined;
  if (!why) return false;
  // CI installs openvswitch-switch-dpdk and reserves hugepages (.ci/run): there the test must run.
  if (process.env.CI === 'true') throw new Error(`vhost-user test cannot run in CI: ${why}`);
  return why;
}

interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
  sched_message?: string;
  template: { NIC?: Record<string, string> | Record<string, string>[] };
}

/**
 * A microVM with one NIC that serves HTTP on 80 and keeps fetching a peer's
 * page, printing what it got on its console (the test reads the console log).
 */
const vmTemplate = (name: string, hostId: number, networkId: number, peer = '') => `NAME = ${name}
RUNTIME = qemu
MEMORY = 128
CPU = 0.25
VCPU = 1
SCHED_REQUIREMENTS = "ID = ${hostId}"
NIC = [ NETWORK_ID = ${networkId} ]
CONTEXT = [
  NETWORK = YES,
  SET_HOSTNAME = "$NAME",
  START_SCRIPT = "mkdir -p /www; echo hello-$(hostname) > /www/index.html; httpd -p 80 -h /www; ${
    peer ? `(while :; do echo PEER[$(wget -q -O - http://${peer}/ 2>&1)] > /dev/console; sleep 1; done) &` : ''
  }" ]
`;

describe('vhost-user microVM NICs on the OVS DPDK datapath', async () => {
  const skip = await skipReason();
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  const agents: TestAgent[] = [];
  let net10: number;
  let net20: number;
  let freeBefore = 0;
  let kitDir = '';

  const vm = (id: number) => api.get<VmView>(`/api/v1/vms/${id}`).then((r) => r.body);
  const running = (id: number) =>
    waitFor(
      `VM ${id} running`,
      async () => {
        const v = await vm(id);
        if (v.state === 'ACTIVE' && /FAILURE/.test(v.lcm_state)) throw new Error(JSON.stringify(v));
        return v.lcm_state === 'RUNNING' ? v : undefined;
      },
      150_000,
    );
  const terminate = async (id: number) => {
    await api.del(`/api/v1/vms/${id}`);
    await waitFor(`VM ${id} done`, async () => (await vm(id)).state === 'DONE', 60_000);
  };
  const nicOf = (v: VmView) =>
    (Array.isArray(v.template.NIC) ? v.template.NIC[0] : v.template.NIC) as Record<string, string>;
  const consoleLog = async (id: number): Promise<string> =>
    ((await api.get(`/api/v1/vms/${id}/log`)).body.data as string | undefined) ?? '';
  const ovsDir = (a: TestAgent) => join(a.stateDir, 'network', 'ovs');
  const vsctl = async (a: TestAgent, ...args: string[]) =>
    (await run('ovs-vsctl', [`--db=unix:${join(ovsDir(a), 'db.sock')}`, '--timeout=5', ...args])).stdout.trim();
  const sockets = (a: TestAgent) => {
    const dir = join(a.stateDir, 'network', 'vhu');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  before(async () => {
    if (skip) return;
    freeBefore = (await hugepages())?.free ?? 0;
    // One guest kit for the three agents (each would otherwise build its own while probing qemu).
    kitDir = mkdtempSync(join(tmpdir(), 'oneedge-vhu-kit-'));
    await buildGuestKit({ cacheRoot: kitDir });
    server = await new TestServer({ args: ['--heartbeat', '1', '--action-timeout', '150'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(3);
    await lab.addTrunk('trunk0');
    for (const h of lab.hosts) {
      const extra = ['--guest-kit-dir', kitDir, '--ovs', 'own', ...(h.index === 3 ? ['--ovs-dpdk', 'off'] : [])];
      const a = new TestAgent(lab, h, 'qemu', extra);
      agents.push(a);
      await a.join(api, server);
    }
    // Three agents probe qemu (a TCG boot each) at once: slow on a loaded 2-core machine.
    await Promise.all(
      agents.map((a) =>
        waitFor(
          `host ${a.hostId} connected with qemu and its vhost-user capability`,
          async () => {
            const h = (await api.get(`/api/v1/hosts/${a.hostId}`)).body;
            return h.connected && h.facts?.runtimes.includes('qemu') && h.facts?.vhostUser !== undefined;
          },
          300_000,
        ),
      ),
    );
    const mk = async (text: string) => {
      const r = await api.post('/api/v1/vnets', { template: text });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id as number;
    };
    // Same subnet on both VLANs: only the tags keep them apart.
    net10 = await mk(
      'NAME = dpdk10\nVN_MAD = ovswitch\nBRIDGE_TYPE = openvswitch_dpdk\nVLAN_ID = 10\nPHYDEV = trunk0\nAR = [ TYPE = IP4, IP = 192.168.70.10, SIZE = 20 ]',
    );
    net20 = await mk(
      'NAME = dpdk20\nVN_MAD = ovswitch\nBRIDGE_TYPE = openvswitch_dpdk\nVLAN_ID = 20\nPHYDEV = trunk0\nAR = [ TYPE = IP4, IP = 192.168.70.100, SIZE = 20 ]',
    );
  });
  after(async () => {
    if (skip) return;
    try {
      const vms = (await api.get('/api/v1/vms?limit=0')).body.items as VmView[];
      for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
      await waitFor('all VMs done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 60_000);
    } catch {
      // lab.dispose kills every process in the hosts (QEMU, OVS daemons) whatever is left
    }
    await lab?.dispose();
    await server?.dispose();
    if (kitDir) rmSync(kitDir, { recursive: true, force: true });
  });

  test('hosts report the capability; the API refuses a wrong BRIDGE_TYPE and security groups on DPDK NICs', {
    skip,
  }, async () => {
    const [h1, h2, h3] = agents as [TestAgent, TestAgent, TestAgent];
    for (const a of [h1, h2]) {
      const h = (await api.get(`/api/v1/hosts/${a.hostId}`)).body;
      assert.equal(h.facts.vhostUser, true, JSON.stringify(h.facts.networkUnusable));
      assert.equal(h.template.VHOST_USER, 'YES');
    }
    const off = (await api.get(`/api/v1/hosts/${h3.hostId}`)).body;
    assert.equal(off.facts.vhostUser, false);
    assert.equal(off.template.VHOST_USER, 'NO');
    assert.match(off.facts.networkUnusable['vhost-user'], /--ovs-dpdk off/);

    const bad = await api.post('/api/v1/vnets', {
      template:
        'NAME = badbt\nVN_MAD = vxlan\nBRIDGE_TYPE = openvswitch_dpdk\nAR = [ TYPE = IP4, IP = 10.1.1.1, SIZE = 2 ]',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'E_TEMPLATE_INVALID');
    assert.match(bad.body.error.message, /BRIDGE_TYPE must be one of linux for VN_MAD vxlan/);
    const sgNet = await api.post('/api/v1/vnets', {
      template:
        'NAME = sgdpdk\nVN_MAD = ovswitch\nBRIDGE_TYPE = openvswitch_dpdk\nSECURITY_GROUPS = 0\nAR = [ TYPE = IP4, IP = 10.1.2.1, SIZE = 2 ]',
    });
    assert.equal(sgNet.status, 409);
    assert.equal(sgNet.body.error.code, 'E_VHOST_USER');
    const t = await api.post('/api/v1/templates', {
      template: `NAME = sgnic\nRUNTIME = qemu\nMEMORY = 128\nNIC = [ NETWORK_ID = ${net10}, SECURITY_GROUPS = 0 ]`,
    });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const inst = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {});
    assert.equal(inst.status, 409, JSON.stringify(inst.body));
    assert.equal(inst.body.error.code, 'E_VHOST_USER');
    assert.match(inst.body.error.message, /NIC\[0\].*SECURITY_GROUPS/);
    const net = (await api.get(`/api/v1/vnets/${net10}`)).body;
    assert.equal(net.used_leases, 0, `the refused VM took no lease: ${JSON.stringify(net)}`);
  });

  test('a vhost-user NIC is not placed on a host without DPDK: it stays PENDING saying why', { skip }, async () => {
    const h3 = agents[2] as TestAgent;
    const id = await instantiateTemplate(api, vmTemplate('nodpdk', h3.hostId, net10));
    const v = await waitFor(
      'SCHED_MESSAGE',
      async () => {
        const x = await vm(id);
        return x.sched_message ? x : undefined;
      },
      30_000,
    );
    assert.equal(v.state, 'PENDING');
    assert.match(
      v.sched_message ?? '',
      new RegExp(`SCHED_REQUIREMENTS.*VHOST_USER.*host ${h3.hostId}: DPDK is disabled \\(--ovs-dpdk off\\)`),
    );
    await terminate(id);
  });

  let a1: VmView;
  let a2: VmView;

  test('two microVMs with vhost-user NICs on VLAN 10 (two DPDK hosts) exchange TCP; VLAN 20 cannot reach them', {
    skip,
  }, async () => {
    const [h1, h2] = agents as [TestAgent, TestAgent];
    // a2 first, so a1's fetch loop can point at it.
    a2 = await running(await instantiateTemplate(api, vmTemplate('a2', h2.hostId, net10)));
    const ip2 = nicOf(a2).IP as string;
    a1 = await running(await instantiateTemplate(api, vmTemplate('a1', h1.hostId, net10, ip2)));
    const ip1 = nicOf(a1).IP as string;
    assert.equal(nicOf(a1).BRIDGE_TYPE, 'openvswitch_dpdk', 'the NIC carries the network datapath');
    await waitFor(
      'a1 fetched a2 over vhost-user',
      async () => (await consoleLog(a1.id)).includes('PEER[hello-a2'),
      60_000,
    ).catch(async (err: unknown) => {
      // What the guests and the switches saw, for the failure report.
      const logs = await Promise.all([consoleLog(a1.id), consoleLog(a2.id)]);
      const ovs = [h1, h2].map((a) => {
        const f = join(ovsDir(a), 'ovs-vswitchd.log');
        return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-40).join('\n') : '';
      });
      const show = await Promise.all([h1, h2].map((a) => vsctl(a, 'show').catch(String)));
      throw new Error(
        `${String(err)}\n--- a1\n${logs[0].slice(-3000)}\n--- a2\n${logs[1].slice(-1500)}\n--- ovs\n${ovs.join('\n---\n')}\n${show.join('\n')}`,
      );
    });

    // The switch side: a dpdkvhostuserclient port with the VLAN tag, connected to QEMU's socket.
    const port1 = `oe${a1.id}n0`;
    assert.equal(await vsctl(h1, 'get', 'Interface', port1, 'type'), 'dpdkvhostuserclient');
    assert.equal(await vsctl(h1, 'get', 'Port', port1, 'tag'), '10');
    assert.equal(await vsctl(h1, 'get', 'Open_vSwitch', '.', 'dpdk_initialized'), 'true');
    assert.match(await vsctl(h1, 'get', 'Interface', port1, 'status'), /mode=client/);
    assert.deepEqual(sockets(h1), [`vm${a1.id}-nic0.sock`]);
    // No kernel link: the NIC is not a tap.
    assert.doesNotMatch(await lab.exec(h1.host, ['ip', '-o', 'link', 'show']), new RegExp(`${port1}[:@]`));

    // VLAN 20 on host 2, same subnet: reaches neither a2 (same host) nor a1 (other host).
    const b2 = await running(await instantiateTemplate(api, vmTemplate('b2', h2.hostId, net20, ip1)));
    await waitFor('b2 tried a few times', async () => (await consoleLog(b2.id)).split('PEER[').length > 4, 60_000);
    assert.doesNotMatch(await consoleLog(b2.id), /PEER\[hello-/, 'VLAN 20 cannot reach VLAN 10');
    assert.equal(await vsctl(h2, 'get', 'Port', `oe${b2.id}n0`, 'tag'), '20');
    await terminate(b2.id);
    assert.doesNotMatch(await vsctl(h2, 'list-ports', 'oeovs0'), new RegExp(`oe${b2.id}n0`), 'its port is gone');
    assert.ok(!sockets(h2).includes(`vm${b2.id}-nic0.sock`), 'its socket is gone');
  });

  test('terminating the VMs leaves no ports, sockets or held hugepages; stopping the agents frees the DPDK memory', {
    skip,
  }, async () => {
    const [h1, h2] = agents as [TestAgent, TestAgent];
    const withSwitches = (await hugepages())?.free ?? 0;
    await terminate(a1.id);
    await terminate(a2.id);
    for (const a of [h1, h2]) {
      const bridges = await vsctl(a, 'list-br');
      assert.equal(bridges, '', `host ${a.hostId}: the bridge went with the last NIC`);
      assert.deepEqual(sockets(a), [], `host ${a.hostId}: no vhost-user sockets left`);
    }
    assert.equal((await hugepages())?.free, withSwitches, 'the VMs held no hugepages (their memory is a shared memfd)');
    for (const a of [h1, h2]) {
      const child = a.child;
      assert.ok(child);
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    await waitFor('DPDK memory released', async () => ((await hugepages())?.free ?? 0) >= freeBefore, 20_000);
  });
});
