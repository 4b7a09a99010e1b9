import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { BIN, TestServer } from './support/server.js';
import { fetchInWorkload, instantiateTemplate, workloadPid } from './support/vms.js';

const run = promisify(execFile);
const skip = netnsSkipReason();

type Vector = Record<string, string>;
interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
  error: string | null;
  revision: number;
  template: { NIC?: Vector | Vector[]; DISK?: Vector | Vector[] };
}

const list = (v: Vector | Vector[] | undefined): Vector[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * NIC and disk hot-plug on real parts (issues #6 and #7): namespace hosts with
 * real agents and crun containers on a VXLAN overlay; NICs plugged into and
 * out of running containers, datablocks mounted into and out of them.
 */
describe('hot-plug of NICs and disks on running containers', { skip }, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  const agents: TestAgent[] = [];
  let netA: number;
  let netB: number;
  let web: number;
  let home: string;

  const vm = (id: number) => api.get<VmView>(`/api/v1/vms/${id}`).then((r) => r.body);
  const settled = (id: number, lcm = 'RUNNING') =>
    waitFor(
      `VM ${id} ${lcm}`,
      async () => {
        const v = await vm(id);
        if (/FAILURE/.test(v.lcm_state ?? '')) throw new Error(JSON.stringify(v));
        return (v.state === 'ACTIVE' ? v.lcm_state : v.state) === lcm ? v : undefined;
      },
      60_000,
    );
  const create = (text: string) => instantiateTemplate(api, text);
  const pidOf = (v: VmView) => workloadPid(agents, v);
  const fetchFrom = (from: VmView, url: string) => fetchInWorkload(pidOf(from), url);
  const linksIn = async (v: VmView) =>
    (await run('nsenter', [`--net=/proc/${pidOf(v)}/ns/net`, '--', 'ip', '-o', 'addr', 'show'])).stdout;
  const hostLinks = async (i: number) => lab.exec(lab.hosts[i] as never, ['ip', '-o', 'link', 'show']);
  const leases = async (net: number) =>
    (await api.get(`/api/v1/vnets/${net}/leases`)).body.items as { ip: string; vm_id: number; nic_id: number }[];
  const vmTemplate = (name: string, hostId: number, nic: string, extra = '') => `NAME = ${name}
MEMORY = 32
CPU = 0.1
SCHED_REQUIREMENTS = "ID = ${hostId}"
${nic}
${extra}
CONTEXT = [
  NETWORK = YES,
  START_SCRIPT = "#!/bin/sh
echo ok > /tmp/index.html
httpd -p 8080 -h /tmp
while :; do sleep 1; done" ]
`;
  const oneedge = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
        env: { ...process.env, HOME: home, ONEEDGE_URL: server.url, ONEEDGE_AUTH: server.authFile },
        timeout: 120_000,
      });
      return { code: 0, out: stdout, err: stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, out: e.stdout ?? '', err: e.stderr ?? '' };
    }
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'oneedge-hotplug-home-'));
    server = await new TestServer({ args: ['--heartbeat', '1', '--action-timeout', '60'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(2);
    for (const h of lab.hosts) {
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
    const g = await api.post('/api/v1/secgroups', {
      template: 'NAME = web\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = 8080 ]',
    });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    web = g.body.id;
    const a = await api.post('/api/v1/vnets', {
      template: 'NAME = hp-a\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 192.168.60.10, SIZE = 10 ]',
    });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    netA = a.body.id;
    const b = await api.post('/api/v1/vnets', {
      template: 'NAME = hp-b\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 192.168.61.10, SIZE = 10 ]',
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
    if (home) rmSync(home, { recursive: true, force: true });
  });

  let v1: VmView;
  let v2: VmView;

  test('a NIC hot-attached to a running container works across hosts; detaching removes it, its lease and the bridge', async () => {
    const [h1, h2] = agents as [TestAgent, TestAgent];
    v1 = await settled(await create(vmTemplate('hp1', h1.hostId, `NIC = [ NETWORK_ID = ${netA} ]`)));
    v2 = await settled(
      await create(vmTemplate('hp2', h2.hostId, `NIC = [ NETWORK_ID = ${netB}, SECURITY_GROUPS = ${web} ]`)),
    );
    const pid = pidOf(v1);
    const ipB2 = list(v2.template.NIC)[0]?.IP as string;
    assert.doesNotMatch(await hostLinks(0), new RegExp(`onebr${netB}[:@]`), 'host 1 has no bridge of network B yet');

    const res = await api.post(`/api/v1/vms/${v1.id}/nics`, {
      template: `NIC = [ NETWORK = hp-b, IP = 192.168.61.15, SECURITY_GROUPS = ${web} ]`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.lcm_state, 'HOTPLUG_NIC');
    const attached = list(res.body.template.NIC).find((n) => n.NIC_ID === '1');
    assert.equal(attached?.ATTACH, 'YES');
    assert.equal(attached?.IP, '192.168.61.15');
    const after1 = await settled(v1.id);
    const nic1 = list(after1.template.NIC).find((n) => n.NIC_ID === '1') as Vector;
    assert.equal(nic1.ATTACH, undefined, 'ATTACH is cleared once the host is done');
    assert.equal(nic1.MTU, '1450');
    assert.equal(after1.error, null);

    const addrs = await linksIn(after1);
    assert.match(addrs, /eth1\s+inet 192\.168\.61\.15\/24/, 'the interface has its address');
    assert.match(await hostLinks(0), new RegExp(`onebr${netB}[:@]`), 'network B now reaches host 1');
    assert.equal(await waitFor('hp2 -> hp1 over B', () => fetchFrom(v2, 'http://192.168.61.15:8080/'), 20_000), 'ok');
    assert.equal(await waitFor('hp1 -> hp2 over B', () => fetchFrom(after1, `http://${ipB2}:8080/`), 20_000), 'ok');
    assert.equal(pidOf(after1), pid, 'the container was not restarted');
    assert.deepEqual(
      (await leases(netB)).map((l) => [l.ip, l.vm_id, l.nic_id]),
      [
        ['192.168.61.10', v2.id, 0],
        ['192.168.61.15', v1.id, 1],
      ],
    );

    const det = await api.del(`/api/v1/vms/${v1.id}/nics/1`);
    assert.equal(det.status, 200, JSON.stringify(det.body));
    assert.equal(det.body.lcm_state, 'HOTPLUG_NIC');
    const after2 = await settled(v1.id);
    assert.equal(list(after2.template.NIC).length, 1);
    assert.doesNotMatch(await linksIn(after2), /eth1/, 'the interface is gone');
    assert.deepEqual(
      (await leases(netB)).map((l) => l.ip),
      ['192.168.61.10'],
      'the lease is free',
    );
    const left = await hostLinks(0);
    assert.doesNotMatch(left, new RegExp(`onebr${netB}[:@]`), 'host 1 bridge of B removed with its last NIC');
    assert.match(left, new RegExp(`onebr${netA}[:@]`), 'network A stays');
    assert.equal(await fetchFrom(v2, 'http://192.168.61.15:8080/'), null);
    assert.equal(pidOf(after2), pid);
  });

  test('refusals: wrong state, unknown NIC, lease exhaustion, no NIC to extend, unusable driver — nothing changes', async () => {
    const tiny = await api.post('/api/v1/vnets', {
      template: 'NAME = hp-tiny\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 10.98.0.1, SIZE = 1 ]',
    });
    assert.equal(tiny.status, 201);
    const held = await api.post(`/api/v1/vms/${v2.id}/nics`, {
      template: { NIC: { NETWORK_ID: String(tiny.body.id) } },
    });
    assert.equal(held.status, 200, 'the one address goes to VM 2');
    await settled(v2.id);
    const before = await vm(v1.id);
    const exhausted = await api.post(`/api/v1/vms/${v1.id}/nics`, {
      template: `NIC = [ NETWORK_ID = ${tiny.body.id} ]`,
    });
    assert.equal(exhausted.status, 409);
    assert.equal(exhausted.body.error.code, 'E_LEASE_EXHAUSTED');
    const outside = await api.post(`/api/v1/vms/${v1.id}/nics`, {
      template: `NIC = [ NETWORK_ID = ${netB}, IP = 10.0.0.1 ]`,
    });
    assert.equal(outside.body.error.code, 'E_IP_OUT_OF_RANGE');
    const unknown = await api.del(`/api/v1/vms/${v1.id}/nics/7`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'E_NOT_FOUND');
    const bad = await api.post(`/api/v1/vms/${v1.id}/nics`, {
      template: `NIC = [ NETWORK_ID = ${netB}, BRIDGE = br0 ]`,
    });
    assert.equal(bad.body.error.code, 'E_TEMPLATE_INVALID');
    assert.match(bad.body.error.message, /NIC\/BRIDGE/);
    const vlan = await api.post('/api/v1/vnets', {
      template: 'NAME = hp-vlan\nVN_MAD = 802.1Q\nPHYDEV = eth0\nAR = [ TYPE = IP4, IP = 10.97.0.1, SIZE = 4 ]',
    });
    assert.equal(vlan.status, 201, JSON.stringify(vlan.body));
    const offered = (await api.get(`/api/v1/hosts/${agents[0]?.hostId}`)).body.facts.networkDrivers as string[];
    // Our hosts' kernel has no 802.1Q (host-platform.md); a host whose agent offers it would plug the NIC.
    if (!offered.includes('802.1Q')) {
      const r = await api.post(`/api/v1/vms/${v1.id}/nics`, { template: `NIC = [ NETWORK_ID = ${vlan.body.id} ]` });
      assert.equal(r.body.error.code, 'E_NETWORK_DRIVER', 'refused before anything is leased');
      assert.equal((await leases(vlan.body.id)).length, 0);
    }
    const after = await vm(v1.id);
    assert.equal(after.revision, before.revision, 'the VM did not change');
    assert.equal((await leases(netB)).length, 1);

    const hostOnly = await settled(
      await create(`NAME = nonic\nMEMORY = 32\nSCHED_REQUIREMENTS = "ID = ${agents[0]?.hostId}"`),
    );
    const r = await api.post(`/api/v1/vms/${hostOnly.id}/nics`, { template: `NIC = [ NETWORK_ID = ${netB} ]` });
    assert.equal(r.body.error.code, 'E_HOTPLUG_UNSUPPORTED');
    const held2 = await api.post('/api/v1/templates', { template: 'NAME = held\nMEMORY = 32' });
    const hv = await api.post(`/api/v1/templates/${held2.body.id}/instantiate`, { hold: true });
    const pending = await api.post(`/api/v1/vms/${hv.body.items[0].id}/nics`, {
      template: `NIC = [ NETWORK_ID = ${netB} ]`,
    });
    assert.equal(pending.status, 409);
    assert.equal(pending.body.error.code, 'E_VM_ACTION_STATE');
    await api.del(`/api/v1/vms/${hostOnly.id}`);
  });

  test('a persistent datablock hot-attached to a running container keeps what was written after detach', async () => {
    const created = await api.post('/api/v1/images', {
      name: 'hp-data',
      template: 'TYPE = DATABLOCK\nSIZE = 8\nFS = ext4\nPERSISTENT = YES',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const image = await waitFor('datablock ready', async () => {
      const r = (await api.get(`/api/v1/images/${created.body.id}`)).body;
      return r.state === 'READY' ? r : undefined;
    });
    const pid = pidOf(v1);
    const res = await api.post(`/api/v1/vms/${v1.id}/disks`, { template: 'DISK = [ IMAGE = hp-data ]' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.lcm_state, 'HOTPLUG');
    const attached = await settled(v1.id);
    const disk = list(attached.template.DISK).at(-1) as Vector;
    assert.equal(disk.IMAGE_ID, String(image.id));
    assert.equal(disk.TARGET, 'vdb');
    assert.equal((await api.get(`/api/v1/images/${image.id}`)).body.state, 'USED_PERS');
    const inside = `/proc/${pidOf(attached)}/root/mnt/vdb`;
    assert.ok(existsSync(join(inside, 'lost+found')), 'the ext4 filesystem is visible inside at /mnt/vdb');
    // Written by a process inside the container.
    await run('nsenter', ['-t', String(pid), '-m', '--', '/bin/sh', '-c', 'echo kept > /mnt/vdb/note && sync']);
    assert.equal(readFileSync(join(inside, 'note'), 'utf8'), 'kept\n');
    assert.equal(pidOf(attached), pid, 'not restarted');

    const det = await api.del(`/api/v1/vms/${v1.id}/disks/${disk.DISK_ID}`);
    assert.equal(det.status, 200, JSON.stringify(det.body));
    const detached = await settled(v1.id);
    assert.equal(list(detached.template.DISK).length, 0);
    assert.ok(!existsSync(join(inside, 'note')), 'unmounted inside the container');
    const after = (await api.get(`/api/v1/images/${image.id}`)).body;
    assert.equal(after.state, 'READY', 'the image is free again');
    assert.notEqual(after.sha256, image.sha256, 'the changed disk was copied back');
    const { stdout } = await run('debugfs', ['-R', 'cat /note', after.source]);
    assert.equal(stdout, 'kept\n', 'the image holds what the container wrote');

    // Attached again: the data is there.
    await api.post(`/api/v1/vms/${v1.id}/disks`, { template: `DISK = [ IMAGE_ID = ${image.id}, TARGET = vdd ]` });
    await settled(v1.id);
    assert.equal(readFileSync(`/proc/${pid}/root/mnt/vdd/note`, 'utf8'), 'kept\n');
  });

  test('a disk the host cannot mount is rolled back: no disk, image free, VM RUNNING with the error recorded', async () => {
    const work = mkdtempSync(join(tmpdir(), 'oneedge-hp-'));
    try {
      const path = join(work, 'junk.raw');
      writeFileSync(path, Buffer.alloc(1024 * 1024, 7));
      const created = await api.post('/api/v1/images', { name: 'hp-junk', template: 'TYPE = DATABLOCK' });
      const up = await fetch(`${server.url}/api/v1/images/${created.body.id}/content`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/octet-stream' },
        body: readFileSync(path),
      });
      assert.equal(up.status, 200, await up.text());
      const before = list((await vm(v1.id)).template.DISK).length;
      const res = await api.post(`/api/v1/vms/${v1.id}/disks`, {
        template: { DISK: { IMAGE_ID: String(created.body.id) } },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const back = await settled(v1.id);
      assert.equal(list(back.template.DISK).length, before, 'the disk was removed again');
      assert.match(back.error ?? '', /no filesystem the host can mount/);
      assert.equal((await api.get(`/api/v1/images/${created.body.id}`)).body.state, 'READY');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('CLI: nic-attach / nic-detach and disk-attach (volatile) / disk-detach with --wait', async () => {
    const a = await oneedge(['vm', 'nic-attach', String(v1.id), '--network', 'hp-b', '--wait', '--json']);
    assert.equal(a.code, 0, a.err);
    const shown = JSON.parse(a.out) as VmView | VmView[];
    const v = Array.isArray(shown) ? (shown[0] as VmView) : shown;
    assert.equal(v.lcm_state, 'RUNNING');
    const nic = list(v.template.NIC).at(-1) as Vector;
    assert.match(await linksIn(v), new RegExp(`eth${nic.NIC_ID}\\s+inet ${nic.IP?.replaceAll('.', '\\.')}/`));
    const d = await oneedge(['vm', 'nic-detach', String(v1.id), nic.NIC_ID as string, '--wait']);
    assert.equal(d.code, 0, d.err);
    const missing = await oneedge(['vm', 'nic-detach', String(v1.id), '42']);
    assert.equal(missing.code, 5, 'E_NOT_FOUND exit code');
    assert.match(missing.err, /E_NOT_FOUND/);

    const da = await oneedge(['vm', 'disk-attach', String(v1.id), '--size', '16', '--target', 'vdf', '--wait']);
    assert.equal(da.code, 0, da.err);
    const withDisk = await vm(v1.id);
    assert.ok(existsSync(`/proc/${pidOf(withDisk)}/root/mnt/vdf/lost+found`), 'a fresh ext4 volatile disk at /mnt/vdf');
    const vol = list(withDisk.template.DISK).find((x) => x.TARGET === 'vdf') as Vector;
    const dd = await oneedge(['vm', 'disk-detach', String(v1.id), vol.DISK_ID as string, '--wait']);
    assert.equal(dd.code, 0, dd.err);
    assert.ok(!existsSync(`/proc/${pidOf(withDisk)}/root/mnt/vdf/lost+found`));
    const usage = await oneedge(['vm', 'disk-attach', String(v1.id)]);
    assert.equal(usage.code, 2);
    const both = await oneedge(['vm', 'nic-attach', String(v1.id), '--network', 'hp-b', '--template', 'NIC = [ ]']);
    assert.equal(both.code, 2);
    assert.match(both.err, /exactly one of --network/);
  });

  test('a cold migration carries what a container wrote on its persistent disk to the target host', async () => {
    const [h1, h2] = agents as [TestAgent, TestAgent];
    const created = await api.post('/api/v1/images', {
      name: 'hp-move',
      template: 'TYPE = DATABLOCK\nSIZE = 8\nFS = ext4\nPERSISTENT = YES',
    });
    await waitFor(
      'datablock ready',
      async () => (await api.get(`/api/v1/images/${created.body.id}`)).body.state === 'READY',
    );
    const id = await create(
      `NAME = mover\nMEMORY = 32\nSCHED_REQUIREMENTS = "ID = ${h1.hostId}"\nDISK = [ IMAGE_ID = ${created.body.id} ]\n` +
        'CONTEXT = [ START_SCRIPT = "while :; do sleep 1; done" ]',
    );
    const first = await settled(id);
    await run('nsenter', [
      '-t',
      String(pidOf(first)),
      '-m',
      '--',
      '/bin/sh',
      '-c',
      'echo moved > /mnt/vda/note && sync',
    ]);
    const mig = await api.post(`/api/v1/vms/${id}/actions/migrate-poweroff`, { host_id: h2.hostId });
    assert.equal(mig.status, 200, JSON.stringify(mig.body));
    const moved = await waitFor(
      'VM running on host 2',
      async () => {
        const v = await vm(id);
        if (/FAILURE/.test(v.lcm_state ?? '')) throw new Error(JSON.stringify(v));
        return v.lcm_state === 'RUNNING' && v.host_id === h2.hostId ? v : undefined;
      },
      90_000,
    );
    assert.equal(readFileSync(`/proc/${pidOf(moved)}/root/mnt/vda/note`, 'utf8'), 'moved\n', 'written on host 1');
    // Powered off, its disk's newest content is on host 2 only: moving it parked is refused.
    assert.equal((await api.post(`/api/v1/vms/${id}/actions/poweroff`, {})).status, 200);
    await waitFor('mover powered off', async () => (await vm(id)).state === 'POWEROFF', 60_000);
    const parked = await api.post(`/api/v1/vms/${id}/actions/migrate`, { host_id: h1.hostId });
    assert.equal(parked.status, 409, JSON.stringify(parked.body));
    assert.equal(parked.body.error.code, 'E_VM_ACTION_STATE');
    assert.match(parked.body.error.message, /persistent disk image/);
    assert.equal((await vm(id)).host_id, h2.hostId, 'nothing changed');
    await api.del(`/api/v1/vms/${id}`);
    await waitFor('mover done', async () => (await vm(id)).state === 'DONE', 30_000);
  });

  test('powered off: a NIC change edits the template and the next boot wires it', async () => {
    await api.post(`/api/v1/vms/${v1.id}/actions/poweroff-hard`);
    await settled(v1.id, 'POWEROFF');
    const res = await api.post(`/api/v1/vms/${v1.id}/nics`, {
      template: `NIC = [ NETWORK_ID = ${netB}, IP = 192.168.61.18 ]`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.state, 'POWEROFF', 'no host operation');
    assert.ok(
      (await leases(netB)).some((l) => l.ip === '192.168.61.18'),
      'the lease is taken now',
    );
    await api.post(`/api/v1/vms/${v1.id}/actions/resume`);
    const up = await settled(v1.id);
    assert.match(await linksIn(up), /inet 192\.168\.61\.18\/24/, 'wired at boot');
  });
});
