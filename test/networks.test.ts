import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';
import { fetchInWorkload, instantiateTemplate, workloadPid } from './support/vms.js';

const skip = netnsSkipReason();

interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
  template: { NIC?: Record<string, string> | Record<string, string>[] };
}

/** A VM on one host (by id) with one NIC on a network, serving HTTP on 8080. */
let webGroup = 0;
const vmTemplate = (
  name: string,
  hostId: number,
  networkId: number,
  extraNic = `, SECURITY_GROUPS = ${webGroup}`,
) => `NAME = ${name}
MEMORY = 32
CPU = 0.1
SCHED_REQUIREMENTS = "ID = ${hostId}"
NIC = [ NETWORK_ID = ${networkId}${extraNic} ]
CONTEXT = [
  NETWORK = YES,
  START_SCRIPT = "#!/bin/sh
echo ok > /tmp/index.html
httpd -p 8080 -h /tmp
while :; do sleep 1; done" ]
`;

/**
 * Issue #6's acceptance on real parts: namespace hosts with real agents and
 * crun containers; each container in its own network namespace wired to a
 * VXLAN overlay with unicast head-end replication between hosts.
 */
describe('virtual networks across edge hosts', { skip }, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  const agents: TestAgent[] = [];
  let netA: number;
  let netB: number;

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
  const nicOf = (v: VmView) =>
    (Array.isArray(v.template.NIC) ? v.template.NIC[0] : v.template.NIC) as Record<string, string>;
  const pidOf = (v: VmView) => workloadPid(agents, v);
  /** HTTP GET from inside a VM's own network namespace (busybox wget). */
  const fetchFrom = (from: VmView, url: string) => fetchInWorkload(pidOf(from), url);
  const links = async (i: number) => lab.exec(lab.hosts[i] as never, ['ip', '-o', 'link', 'show']);

  before(async () => {
    server = await new TestServer({ args: ['--heartbeat', '1', '--action-timeout', '60'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(3);
    for (const h of lab.hosts.slice(0, 2)) {
      const a = new TestAgent(lab, h);
      agents.push(a);
      await a.join(api, server);
    }
    for (const a of agents) {
      await waitFor(`host ${a.hostId} connected`, async () => {
        const h = (await api.get(`/api/v1/hosts/${a.hostId}`)).body;
        return h.connected && h.facts?.runtimes.includes('crun') && h.facts?.address;
      });
    }
    // Inbound traffic is dropped unless a group allows it (the default group 0 only lets traffic out).
    const web = await api.post('/api/v1/secgroups', {
      template:
        'NAME = web\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = 8080 ]\nRULE = [ PROTOCOL = ICMP, RULE_TYPE = inbound ]',
    });
    assert.equal(web.status, 201, JSON.stringify(web.body));
    webGroup = web.body.id;
    const a = await api.post('/api/v1/vnets', {
      template:
        'NAME = overlay-a\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 192.168.50.10, SIZE = 20 ]\nGATEWAY = 192.168.50.1\nDNS = 192.168.50.2',
    });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    netA = a.body.id;
    // Same subnet, other VNI: only L2 isolation keeps it apart.
    const b = await api.post('/api/v1/vnets', {
      template: 'NAME = overlay-b\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 192.168.50.100, SIZE = 20 ]',
    });
    assert.equal(b.status, 201, JSON.stringify(b.body));
    netB = b.body.id;
  });
  after(async () => {
    try {
      const vms = (await api.get('/api/v1/vms?limit=0')).body.items as VmView[];
      for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
      await waitFor('all VMs done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 30_000);
    } catch {
      // lab.dispose removes whatever is left
    }
    await lab?.dispose();
    await server?.dispose();
  });

  let v1: VmView;
  let v2: VmView;

  test('two containers on different hosts exchange TCP over one VXLAN network; another VXLAN network cannot reach them', async () => {
    const [h1, h2] = agents as [TestAgent, TestAgent];
    v1 = await running(await create(vmTemplate('a1', h1.hostId, netA)));
    v2 = await running(await create(vmTemplate('a2', h2.hostId, netA)));
    const ip1 = nicOf(v1).IP as string;
    const ip2 = nicOf(v2).IP as string;
    assert.equal(ip1, '192.168.50.10');
    assert.equal(nicOf(v1).MAC, '02:00:c0:a8:32:0a', 'MAC = 02:00 + the IPv4 octets');
    assert.equal(nicOf(v1).MTU, '1450');
    const ctx = await lab.exec(h1.host, ['nsenter', '-t', String(pidOf(v1)), '-m', 'cat', '/context/context.sh']);
    assert.match(ctx, /ETH0_IP='192\.168\.50\.10'/);
    assert.match(ctx, /ETH0_GATEWAY='192\.168\.50\.1'/);
    assert.match(ctx, /ETH0_MTU='1450'/);
    assert.equal(await waitFor('a2 -> a1', () => fetchFrom(v2, `http://${ip1}:8080/`), 20_000), 'ok');
    assert.equal(await waitFor('a1 -> a2', () => fetchFrom(v1, `http://${ip2}:8080/`), 20_000), 'ok');
    // Each container has its own namespace, not its host's.
    const hostNs = (await lab.exec(h1.host, ['readlink', '/proc/self/ns/net'])).trim();
    const { readlinkSync } = await import('node:fs');
    assert.notEqual(readlinkSync(`/proc/${pidOf(v1)}/ns/net`), hostNs);

    const b2 = await running(await create(vmTemplate('b2', h2.hostId, netB)));
    assert.equal(await fetchFrom(b2, `http://${ip1}:8080/`), null, 'network B cannot reach network A');
    assert.equal(await fetchFrom(b2, `http://${ip2}:8080/`), null, 'not even on the same host');

    const leases = (await api.get(`/api/v1/vnets/${netA}/leases`)).body.items as { ip: string; vm_id: number }[];
    assert.deepEqual(
      leases.map((l) => [l.ip, l.vm_id]),
      [
        [ip1, v1.id],
        [ip2, v2.id],
      ],
    );
    await api.del(`/api/v1/vms/${b2.id}`);
  });

  test('NETWORK_MODE=auto: the scheduler picks the network, the lease is taken at placement, traffic flows', async () => {
    const h2 = agents[1] as TestAgent;
    const autoNic = (req: string) =>
      `NETWORK_MODE = auto, SCHED_REQUIREMENTS = "${req}", SECURITY_GROUPS = ${webGroup}`;
    const id = await create(
      vmTemplate('auto1', h2.hostId, 0, '').replace(/NIC = \[[^\]]*\]/, `NIC = [ ${autoNic(`ID = ${netA}`)} ]`),
    );
    const auto = await running(id);
    const nic = nicOf(auto);
    assert.equal(nic.NETWORK_ID, String(netA), 'the only network matching the NIC requirements');
    assert.equal(nic.NETWORK_MODE, 'auto');
    assert.match(nic.IP as string, /^192\.168\.50\.\d+$/);
    assert.equal(await waitFor('a1 -> auto1', () => fetchFrom(v1, `http://${nic.IP}:8080/`), 20_000), 'ok');
    const leases = (await api.get(`/api/v1/vnets/${netA}/leases`)).body.items as { ip: string; vm_id: number }[];
    assert.ok(
      leases.some((l) => l.vm_id === id && l.ip === nic.IP),
      'the lease is recorded on the network',
    );

    // No network matches: the VM waits with the reason, and holds no lease.
    const stuck = await create(
      vmTemplate('auto2', h2.hostId, 0, '')
        .replace(/SCHED_REQUIREMENTS = .*\n/, '')
        .replace(/NIC = \[[^\]]*\]/, `NIC = [ ${autoNic('ID = 999')} ]`),
    );
    const waiting = await waitFor('auto2 message', async () => {
      const v = (await api.get(`/api/v1/vms/${stuck}`)).body;
      return v.sched_message ? v : undefined;
    });
    assert.equal(waiting.state, 'PENDING');
    assert.equal(waiting.sched_message, 'no virtual network with a free lease for NIC 0 (NETWORK_MODE=auto)');
    await api.del(`/api/v1/vms/${stuck}`);
    await api.del(`/api/v1/vms/${id}`);
    await waitFor('auto1 done', async () => (await vm(id)).state === 'DONE', 30_000);
    const after = (await api.get(`/api/v1/vnets/${netA}/leases`)).body.items as { vm_id: number }[];
    assert.ok(!after.some((l) => l.vm_id === id), 'terminate freed the lease');
  });

  test('a security group without TCP 8080 blocks it; allowing it takes effect live, without a restart', async () => {
    const g = await api.post('/api/v1/secgroups', {
      template: 'NAME = strict\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = 22 ]',
    });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    assert.deepEqual(g.body.rules, [{ rule_type: 'inbound', protocol: 'TCP', ports: ['22'], addresses: [] }]);
    const h1 = agents[0] as TestAgent;
    const s1 = await running(await create(vmTemplate('s1', h1.hostId, netA, `, SECURITY_GROUPS = ${g.body.id}`)));
    const ip = nicOf(s1).IP as string;
    const pid = pidOf(s1);
    // The NIC works (its own outbound traffic gets replies) but nothing reaches port 8080.
    assert.equal(await waitFor('s1 -> a2', () => fetchFrom(s1, `http://${nicOf(v2).IP}:8080/`), 20_000), 'ok');
    assert.equal(await fetchFrom(v2, `http://${ip}:8080/`), null, 'TCP 8080 dropped');
    const upd = await api.put(`/api/v1/secgroups/${g.body.id}`, {
      template: 'NAME = strict\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = "22,8080" ]',
    });
    assert.equal(upd.status, 200, JSON.stringify(upd.body));
    assert.equal(await waitFor('8080 allowed', () => fetchFrom(v2, `http://${ip}:8080/`), 20_000), 'ok');
    assert.equal(pidOf(s1), pid, 'the workload was not restarted');
    await api.del(`/api/v1/vms/${s1.id}`);
    await waitFor('s1 done', async () => (await vm(s1.id)).state === 'DONE', 30_000);
    const del = await api.del(`/api/v1/secgroups/${g.body.id}`);
    assert.equal(del.status, 204, JSON.stringify(del.body));
  });

  test('a third host joining the network extends the overlay; its last workload leaving removes its bridge and tunnel', async () => {
    const h3 = new TestAgent(lab, lab.hosts[2] as never);
    agents.push(h3);
    await h3.join(api, server);
    await waitFor('host 3 connected', async () => (await api.get(`/api/v1/hosts/${h3.hostId}`)).body.facts?.address);
    const v3 = await running(await create(vmTemplate('a3', h3.hostId, netA)));
    const ip3 = nicOf(v3).IP as string;
    const ip1 = nicOf(v1).IP as string;
    assert.equal(await waitFor('a1 -> a3', () => fetchFrom(v1, `http://${ip3}:8080/`), 20_000), 'ok');
    assert.equal(await waitFor('a3 -> a2', () => fetchFrom(v3, `http://${nicOf(v2).IP}:8080/`), 20_000), 'ok');
    assert.equal(await waitFor('a3 -> a1', () => fetchFrom(v3, `http://${ip1}:8080/`), 20_000), 'ok');
    const vni = (await api.get(`/api/v1/vnets/${netA}`)).body.vlan_id;
    const fdb = await lab.exec(agents[0]?.host as never, ['bridge', 'fdb', 'show', 'dev', `onevx${vni}`]);
    assert.match(fdb, new RegExp(`dst ${lab.hosts[2]?.ip.replaceAll('.', '\\.')}`), 'host 1 floods to host 3');

    assert.match(await links(2), new RegExp(`onebr${netA}`));
    await api.del(`/api/v1/vms/${v3.id}`);
    await waitFor('VM 3 done', async () => (await vm(v3.id)).state === 'DONE', 30_000);
    const left = await links(2);
    assert.doesNotMatch(left, new RegExp(`onebr${netA}[:@]`), 'bridge removed');
    assert.doesNotMatch(left, new RegExp(`onevx${vni}[:@]`), 'tunnel removed');
    const leases = (await api.get(`/api/v1/vnets/${netA}/leases`)).body.items as { ip: string }[];
    assert.ok(!leases.some((l) => l.ip === ip3), 'the lease is free again');
    await waitFor('host 1 stops flooding to host 3', async () => {
      const now = await lab.exec(agents[0]?.host as never, ['bridge', 'fdb', 'show', 'dev', `onevx${vni}`]);
      return !now.includes(`dst ${lab.hosts[2]?.ip} `);
    });
  });

  test('exhaustion, an IP outside every range and a duplicate MAC are refused with codes; nothing is created', async () => {
    const tiny = await api.post('/api/v1/vnets', {
      template: 'NAME = tiny\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 10.99.0.1, SIZE = 1 ]',
    });
    const h1 = agents[0] as TestAgent;
    const t = await api.post('/api/v1/templates', { template: vmTemplate('tiny', h1.hostId, tiny.body.id) });
    const before = (await api.get('/api/v1/vms?limit=0')).body.total;
    const two = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, { multiple: 2 });
    assert.equal(two.status, 409);
    assert.equal(two.body.error.code, 'E_LEASE_EXHAUSTED');
    const out = await api.post('/api/v1/templates', {
      template: vmTemplate('out', h1.hostId, netA, ', IP = 10.1.1.1'),
    });
    const r1 = await api.post(`/api/v1/templates/${out.body.id}/instantiate`, {});
    assert.equal(r1.status, 400);
    assert.equal(r1.body.error.code, 'E_IP_OUT_OF_RANGE');
    const dup = await api.post('/api/v1/templates', {
      template: vmTemplate('dup', h1.hostId, netA, `, MAC = ${nicOf(v1).MAC}`),
    });
    const r2 = await api.post(`/api/v1/templates/${dup.body.id}/instantiate`, {});
    assert.equal(r2.status, 409);
    assert.equal(r2.body.error.code, 'E_MAC_IN_USE');
    assert.equal((await api.get('/api/v1/vms?limit=0')).body.total, before, 'no VM was created');
    assert.equal((await api.get(`/api/v1/vnets/${tiny.body.id}/leases`)).body.items.length, 0, 'no lease was taken');
    assert.doesNotMatch(await links(0), /onebr\d+.*tiny|oe\d+n0.*DOWN/);
  });
});
