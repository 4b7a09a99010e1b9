/**
 * Issue #8's acceptance on real parts: a front-end, two network-namespace
 * hosts with real agents, QEMU microVMs in software emulation (TCG) booting
 * the guest kit from an ext4 root made from the busybox image.
 *
 * Network until virtual networks land: the test makes a bridge `vmbr0` in
 * host 1 (the VMs' NICs are taps on it) and routes host 2 to it through
 * host 1, so HTTP served by a VM is fetched from another host.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';

const skip =
  netnsSkipReason() || (existsSync('/usr/bin/qemu-system-x86_64') ? false : 'qemu-system-x86 is not installed');
const VM_NET = '192.168.177';

function template(name: string, ip: string, extra = ''): string {
  return `NAME = ${name}
RUNTIME = qemu
MEMORY = 128
CPU = 0.25
VCPU = 1
HOST_NIC = [ BRIDGE = vmbr0 ]
GRAPHICS = [ TYPE = VNC ]
CONTEXT = [
  SET_HOSTNAME = "$NAME",
  ETH0_IP = "${ip}",
  ETH0_MASK = "255.255.255.0",
  ETH0_GATEWAY = "${VM_NET}.1",
  START_SCRIPT = "mkdir -p /www; echo hello-$(hostname) > /www/index.html; httpd -p 80 -h /www" ]
${extra}`;
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

  const vm = (id: number) => api.get<VmView & Record<string, unknown>>(`/api/v1/vms/${id}`).then((r) => r.body);
  const waitPhase = (id: number, want: string, ms = 90_000) =>
    waitFor(
      `VM ${id} ${want}`,
      async () => {
        const v = await vm(id);
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
  const fetchFromHost2 = async (ip: string): Promise<string> =>
    lab.exec(lab.hosts[1] as never, ['curl', '-sf', '--max-time', '5', `http://${ip}/`]);
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

  before(async () => {
    server = await new TestServer({ args: ['--heartbeat', '1', '--action-timeout', '120'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(2);
    const [h1, h2] = lab.hosts as [NonNullable<(typeof lab.hosts)[0]>, NonNullable<(typeof lab.hosts)[0]>];
    await lab.exec(h1, ['ip', 'link', 'add', 'vmbr0', 'type', 'bridge']);
    await lab.exec(h1, ['ip', 'addr', 'add', `${VM_NET}.1/24`, 'dev', 'vmbr0']);
    await lab.exec(h1, ['ip', 'link', 'set', 'vmbr0', 'up']);
    await lab.exec(h1, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await lab.exec(h2, ['ip', 'route', 'add', `${VM_NET}.0/24`, 'via', h1.ip]);
    vmHost = new TestAgent(lab, h1, 'qemu');
    await vmHost.join(api, server);
    await waitFor(
      'host with qemu connected',
      async () => {
        const h = (await api.get(`/api/v1/hosts/${vmHost.hostId}`)).body;
        return h.connected && h.facts?.runtimes.includes('qemu') ? h : undefined;
      },
      120_000,
    );
  });

  after(async () => {
    if (process.env.ONEEDGE_TEST_DEBUG) process.stderr.write(`${vmHost?.log()}\n`);
    await lab?.dispose();
    await server?.stop();
  });

  test('the host reports qemu as working and whether KVM works', async () => {
    const h = (await api.get(`/api/v1/hosts/${vmHost.hostId}`)).body;
    assert.ok(h.facts.runtimes.includes('qemu'));
    assert.equal(typeof h.facts.kvm, 'boolean');
    if (!existsSync('/dev/kvm')) assert.equal(h.facts.kvm, false);
  });

  let webId: number;
  let firstPid: number;

  test('a microVM boots from an ext4 root, takes its IP from the context and serves HTTP to another host', async () => {
    webId = await instantiate(template('web', `${VM_NET}.10`));
    await waitPhase(webId, 'ACTIVE/RUNNING');
    assert.equal((await fetchFromHost2(`${VM_NET}.10`)).trim(), `hello-web-${webId}`);
    assert.match(await consoleLog(webId), new RegExp(`ONEEDGE-READY web-${webId}`));
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
    assert.equal((await fetchFromHost2(`${VM_NET}.10`)).trim(), `hello-web-${webId}`);
  });

  test('reboot gives a new QEMU process; suspend pauses and resume continues the same one', async () => {
    const before = qemuPid(webId);
    await api.post(`/api/v1/vms/${webId}/actions/reboot`);
    await waitFor('a new QEMU after reboot', async () => qemuPid(webId) !== before && alive(qemuPid(webId)), 90_000);
    await waitPhase(webId, 'ACTIVE/RUNNING');
    await waitFor(
      'HTTP after reboot',
      async () => (await fetchFromHost2(`${VM_NET}.10`)).includes(`hello-web-${webId}`),
      60_000,
    );
    const pid = qemuPid(webId);
    await api.post(`/api/v1/vms/${webId}/actions/suspend`);
    await waitPhase(webId, 'SUSPENDED/LCM_INIT');
    await assert.rejects(fetchFromHost2(`${VM_NET}.10`), 'a paused guest does not answer');
    await api.post(`/api/v1/vms/${webId}/actions/resume`);
    await waitPhase(webId, 'ACTIVE/RUNNING');
    assert.equal(qemuPid(webId), pid, 'the same process continued');
    assert.equal((await fetchFromHost2(`${VM_NET}.10`)).trim(), `hello-web-${webId}`);
  });

  test('kill -9 of the agent: the VM keeps running and the restarted agent re-attaches through QMP', async () => {
    const pid = qemuPid(webId);
    await vmHost.kill9();
    assert.ok(alive(pid), 'QEMU outlives the agent');
    assert.equal((await fetchFromHost2(`${VM_NET}.10`)).trim(), `hello-web-${webId}`);
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
    for (let i = 0; i < 4; i++) ids.push(await instantiate(template(`par${i}`, `${VM_NET}.${20 + i}`)));
    const t0 = Date.now();
    await Promise.all(ids.map((id) => waitPhase(id, 'ACTIVE/RUNNING', 180_000)));
    const ms = Date.now() - t0;
    // Each VM is named <template>-<vm id> and took that as its hostname.
    for (const [i, id] of ids.entries()) {
      assert.equal((await fetchFromHost2(`${VM_NET}.${20 + i}`)).trim(), `hello-par${i}-${id}`);
    }
    process.stdout.write(`# 4 parallel microVMs RUNNING and serving in ${ms} ms\n`);
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
    assert.ok(!/one-\d+-\d+/.test(links), `no tap left:\n${links}`);
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
  });
});
