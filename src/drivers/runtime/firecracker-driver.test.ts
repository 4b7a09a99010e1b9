/**
 * The firecracker driver against a fake Firecracker: a process that serves
 * the API on `--api-sock`, records every request, and acts like the VMM
 * (InstanceStart → Running, PATCH /vm → Paused/Resumed, SendCtrlAltDel → the
 * guest powers off and the process exits). Every request body is checked
 * against the JSON Schemas written from Firecracker's published API spec.
 * Firecracker itself needs KVM, which these machines do not have.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxRootfs } from './busybox-rootfs.js';
import { FC_SCHEMAS, schemaFor, validate } from './firecracker/api-schemas.js';
import { FirecrackerDriver } from './firecracker-driver.js';
import type { WorkloadSpec } from './types.js';

const FAKE = `
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';
const sock = process.argv[process.argv.indexOf('--api-sock') + 1];
const record = process.env.FAKE_FC_RECORD;
let state = 'Not started';
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    appendFileSync(record, JSON.stringify({ method: req.method, path: req.url, body: body ? JSON.parse(body) : null }) + '\\n');
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ id: 'fake', state, vmm_version: '1.7.0', app_name: 'Firecracker' }));
    }
    const b = body ? JSON.parse(body) : {};
    if (req.url === '/actions' && b.action_type === 'InstanceStart') state = 'Running';
    if (req.url === '/vm') state = b.state === 'Paused' ? 'Paused' : 'Running';
    res.writeHead(204).end();
    if (req.url === '/actions' && b.action_type === 'SendCtrlAltDel') setTimeout(() => process.exit(0), 50);
  });
});
server.listen(sock);
`;

const skip =
  !existsSync('/bin/busybox') || !existsSync('/lib/modules') ? 'needs busybox-static and the kernel package' : false;

describe('firecracker driver (fake Firecracker API server)', { skip }, () => {
  const base = join(tmpdir(), `oneedge-fc-${process.pid}`);
  const record = join(base, 'requests.jsonl');
  let driver: FirecrackerDriver;
  let spec: WorkloadSpec;
  const signal = (): AbortSignal => AbortSignal.timeout(30_000);
  const requests = async (): Promise<{ method: string; path: string; body: unknown }[]> =>
    (await readFile(record, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  before(async () => {
    await mkdir(join(base, 'rootfs'), { recursive: true });
    await buildBusyboxRootfs(join(base, 'rootfs'));
    const fake = join(base, 'fake-firecracker.mjs');
    await writeFile(fake, FAKE);
    process.env.FAKE_FC_RECORD = record;
    driver = new FirecrackerDriver({
      stateRoot: join(base, 'state'),
      command: [process.execPath, fake],
      jailer: false,
      assumeKvm: true,
    });
    spec = {
      vmId: 5,
      name: 'one-5',
      workDir: join(base, 'vm'),
      rootfs: join(base, 'rootfs'),
      cpu: 1,
      vcpu: 2,
      memoryMb: 256,
      env: {},
      context: { ETH0_IP: '10.0.0.5' },
      logPath: join(base, 'console.log'),
      machine: { threads: 2 },
    };
  });

  after(async () => {
    delete process.env.FAKE_FC_RECORD;
    await rm(base, { recursive: true, force: true });
  });

  it('refuses Firecracker without its binary or without KVM (the agent then does not offer it)', async () => {
    const missing = await new FirecrackerDriver({ command: ['/nonexistent/firecracker'] }).probe(signal());
    assert.equal(missing.usable, false);
    assert.match(missing.reason ?? '', /not installed/);
    if (!existsSync('/dev/kvm')) {
      const noKvm = await new FirecrackerDriver({ command: [process.execPath] }).probe(signal());
      assert.equal(noKvm.usable, false);
      assert.match(noKvm.reason ?? '', /KVM/);
    }
  });

  it('configures the VM through the API, starts it, pauses, resumes and stops it with Ctrl-Alt-Del', async () => {
    const handle = await driver.start(await driver.create(spec, signal()), signal());
    assert.equal((await driver.inspect(handle, signal())).state, 'running');
    await driver.pause(handle, signal());
    assert.equal((await driver.inspect(handle, signal())).state, 'paused');
    await driver.resume(handle, signal());
    const recovered = await new FirecrackerDriver({
      stateRoot: join(base, 'state'),
      command: [process.execPath],
    }).recover(JSON.parse(JSON.stringify(handle)), signal());
    assert.equal(recovered.data.pid, handle.data.pid, 're-attached to the same process');
    await driver.stop(handle, 5000, signal());
    assert.equal((await driver.inspect(handle, signal())).state, 'stopped');

    const calls = await requests();
    const order = calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`);
    assert.deepEqual(order, [
      'PUT /metrics',
      'PUT /machine-config',
      'PUT /boot-source',
      'PUT /drives/rootfs',
      'PUT /drives/context',
      'PUT /actions',
      'PATCH /vm',
      'PATCH /vm',
      'PUT /actions',
    ]);
    for (const c of calls) {
      if (c.method === 'GET') continue;
      const name = schemaFor(c.method, c.path);
      assert.ok(name, `${c.method} ${c.path} has a schema`);
      assert.deepEqual(
        validate(FC_SCHEMAS[name] as never, c.body),
        [],
        `${c.method} ${c.path} ${JSON.stringify(c.body)}`,
      );
    }
    const byPath = (p: string) => calls.find((c) => c.path === p)?.body as Record<string, unknown>;
    assert.deepEqual(byPath('/machine-config'), { vcpu_count: 2, mem_size_mib: 256, smt: true });
    assert.equal(byPath('/drives/rootfs').is_root_device, true);
    assert.equal(byPath('/drives/context').is_read_only, true);
    assert.match(String(byPath('/boot-source').kernel_image_path), /vmlinux$/);
    const actions = calls
      .filter((c) => c.path === '/actions')
      .map((c) => (c.body as { action_type: string }).action_type);
    assert.deepEqual(actions, ['InstanceStart', 'SendCtrlAltDel']);

    await driver.destroy(handle, signal());
    assert.equal(existsSync(spec.workDir), false);
    assert.deepEqual(await driver.list(signal()), []);
  });

  it('NICs become taps with fixed MACs; the schemas refuse what Firecracker would refuse', async () => {
    const calls = await driver.configuration(
      { ...spec, machine: { nics: [{ bridge: 'br0', mac: '02:00:00:00:00:05' }] } },
      { vmId: 5, workDir: spec.workDir, logPath: spec.logPath, taps: [{ name: 'one-5-0', bridge: 'br0' }] },
    );
    const nic = calls.find(([, p]) => p === '/network-interfaces/eth0');
    assert.deepEqual(nic?.[2], { iface_id: 'eth0', host_dev_name: 'one-5-0', guest_mac: '02:00:00:00:00:05' });
    for (const [method, path, body] of calls) {
      assert.deepEqual(validate(FC_SCHEMAS[schemaFor(method, path) as string] as never, body), []);
    }
    const drive = FC_SCHEMAS.Drive as never;
    assert.ok(validate(drive, { drive_id: 'x', path_on_host: '/x' }).some((e) => e.includes('is_root_device')));
    assert.ok(
      validate(drive, { drive_id: 'x', is_root_device: false, format: 'qcow2' }).some((e) => e.includes('not allowed')),
    );
    assert.ok(validate(FC_SCHEMAS.MachineConfiguration as never, { vcpu_count: 64, mem_size_mib: 128 }).length > 0);
    assert.ok(validate(FC_SCHEMAS.InstanceActionInfo as never, { action_type: 'Reboot' }).length > 0);
    assert.ok(
      validate(FC_SCHEMAS.NetworkInterface as never, { iface_id: 'eth0', host_dev_name: 't', guest_mac: 'zz' }).length >
        0,
    );
    await assert.rejects(driver.reboot(), /cannot reboot/);
  });
});
