/**
 * Issue #8's acceptance on real parts: a front-end, two network-namespace
 * hosts with real agents — host 1 runs QEMU microVMs in software emulation
 * (TCG), host 2 crun containers — and a VXLAN virtual network between them.
 * The microVMs boot the guest kit (registered by the front-end as the
 * `oneedge-kernel`/`oneedge-initrd` KERNEL and RAMDISK images, or the host's
 * own kit) from an uploaded ext4 OS image (a qcow2 overlay per VM), take
 * their IP from the context (ETH0_* of their NIC's lease) and serve HTTP to a
 * container on host 2 through the overlay; security groups filter the taps.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { buildGuestKit } from '../src/drivers/runtime/qemu/guest-kit.js';
import { buildBusyboxRootfsTar } from '../src/market/base-image.js';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';

const run = promisify(execFile);
const skip =
  netnsSkipReason() || (existsSync('/usr/bin/qemu-system-x86_64') ? false : 'qemu-system-x86 is not installed');

/** A microVM on the overlay booting the ext4 image; `os` picks the kernel (default: the host's guest kit). */
function template(name: string, netId: number, imageId: number, sg: number, peerIp: string, extra = ''): string {
  return `NAME = ${name}
RUNTIME = qemu
MEMORY = 128
CPU = 0.25
VCPU = 1
DISK = [ IMAGE_ID = ${imageId} ]
NIC = [ NETWORK_ID = ${netId}, SECURITY_GROUPS = ${sg} ]
GRAPHICS = [ TYPE = VNC ]
${extra}
CONTEXT = [
  NETWORK = YES,
  SET_HOSTNAME = "$NAME",
  START_SCRIPT = "mkdir -p /www /deny; echo hello-$(hostname) > /www/index.html; httpd -p 80 -h /www; echo no > /deny/index.html; httpd -p 81 -h /deny; ls /sys/block > /www/disks; grep -l '^8192$' /sys/block/vd*/size | cut -d/ -f4 | xargs -n1 sh -c 'echo persisted-$(hostname) > /dev/$0'; sync; (while :; do wget -q -O /www/peer.tmp http://${peerIp}:8080/ && mv /www/peer.tmp /www/peer.html; sleep 1; done) &" ]
`;
}

/** Reads RFB bytes from a WebSocket as a stream: next(n) resolves with exactly n bytes. */
function rfbReader(ws: WebSocket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  ws.on('message', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  return async (n) => {
    const deadline = Date.now() + 20_000;
    while (buf.length < n) {
      if (Date.now() > deadline) throw new Error(`RFB: wanted ${n} bytes, have ${buf.length}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
}

/** Whether a WebSocket upgrade is refused, and with which HTTP status. */
function refusedStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the console opened'));
    });
    ws.on('error', () => undefined);
  });
}

interface VmView {
  id: number;
  state: string;
  lcm_state: string;
  host_id: number | null;
}

describe('microVMs on edge hosts (QEMU, software emulation)', { skip }, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  let vmHost: TestAgent;
  let ctHost: TestAgent;
  let work: string;
  let netId: number;
  let imageId: number;
  let sgId: number;
  /** A persistent 4 MiB DATABLOCK the web VM writes to (copied back at terminate). */
  let dataId: number;
  /** The container on host 2: its IP on the overlay and its workload pid. */
  let peerIp: string;
  let peerPid: number;

  const vm = (id: number) => api.get<VmView & Record<string, unknown>>(`/api/v1/vms/${id}`).then((r) => r.body);
  const waitPhase = (id: number, want: string, ms = 90_000) =>
    waitFor(
      `VM ${id} ${want}`,
      async () => {
        const v = await vm(id);
        if (v.state === 'ACTIVE' && /FAILURE/.test(v.lcm_state)) throw new Error(JSON.stringify(v));
        return `${v.state}/${v.lcm_state}` === want ? v : undefined;
      },
      ms,
    );
  const instantiate = async (tpl: string): Promise<number> => {
    const t = await api.post('/api/v1/templates', { template: tpl });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const res = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {});
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.items[0].id as number;
  };
  const ipOf = async (id: number): Promise<string> => {
    const nic = (await vm(id)).template as { NIC?: Record<string, string> | Record<string, string>[] };
    return (Array.isArray(nic.NIC) ? nic.NIC[0] : nic.NIC)?.IP as string;
  };
  const pidOf = (agent: TestAgent, id: number) =>
    (JSON.parse(readFileSync(join(agent.stateDir, 'workloads.json'), 'utf8')) as { vmId: number; pid: number }[]).find(
      (r) => r.vmId === id,
    )?.pid as number;
  /** HTTP GET from inside the container on host 2 (its own network namespace on the overlay). */
  const fetchFromPeer = async (url: string): Promise<string> =>
    (
      await run('nsenter', [`--net=/proc/${peerPid}/ns/net`, '--', 'curl', '-sf', '--max-time', '5', url], {
        timeout: 10_000,
      })
    ).stdout;
  const qemuPid = (id: number): number => {
    const pidFile = join(vmHost.stateDir, 'vms', String(id), 'workload', 'qemu.pid');
    return Number(readFileSync(pidFile, 'utf8').trim());
  };
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const consoleLog = async (id: number): Promise<string> =>
    (await api.get(`/api/v1/vms/${id}/log`)).body.data as string;

  /** An ext4 OS image of the busybox root filesystem, uploaded like any image. */
  async function uploadExt4(): Promise<number> {
    const tar = join(work, 'rootfs.tar');
    const dir = join(work, 'rootfs');
    const ext4 = join(work, 'busybox.ext4');
    await buildBusyboxRootfsTar(tar);
    await run('mkdir', ['-p', dir]);
    await run('tar', ['-xf', tar, '-C', dir]);
    await run('truncate', ['-s', '64M', ext4]);
    await run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-E', 'root_owner=0:0', '-d', dir, ext4]);
    const created = await api.post('/api/v1/images', { name: 'busybox-ext4', template: 'TYPE = OS\nFORMAT = raw' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const res = await fetch(`${server.url}/api/v1/images/${created.body.id}/content`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${api.token}`,
        'content-type': 'application/octet-stream',
        'content-length': String(statSync(ext4).size),
      },
      body: Readable.toWeb(createReadStream(ext4)) as unknown as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 200, await res.text());
    return created.body.id as number;
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'oneedge-microvm-'));
    // The kit the front-end registers as KERNEL/RAMDISK images (the agents build their own too).
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
    const net = await api.post('/api/v1/vnets', {
      template: 'NAME = edge-overlay\nVN_MAD = vxlan\nAR = [ TYPE = IP4, IP = 192.168.60.10, SIZE = 40 ]',
    });
    assert.equal(net.status, 201, JSON.stringify(net.body));
    netId = net.body.id;
    imageId = await uploadExt4();
    const data = await api.post('/api/v1/images', {
      name: 'data',
      template: 'TYPE = DATABLOCK\nSIZE = 4\nFS = raw\nPERSISTENT = YES',
    });
    assert.equal(data.status, 201, JSON.stringify(data.body));
    dataId = data.body.id;
    await waitFor('datablock ready', async () => (await api.get(`/api/v1/images/${dataId}`)).body.state === 'READY');
    // The peer: a container on host 2 on the same overlay, serving HTTP on 8080.
    const peer = await instantiate(`NAME = peer
MEMORY = 32
CPU = 0.1
SCHED_REQUIREMENTS = "ID = ${ctHost.hostId}"
NIC = [ NETWORK_ID = ${netId}, SECURITY_GROUPS = ${sgId} ]
CONTEXT = [ NETWORK = YES, START_SCRIPT = "#!/bin/sh
echo peer-ok > /tmp/index.html
httpd -p 8080 -h /tmp
while :; do sleep 1; done" ]`);
    await waitPhase(peer, 'ACTIVE/RUNNING', 60_000);
    peerIp = await ipOf(peer);
    peerPid = pidOf(ctHost, peer);
  });

  after(async () => {
    if (process.env.ONEEDGE_TEST_DEBUG) process.stderr.write(`${vmHost?.log()}\n`);
    await lab?.dispose();
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the host reports qemu as working and whether KVM works; the kit is registered as images', async () => {
    const h = (await api.get(`/api/v1/hosts/${vmHost.hostId}`)).body;
    assert.ok(h.facts.runtimes.includes('qemu'));
    assert.equal(typeof h.facts.kvm, 'boolean');
    if (!existsSync('/dev/kvm')) assert.equal(h.facts.kvm, false);
    const images = (await api.get('/api/v1/images?limit=0')).body.items as {
      name: string;
      type: string;
      datastore_id: number;
    }[];
    const kernel = images.find((i) => i.name === 'oneedge-kernel');
    const initrd = images.find((i) => i.name === 'oneedge-initrd');
    assert.equal(kernel?.type, 'KERNEL');
    assert.equal(initrd?.type, 'RAMDISK');
    assert.equal(kernel?.datastore_id, 2);
  });

  let webId: number;
  let webIp: string;
  let firstPid: number;

  test('a microVM boots from an ext4 image with the guest kit images, takes its IP from the context on a VXLAN network and serves HTTP to a container on another host', async () => {
    webId = await instantiate(
      template(
        'web',
        netId,
        imageId,
        sgId,
        peerIp,
        `OS = [ KERNEL_DS = "$FILE[IMAGE=oneedge-kernel]", INITRD_DS = "$FILE[IMAGE=\\"oneedge-initrd\\"]" ]
DISK = [ IMAGE_ID = ${dataId} ]
DISK = [ TYPE = fs, SIZE = 16 ]`,
      ),
    );
    const v = await waitPhase(webId, 'ACTIVE/RUNNING');
    const os = (v.template as { OS?: Record<string, string> }).OS;
    assert.match(os?.KERNEL_DS ?? '', /^\$FILE\[IMAGE=oneedge-kernel\]$/, 'the reference is kept as written');
    assert.ok(os?.KERNEL_ID && os.INITRD_ID, JSON.stringify(os));
    webIp = await ipOf(webId);
    try {
      // VXLAN flood lists reach the hosts asynchronously (net-peers): give the first fetch a moment.
      await waitFor(
        'HTTP from the container on host 2',
        async () => (await fetchFromPeer(`http://${webIp}/`).catch(() => '')).trim() === `hello-web-${webId}`,
        30_000,
      );
    } catch (err) {
      // What the hosts see, to tell a guest problem from a network one.
      const diag = [await consoleLog(webId)];
      for (const h of lab.hosts) {
        for (const argv of [
          ['ip', '-br', 'link'],
          ['bridge', 'fdb', 'show'],
          ['nft', 'list', 'ruleset'],
        ]) {
          diag.push(`${h.ns}$ ${argv.join(' ')}\n${await lab.exec(h, argv).catch((e) => String(e))}`);
        }
      }
      diag.push(`host 1 agent:\n${vmHost.log().slice(-6000)}`, `host 2 agent:\n${ctHost.log().slice(-6000)}`);
      process.stderr.write(`${diag.join('\n')}\n`);
      throw err;
    }
    assert.match(await consoleLog(webId), new RegExp(`ONEEDGE-READY web-${webId}`));
    // Booted the kernel image the host fetched, over a qcow2 overlay of the cached ext4 image.
    const cmdline = readFileSync(`/proc/${qemuPid(webId)}/cmdline`, 'utf8').split('\0');
    const kernel = cmdline[cmdline.indexOf('-kernel') + 1] ?? '';
    assert.match(kernel, /\/images\/[0-9a-f]{64}\/blob$/, kernel);
    assert.ok(
      cmdline.some((a) => /disks\/disk\.0\.qcow2/.test(a)),
      cmdline.join(' '),
    );
    // Security groups on the tap: port 81 is not allowed in; the VM's own connection out gets its replies.
    await assert.rejects(fetchFromPeer(`http://${webIp}:81/`), 'port 81 is filtered');
    await waitFor(
      'the VM fetched from the container (replies of its own connection pass the tap firewall)',
      async () => (await fetchFromPeer(`http://${webIp}/peer.html`).catch(() => '')).includes('peer-ok'),
      30_000,
    );
    // The persistent DATABLOCK and the volatile disk are extra virtio-blk drives (vdb, vdc), the context after them.
    assert.deepEqual((await fetchFromPeer(`http://${webIp}/disks`)).trim().split(/\s+/), ['vda', 'vdb', 'vdc', 'vdd']);
    firstPid = qemuPid(webId);
    assert.ok(alive(firstPid));
  });

  test('the VNC console through the front-end: RFB handshake and a framebuffer update; bad tokens refused', async () => {
    const res = await api.post(`/api/v1/vms/${webId}/vnc-token`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const url = `${server.url.replace(/^http/, 'ws')}${res.body.url}`;
    const ws = new WebSocket(url);
    const read = rfbReader(ws);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    assert.equal((await read(12)).toString('latin1'), 'RFB 003.008\n');
    ws.send(Buffer.from('RFB 003.008\n'));
    const nTypes = (await read(1))[0] as number;
    const types = [...(await read(nTypes))];
    assert.ok(types.includes(1), `security type None offered: ${types}`);
    ws.send(Buffer.from([1]));
    assert.equal((await read(4)).readUInt32BE(0), 0, 'security handshake OK');
    ws.send(Buffer.from([1])); // ClientInit, shared
    const init = await read(24);
    const width = init.readUInt16BE(0);
    const height = init.readUInt16BE(2);
    await read(init.readUInt32BE(20)); // desktop name
    assert.ok(width > 0 && height > 0);
    const req = Buffer.alloc(10);
    req[0] = 3; // FramebufferUpdateRequest, full
    req.writeUInt16BE(width, 6);
    req.writeUInt16BE(height, 8);
    ws.send(req);
    assert.equal((await read(1))[0], 0, 'a FramebufferUpdate arrives');
    ws.close();
    // The token was spent; a made-up one and one for another VM are refused too.
    assert.equal(await refusedStatus(url), 401);
    assert.equal(await refusedStatus(`${server.url.replace(/^http/, 'ws')}/api/v1/vms/${webId}/vnc?token=nope`), 401);
    const other = await api.post(`/api/v1/vms/${webId}/vnc-token`);
    assert.equal(
      await refusedStatus(
        `${server.url.replace(/^http/, 'ws')}/api/v1/vms/${webId + 1000}/vnc?token=${other.body.token}`,
      ),
      401,
    );
    assert.equal((await fetch(`${server.url}/api/v1/vms/${webId}/vnc-token`, { method: 'POST' })).status, 401);
  });

  test('poweroff is graceful (ACPI) and resume boots it again', async () => {
    await api.post(`/api/v1/vms/${webId}/actions/poweroff`);
    await waitPhase(webId, 'POWEROFF/LCM_INIT');
    assert.equal(alive(firstPid), false);
    assert.match(await consoleLog(webId), /ONEEDGE-POWEROFF/, 'the guest handled the power button');
    await api.post(`/api/v1/vms/${webId}/actions/resume`);
    await waitPhase(webId, 'ACTIVE/RUNNING');
    await waitFor(
      'the guest serves again after resume',
      async () => (await fetchFromPeer(`http://${webIp}/`).catch(() => '')).trim() === `hello-web-${webId}`,
      60_000,
    );
  });

  test('reboot gives a new QEMU process; suspend pauses and resume continues the same one', async () => {
    const before = qemuPid(webId);
    await api.post(`/api/v1/vms/${webId}/actions/reboot`);
    await waitFor('a new QEMU after reboot', async () => qemuPid(webId) !== before && alive(qemuPid(webId)), 90_000);
    await waitPhase(webId, 'ACTIVE/RUNNING');
    await waitFor(
      'HTTP after reboot',
      async () => (await fetchFromPeer(`http://${webIp}/`)).includes(`hello-web-${webId}`),
      60_000,
    );
    const pid = qemuPid(webId);
    await api.post(`/api/v1/vms/${webId}/actions/suspend`);
    await waitPhase(webId, 'SUSPENDED/LCM_INIT');
    await assert.rejects(fetchFromPeer(`http://${webIp}/`), 'a paused guest does not answer');
    await api.post(`/api/v1/vms/${webId}/actions/resume`);
    await waitPhase(webId, 'ACTIVE/RUNNING');
    assert.equal(qemuPid(webId), pid, 'the same process continued');
    await waitFor(
      'the resumed guest serves',
      async () => (await fetchFromPeer(`http://${webIp}/`).catch(() => '')).trim() === `hello-web-${webId}`,
      30_000,
    );
  });

  test('kill -9 of the agent: the VM keeps running and the restarted agent re-attaches through QMP', async () => {
    const pid = qemuPid(webId);
    await vmHost.kill9();
    assert.ok(alive(pid), 'QEMU outlives the agent');
    assert.equal((await fetchFromPeer(`http://${webIp}/`)).trim(), `hello-web-${webId}`);
    vmHost.start();
    await waitFor(
      'agent reconnected',
      async () => (await api.get(`/api/v1/hosts/${vmHost.hostId}`)).body.connected,
      60_000,
    );
    await waitFor('re-attached', async () => vmHost.log().includes('re-attached to workload'), 60_000);
    assert.equal(qemuPid(webId), pid, 'not restarted');
    const v = await vm(webId);
    assert.equal(`${v.state}/${v.lcm_state}`, 'ACTIVE/RUNNING');
    // Control still works after the re-attach: a graceful poweroff through QMP.
    await api.post(`/api/v1/vms/${webId}/actions/poweroff`);
    await waitPhase(webId, 'POWEROFF/LCM_INIT');
    assert.equal(alive(pid), false);
  });

  test('four microVMs boot in parallel on one host and all reach RUNNING', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push(await instantiate(template(`par${i}`, netId, imageId, sgId, peerIp)));
    const t0 = Date.now();
    await Promise.all(ids.map((id) => waitPhase(id, 'ACTIVE/RUNNING', 180_000)));
    const ms = Date.now() - t0;
    // Each VM is named <template>-<vm id> and took that as its hostname.
    // RUNNING means QEMU runs the guest; its web server answers once the guest has booted, which under
    // software emulation on a loaded machine takes a while longer.
    await Promise.all(
      ids.map(async (id, i) => {
        const url = `http://${await ipOf(id)}/`;
        await waitFor(
          `par${i} serves its hostname`,
          async () => (await fetchFromPeer(url).catch(() => '')).trim() === `hello-par${i}-${id}`,
          90_000,
        );
      }),
    );
    process.stdout.write(`# 4 parallel microVMs RUNNING in ${ms} ms, all serving ${Date.now() - t0} ms after start\n`);
  });

  test('terminate shuts every VM down through ACPI and leaves nothing on the host', async () => {
    const all = (await api.get('/api/v1/vms?limit=0')).body.items as VmView[];
    for (const v of all) await api.post(`/api/v1/vms/${v.id}/actions/terminate`);
    await waitFor('all VMs done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 120_000);
    const qemuIndex = join(vmHost.stateDir, 'runtime', 'qemu', 'vms');
    assert.deepEqual(existsSync(qemuIndex) ? readdirSync(qemuIndex) : [], [], 'no workload left in the qemu index');
    assert.deepEqual(existsSync(join(vmHost.stateDir, 'vms')) ? readdirSync(join(vmHost.stateDir, 'vms')) : [], []);
    const h1 = lab.hosts[0] as never;
    const links = await lab.exec(h1, ['ip', '-o', 'link', 'show']);
    assert.ok(!/\boe\d+n\d+\b/.test(links), `no tap left:\n${links}`);
    assert.ok(!/onevx\d+/.test(links), `the overlay left the host with its last NIC:\n${links}`);
    const tables = await lab.exec(h1, ['nft', 'list', 'tables']);
    assert.ok(!/oneedge_vm\d+/.test(tables), `no tap firewall left:\n${tables}`);
    const procs = readdirSync('/proc').filter((p) => {
      if (!/^\d+$/.test(p)) return false;
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(vmHost.stateDir) && alive(Number(p));
      } catch {
        return false;
      }
    });
    const qemus = procs.filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('qemu'));
    assert.deepEqual(qemus, [], 'no QEMU left');
    // The persistent DATABLOCK came back with what the guest wrote to it.
    const data = (await api.get(`/api/v1/images/${dataId}`)).body;
    assert.equal(data.state, 'READY');
    assert.match(readFileSync(data.source).subarray(0, 64).toString('latin1'), new RegExp(`^persisted-web-${webId}\n`));
  });
});
