/**
 * Disk and NIC hot-plug on a running QEMU microVM (issues #6 and #7), on
 * real parts: a front-end, two network-namespace hosts with real agents —
 * host 1 runs the microVM in software emulation, host 2 a crun container —
 * and two VXLAN networks between them. The guest (guest kit, busybox ext4
 * root) reports what it sees over HTTP: a loop in its START_SCRIPT copies
 * /proc/mounts, its addresses and what it fetched from the container into
 * its web root, and writes a note onto the hot-plugged disk.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildGuestKit } from '../src/drivers/runtime/qemu/guest-kit.js';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { BIN, TestServer } from './support/server.js';
import { fetchInWorkload, instantiateTemplate, uploadBusyboxExt4, workloadPid } from './support/vms.js';

const run = promisify(execFile);
const skip =
  netnsSkipReason() || (existsSync('/usr/bin/qemu-system-x86_64') ? false : 'qemu-system-x86 is not installed');

type Vector = Record<string, string>;
interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
  template: { NIC?: Vector | Vector[]; DISK?: Vector | Vector[] };
  error?: unknown;
}
const list = (v: Vector | Vector[] | undefined): Vector[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe('disk and NIC hot-plug on a running microVM (QEMU, software emulation)', { skip }, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  let vmHost: TestAgent;
  let ctHost: TestAgent;
  let work: string;
  let netA: number;
  let netB: number;
  let sgId: number;
  let imageId: number;
  let dataId: number;
  let peerPid: number;
  let peerIpB: string;
  let vmId: number;
  let vmIpA: string;

  const vm = (id: number) => api.get<VmView>(`/api/v1/vms/${id}`).then((r) => r.body);
  const settled = (id: number, want = 'ACTIVE/RUNNING', ms = 90_000) =>
    waitFor(
      `VM ${id} ${want}`,
      async () => {
        const v = await vm(id);
        if (v.state === 'ACTIVE' && /FAILURE/.test(v.lcm_state)) throw new Error(JSON.stringify(v));
        return `${v.state}/${v.lcm_state}` === want ? v : undefined;
      },
      ms,
    );
  /** A file of the guest's web root, fetched by the container on host 2 over network A. */
  const guest = async (path: string): Promise<string> =>
    (await fetchInWorkload(peerPid, `http://${vmIpA}/${path}`)) ?? '';
  const hostExec = (argv: string[]) => lab.exec(lab.hosts[0] as never, argv);
  const qemuPid = (): number =>
    Number(readFileSync(join(vmHost.stateDir, 'vms', String(vmId), 'workload', 'qemu.pid'), 'utf8').trim());
  const machineDevices = (): string[] => {
    const spec = JSON.parse(readFileSync(join(vmHost.stateDir, 'vms', String(vmId), 'workload', 'spec.json'), 'utf8'));
    return ((spec.machine?.hotplug ?? []) as { id: string }[]).map((d) => d.id);
  };

  /** The `oneedge` CLI against the test server (the work dir as HOME). */
  const oneedge = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
        env: { ...process.env, HOME: work, ONEEDGE_URL: server.url, ONEEDGE_AUTH: server.authFile },
        timeout: 120_000,
      });
      return { code: 0, out: stdout, err: stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, out: e.stdout ?? '', err: e.stderr ?? '' };
    }
  };
  /** On failure, adds what the guest's console and the host's firewall show (a guest or a network problem?). */
  const diagnosed = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (err) {
      const log = (await api.get(`/api/v1/vms/${vmId}/log`)).body.data as string;
      const diag = [log.slice(-4000), await hostExec(['nft', 'list', 'ruleset']), await guest('addrs')];
      throw new Error(`${String(err)}\n${diag.join('\n----\n')}`);
    }
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'oneedge-microvm-hp-'));
    const kitDir = join(work, 'guest-kit');
    await buildGuestKit({ cacheRoot: kitDir });
    server = await new TestServer({
      args: ['--heartbeat', '1', '--action-timeout', '120', '--guest-kit-dir', kitDir],
    }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(2);
    const [h1, h2] = lab.hosts as [NonNullable<(typeof lab.hosts)[0]>, NonNullable<(typeof lab.hosts)[0]>];
    vmHost = new TestAgent(lab, h1, 'qemu');
    await vmHost.join(api, server);
    ctHost = new TestAgent(lab, h2, 'crun');
    await ctHost.join(api, server);
    await waitFor(
      'hosts with qemu and crun connected',
      async () => {
        const a = (await api.get(`/api/v1/hosts/${vmHost.hostId}`)).body;
        const b = (await api.get(`/api/v1/hosts/${ctHost.hostId}`)).body;
        return a.connected && a.facts?.runtimes.includes('qemu') && b.connected && b.facts?.address ? a : undefined;
      },
      120_000,
    );
    const sg = await api.post('/api/v1/secgroups', {
      template:
        'NAME = web\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = 80 ]\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = 8080 ]',
    });
    assert.equal(sg.status, 201, JSON.stringify(sg.body));
    sgId = sg.body.id;
    for (const [name, prefix] of [
      ['hp-a', '192.168.70'],
      ['hp-b', '192.168.71'],
    ] as const) {
      const net = await api.post('/api/v1/vnets', {
        template: `NAME = ${name}\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = ${prefix}.10, SIZE = 20 ]`,
      });
      assert.equal(net.status, 201, JSON.stringify(net.body));
      if (name === 'hp-a') netA = net.body.id;
      else netB = net.body.id;
    }
    imageId = await uploadBusyboxExt4(api, server.url, work, 'hp-os');
    const data = await api.post('/api/v1/images', {
      name: 'hp-vm-data',
      template: 'TYPE = DATABLOCK\nSIZE = 8\nFS = ext4\nPERSISTENT = YES',
    });
    assert.equal(data.status, 201, JSON.stringify(data.body));
    dataId = data.body.id;
    await waitFor('datablock ready', async () => (await api.get(`/api/v1/images/${dataId}`)).body.state === 'READY');
    // The peer: a container on host 2 on both networks, serving HTTP on 8080.
    const peer = await instantiateTemplate(
      api,
      `NAME = hp-peer
MEMORY = 32
CPU = 0.1
SCHED_REQUIREMENTS = "ID = ${ctHost.hostId}"
NIC = [ NETWORK_ID = ${netA}, SECURITY_GROUPS = ${sgId} ]
NIC = [ NETWORK_ID = ${netB}, SECURITY_GROUPS = ${sgId} ]
CONTEXT = [ NETWORK = YES, START_SCRIPT = "#!/bin/sh
echo peer-ok > /tmp/index.html
httpd -p 8080 -h /tmp
while :; do sleep 1; done" ]`,
    );
    const p = await settled(peer, 'ACTIVE/RUNNING', 60_000);
    peerIpB = list(p.template.NIC)[1]?.IP as string;
    peerPid = workloadPid([vmHost, ctHost], p);
  });

  after(async () => {
    if (process.env.ONEEDGE_TEST_DEBUG) process.stderr.write(`${vmHost?.log()}\n`);
    await lab?.dispose();
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the microVM boots with one NIC; the guest reports what it sees over HTTP', async () => {
    const loop = [
      'while :; do',
      'cat /proc/mounts > /www/m.tmp; mv /www/m.tmp /www/mounts;',
      'ip -o -4 addr > /www/a.tmp; mv /www/a.tmp /www/addrs;',
      '[ -d /mnt/vdc/lost+found ] && [ ! -f /mnt/vdc/note ] && echo written-in-guest > /mnt/vdc/note && sync;',
      'cat /mnt/vdc/note > /www/note 2>/dev/null || rm -f /www/note;',
      `timeout 3 wget -q -O /www/p.tmp http://${peerIpB}:8080/ && mv /www/p.tmp /www/peerb || rm -f /www/peerb;`,
      'sleep 0.5; done',
    ].join(' ');
    vmId = await instantiateTemplate(
      api,
      `NAME = hp-vm
RUNTIME = qemu
MEMORY = 128
CPU = 0.25
VCPU = 1
SCHED_REQUIREMENTS = "ID = ${vmHost.hostId}"
DISK = [ IMAGE_ID = ${imageId} ]
NIC = [ NETWORK_ID = ${netA}, SECURITY_GROUPS = ${sgId} ]
CONTEXT = [
  NETWORK = YES,
  START_SCRIPT = "mkdir -p /www; echo hello-$(hostname) > /www/index.html; httpd -p 80 -h /www; (${loop}) &" ]
`,
    );
    const v = await settled(vmId);
    vmIpA = list(v.template.NIC)[0]?.IP as string;
    await waitFor('HTTP from the container over network A', async () => (await guest('')).startsWith('hello-'), 30_000);
  });

  test('a persistent DATABLOCK hot-attached appears in the guest at /mnt/<target>; the guest writes to it', async () => {
    const pid = qemuPid();
    const res = await api.post(`/api/v1/vms/${vmId}/disks`, {
      template: `DISK = [ IMAGE_ID = ${dataId}, TARGET = vdc ]`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.lcm_state, 'HOTPLUG');
    const v = await settled(vmId);
    assert.equal(v.error ?? null, null);
    assert.equal(list(v.template.DISK).at(-1)?.IMAGE_ID, String(dataId));
    assert.equal((await api.get(`/api/v1/images/${dataId}`)).body.state, 'USED_PERS');
    await waitFor('the guest mounted the disk', async () => / \/mnt\/vdc ext4 /.test(await guest('mounts')), 20_000);
    await waitFor('the guest wrote its note', async () => (await guest('note')) === 'written-in-guest', 20_000);
    assert.equal(qemuPid(), pid, 'the same QEMU: plugged live, not restarted');
    assert.deepEqual(machineDevices(), ['disk1']);
  });

  test('a boot-time NIC cannot leave a running microVM: refused by the host, the VM stays RUNNING with the error', async () => {
    const res = await api.del(`/api/v1/vms/${vmId}/nics/0`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const v = await waitFor(
      'the refusal recorded',
      async () => {
        const x = await vm(vmId);
        return x.lcm_state === 'RUNNING' && x.error ? x : undefined;
      },
      60_000,
    );
    assert.match(JSON.stringify(v.error), /E_HOTPLUG_UNSUPPORTED.*virtio-mmio/);
    assert.equal(list(v.template.NIC).length, 1, 'the NIC is still there');
    assert.ok((await guest('')).startsWith('hello-'), 'and still works');
  });

  test('after kill -9 of the agent, the restarted agent still knows the hot-plugged disk and detaches it: the data is copied back', async () => {
    const pid = qemuPid();
    await vmHost.kill9();
    vmHost.start();
    await waitFor(
      'agent reconnected',
      async () => (await api.get(`/api/v1/hosts/${vmHost.hostId}`)).body.connected,
      60_000,
    );
    await waitFor('re-attached', async () => vmHost.log().includes('re-attached to workload'), 60_000);
    assert.equal(qemuPid(), pid);
    const before = (await api.get(`/api/v1/images/${dataId}`)).body;
    const disk = list((await vm(vmId)).template.DISK).find((d) => d.IMAGE_ID === String(dataId)) as Vector;
    const det = await api.del(`/api/v1/vms/${vmId}/disks/${disk.DISK_ID}`);
    assert.equal(det.status, 200, JSON.stringify(det.body));
    const v = await settled(vmId);
    assert.equal(v.error ?? null, null, JSON.stringify(v.error));
    assert.ok(!list(v.template.DISK).some((d) => d.IMAGE_ID === String(dataId)));
    assert.doesNotMatch(await guest('mounts'), /\/mnt\/vdc/, 'gone from the guest');
    const img = (await api.get(`/api/v1/images/${dataId}`)).body;
    assert.equal(img.state, 'READY', 'the image is free again');
    assert.notEqual(img.sha256, before.sha256, 'what the guest wrote was copied back');
    const { stdout } = await run('debugfs', ['-R', 'cat /note', img.source]);
    assert.equal(stdout, 'written-in-guest\n', 'the image holds what the guest wrote');
    assert.deepEqual(machineDevices(), []);
    assert.equal(qemuPid(), pid);
  });

  test('a NIC hot-attached (CLI) on a second VXLAN network: the guest takes its IP from the context and exchanges TCP with the container; detached, traffic stops and the host side is gone', async () => {
    const a = await oneedge([
      'vm',
      'nic-attach',
      String(vmId),
      '--network',
      'hp-b',
      '--secgroups',
      String(sgId),
      '--wait',
    ]);
    assert.equal(a.code, 0, a.err);
    const v = await vm(vmId);
    assert.equal(`${v.state}/${v.lcm_state}`, 'ACTIVE/RUNNING');
    assert.equal(v.error ?? null, null, JSON.stringify(v.error));
    const nic = list(v.template.NIC).find((n) => n.NETWORK_ID === String(netB)) as Vector;
    const tap = `oe${vmId}n${nic.NIC_ID}`;
    assert.match(await hostExec(['ip', '-o', 'link', 'show']), new RegExp(`${tap}[:@]`), 'the tap is plugged');
    assert.match(await hostExec(['nft', 'list', 'ruleset']), new RegExp(tap), 'security groups cover the tap');
    await diagnosed(
      waitFor('the guest has its address on B', async () => (await guest('addrs')).includes(`${nic.IP}/24`), 20_000),
    );
    await diagnosed(
      waitFor(
        'HTTP from the container over network B',
        async () => (await fetchInWorkload(peerPid, `http://${nic.IP}/`))?.startsWith('hello-'),
        30_000,
      ),
    );
    await diagnosed(
      waitFor('the guest fetched from the container over B', async () => (await guest('peerb')) === 'peer-ok', 20_000),
    );

    const det = await oneedge(['vm', 'nic-detach', String(vmId), nic.NIC_ID as string, '--wait']);
    assert.equal(det.code, 0, det.err);
    const after = await settled(vmId);
    assert.equal(after.error ?? null, null, JSON.stringify(after.error));
    assert.equal(list(after.template.NIC).length, 1);
    assert.equal(await fetchInWorkload(peerPid, `http://${nic.IP}/`), null, 'no traffic once detached');
    const links = await hostExec(['ip', '-o', 'link', 'show']);
    assert.doesNotMatch(links, new RegExp(`${tap}[:@]`), 'the tap is gone');
    assert.doesNotMatch(links, new RegExp(`onebr${netB}[:@]`), "network B's bridge left host 1 with its last NIC");
    assert.doesNotMatch(await hostExec(['nft', 'list', 'ruleset']), new RegExp(tap), 'no rules for the tap');
    assert.ok((await guest('')).startsWith('hello-'), 'network A still works');
    const leases = (await api.get(`/api/v1/vnets/${netB}/leases`)).body.items as { vm_id: number }[];
    assert.ok(!leases.some((l) => l.vm_id === vmId), 'the lease is free');
  });

  test('powered off, a NIC and a volatile disk attached meanwhile are plugged at resume, on hot-plug slots', async () => {
    await api.post(`/api/v1/vms/${vmId}/actions/poweroff`);
    await settled(vmId, 'POWEROFF/LCM_INIT');
    const n = await api.post(`/api/v1/vms/${vmId}/nics`, {
      template: `NIC = [ NETWORK_ID = ${netB}, SECURITY_GROUPS = ${sgId} ]`,
    });
    assert.equal(n.status, 200, JSON.stringify(n.body));
    assert.equal(n.body.state, 'POWEROFF', 'a NIC of a powered-off VM is a template change');
    const d = await api.post(`/api/v1/vms/${vmId}/disks`, {
      template: 'DISK = [ TYPE = fs, SIZE = 16, TARGET = vdd ]',
    });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    await settled(vmId, 'POWEROFF/LCM_INIT');
    await api.post(`/api/v1/vms/${vmId}/actions/resume`);
    const v = await settled(vmId);
    const nic = list(v.template.NIC).find((x) => x.NETWORK_ID === String(netB)) as Vector;
    const disk = list(v.template.DISK).find((x) => x.TARGET === 'vdd') as Vector;
    assert.deepEqual(machineDevices().sort(), [`disk${disk.DISK_ID}`, `nic${nic.NIC_ID}`].sort());
    await diagnosed(
      waitFor('the volatile disk mounted at boot', async () => / \/mnt\/vdd ext4 /.test(await guest('mounts')), 20_000),
    );
    await diagnosed(
      waitFor(
        'HTTP from the container over network B',
        async () => (await fetchInWorkload(peerPid, `http://${nic.IP}/`))?.startsWith('hello-'),
        30_000,
      ),
    );
  });

  test('terminate leaves nothing of the VM on the host', async () => {
    const pid = qemuPid();
    await api.post(`/api/v1/vms/${vmId}/actions/terminate-hard`);
    await waitFor(
      'the VM gone from the host',
      async () => !existsSync(join(vmHost.stateDir, 'vms', String(vmId))),
      60_000,
    );
    assert.ok(!existsSync(`/proc/${pid}/cmdline`) || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu'));
    assert.doesNotMatch(await hostExec(['ip', '-o', 'link', 'show']), new RegExp(`oe${vmId}n`), 'no tap');
    assert.doesNotMatch(await hostExec(['nft', 'list', 'tables']), new RegExp(`oneedge_vm${vmId}\\b`));
  });
});
