// biome-ignore-all lint/suspicious/noExplicitAny: API responses are loosely typed JSON in tests
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildBusyboxRootfs, packRootfs } from '../src/drivers/runtime/busybox-rootfs.js';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { TestServer } from './support/server.js';

const run = promisify(execFile);
const skip = netnsSkipReason();
const MB = 1024 * 1024;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** A busybox root filesystem tarball carrying `payloadMb` of random data (a big container image). */
async function rootfsTar(dir: string, name: string, payloadMb: number): Promise<string> {
  const root = join(dir, `${name}-root`);
  await mkdir(root, { recursive: true });
  await buildBusyboxRootfs(root);
  const fh = await open(join(root, 'payload.bin'), 'w');
  for (let i = 0; i < payloadMb; i++) await fh.write(randomBytes(MB));
  await fh.close();
  const tar = join(dir, `${name}.tar`);
  await packRootfs(root, tar);
  await rm(root, { recursive: true, force: true });
  return tar;
}

/**
 * Issue #7's acceptance on real parts: two network-namespace hosts with real
 * agents and crun, images uploaded to the front-end and pulled by the hosts
 * over the authenticated agent channel.
 */
describe('images on edge hosts: transfer once, resume, verify, copy-on-write, persistent copy-back, eviction', {
  skip,
}, () => {
  let server: TestServer;
  let api: Api;
  let lab: NetnsLab;
  let work: string;
  const agents: TestAgent[] = [];
  const images: Record<string, { id: number; sha256: string; size: number; path: string }> = {};

  const vm = (id: number) => api.get(`/api/v1/vms/${id}`).then((r) => r.body);
  const waitRunning = (id: number, ms = 180_000) =>
    waitFor(
      `VM ${id} running`,
      async () => {
        const v = await vm(id);
        if (v.lcm_state?.endsWith('FAILURE')) throw new Error(`VM ${id} failed: ${v.error}`);
        return `${v.state}/${v.lcm_state}` === 'ACTIVE/RUNNING' ? v : undefined;
      },
      ms,
    );
  const agentOf = (hostId: number) => agents.find((a) => a.hostId === hostId) as TestAgent;
  const pidOf = (v: any): number => {
    const reg = JSON.parse(readFileSync(join(agentOf(v.host_id).stateDir, 'workloads.json'), 'utf8')) as any[];
    return reg.find((r) => r.vmId === v.id)?.pid as number;
  };
  const cacheDir = (a: TestAgent, sha: string) => join(a.stateDir, 'images', sha);
  const transfers = async (imageId: number) =>
    (await api.get(`/api/v1/images/${imageId}/transfers`)).body.hosts as {
      host_id: number;
      requests: number;
      bytes: number;
      uploads: number;
    }[];

  async function upload(name: string, path: string, template = 'TYPE = OS'): Promise<void> {
    const created = await api.post('/api/v1/images', { name, template });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const size = statSync(path).size;
    const res = await fetch(`${server.url}/api/v1/images/${created.body.id}/content`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${api.token}`,
        'content-type': 'application/octet-stream',
        'content-length': String(size),
      },
      body: Readable.toWeb(createReadStream(path)) as unknown as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.sha256, await sha256File(path));
    images[name] = { id: body.id, sha256: body.sha256, size, path };
  }

  async function instantiate(template: string, count = 1): Promise<number[]> {
    const tpl = await api.post('/api/v1/templates', { template });
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    const res = await api.post(`/api/v1/templates/${tpl.body.id}/instantiate`, { multiple: count });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.items.map((v: any) => v.id);
  }

  async function terminate(ids: number[]): Promise<void> {
    for (const id of ids) await api.del(`/api/v1/vms/${id}`);
    await waitFor(
      'VMs done',
      async () => {
        for (const id of ids) if ((await vm(id)).state !== 'DONE') return false;
        return true;
      },
      60_000,
    );
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'oneedge-images-'));
    server = await new TestServer({ args: ['--heartbeat', '1', '--action-timeout', '300'] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    lab = await NetnsLab.create(2);
    for (const h of lab.hosts) {
      // A 1 MB cache limit: every download triggers an eviction pass, so in-use protection is always tested.
      const a = new TestAgent(lab, h, 'crun', ['--image-cache-mb', '1', '--image-stall-timeout', '2']);
      agents.push(a);
      await a.join(api, server);
    }
    for (const a of agents) {
      await waitFor(`host ${a.hostId} connected`, async () => {
        const h = (await api.get(`/api/v1/hosts/${a.hostId}`)).body;
        return h.connected && h.facts?.runtimes.includes('crun');
      });
    }
  });
  after(async () => {
    try {
      const vms = (await api.get('/api/v1/vms?limit=0')).body.items as any[];
      for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
      await waitFor('all VMs done', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 30_000);
    } catch {
      // cleanup below handles leftovers
    }
    for (const h of lab?.hosts ?? [])
      await run('tc', ['qdisc', 'del', 'dev', h.rootVeth, 'root']).catch(() => undefined);
    await lab?.dispose();
    await server?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  let bigVms: number[] = [];

  test('a 200 MB image: 6 VMs on 2 hosts, each host downloads it once, each VM has its own COW layer', async () => {
    await upload('big', await rootfsTar(work, 'big', 200));
    const big = images.big as (typeof images)['big'] & {};
    assert.ok(big.size > 200 * MB);
    bigVms = await instantiate(
      `NAME = big\nMEMORY = 32\nCPU = 0.1\nDISK = [ IMAGE_ID = ${big.id} ]\n` +
        'CONTEXT = [ START_SCRIPT = "echo $VMID > /mine\nwhile :; do sleep 1; done" ]',
      6,
    );
    const running = [];
    for (const id of bigVms) running.push(await waitRunning(id));
    const perHost = new Map<number, number>();
    for (const v of running) perHost.set(v.host_id, (perHost.get(v.host_id) ?? 0) + 1);
    assert.deepEqual([...perHost.values()].sort(), [3, 3]);

    const counts = await transfers(big.id);
    assert.equal(counts.length, 2, JSON.stringify(counts));
    for (const c of counts) {
      assert.equal(c.requests, 1, `host ${c.host_id} downloaded the image exactly once`);
      assert.equal(c.bytes, big.size, `host ${c.host_id} received the image's bytes once`);
    }
    for (const a of agents) assert.ok(existsSync(join(cacheDir(a, big.sha256), 'rootfs')), 'unpacked once per host');
    for (const v of running) {
      const pid = pidOf(v);
      assert.equal(readFileSync(`/proc/${pid}/root/mine`, 'utf8').trim(), String(v.id), 'each VM sees its own file');
      const upper = join(agentOf(v.host_id).stateDir, 'vms', String(v.id), 'workload', 'overlay', 'upper', 'mine');
      assert.ok(existsSync(upper), `VM ${v.id} wrote into its own overlay upper dir`);
      assert.ok(
        !existsSync(join(cacheDir(agentOf(v.host_id), big.sha256), 'rootfs', 'mine')),
        'the cache is untouched',
      );
    }
    assert.equal((await api.get(`/api/v1/images/${big.id}`)).body.state, 'USED');
    const del = await api.del(`/api/v1/images/${big.id}`);
    assert.equal(del.body.error.code, 'E_IN_USE', 'an image used by VMs cannot be deleted');
  });

  test('a link cut mid-transfer: the download resumes where it stopped; in-use images survive eviction', async () => {
    const h1 = agents[0] as TestAgent;
    await upload('resume', await rootfsTar(work, 'resume', 60));
    const img = images.resume as (typeof images)['resume'] & {};
    // Throttle the front-end → host direction so the cut lands mid-transfer.
    await run('tc', [
      'qdisc',
      'add',
      'dev',
      h1.host.rootVeth,
      'root',
      'tbf',
      'rate',
      '48mbit',
      'burst',
      '64kb',
      'latency',
      '400ms',
    ]);
    const [id] = await instantiate(
      `NAME = resume\nMEMORY = 32\nCPU = 0.1\nSCHED_REQUIREMENTS = "ID = ${h1.hostId}"\nDISK = [ IMAGE_ID = ${img.id} ]`,
    );
    const part = join(cacheDir(h1, img.sha256), 'blob.part');
    await waitFor('transfer under way', async () => existsSync(part) && statSync(part).size > 8 * MB, 60_000);
    await lab.setLink(h1.host, false);
    const cutAt = statSync(part).size;
    await new Promise((r) => setTimeout(r, 5000));
    await lab.setLink(h1.host, true);
    await run('tc', ['qdisc', 'del', 'dev', h1.host.rootVeth, 'root']).catch(() => undefined);
    await waitRunning(id as number);
    const counts = (await transfers(img.id)).find((c) => c.host_id === h1.hostId);
    assert.ok(counts, 'host 1 fetched the image');
    assert.ok(counts.requests >= 2, `the transfer was resumed (${counts.requests} requests)`);
    assert.ok(counts.bytes - img.size < img.size, `re-sent ${counts.bytes - img.size} bytes < ${img.size}`);
    assert.ok(counts.bytes < img.size + (img.size - cutAt) + 4 * MB, 'only the missing bytes were sent again');
    assert.match(h1.log(), /image transfer failed; resuming/);
    // The cache is far over its 1 MB limit, yet the 200 MB image its 3 VMs use is still there.
    const big = images.big as (typeof images)['big'] & {};
    assert.ok(existsSync(join(cacheDir(h1, big.sha256), 'blob')), 'in-use image not evicted');
    assert.ok(existsSync(join(cacheDir(h1, img.sha256), 'blob')));
  });

  test('a corrupted transfer is caught by the checksum, discarded and fetched again', async () => {
    const h2 = agents[1] as TestAgent;
    await upload('corrupt', await rootfsTar(work, 'corrupt', 4));
    const img = images.corrupt as (typeof images)['corrupt'] & {};
    // The partial file on the host holds damaged bytes (a flipped byte mid-file).
    const bytes = readFileSync(img.path);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0xff;
    await mkdir(cacheDir(h2, img.sha256), { recursive: true });
    await writeFile(join(cacheDir(h2, img.sha256), 'blob.part'), bytes);
    const [id] = await instantiate(
      `NAME = corrupt\nMEMORY = 32\nCPU = 0.1\nSCHED_REQUIREMENTS = "ID = ${h2.hostId}"\nDISK = [ IMAGE_ID = ${img.id} ]`,
    );
    await waitRunning(id as number);
    assert.match(h2.log(), /failed its checksum/);
    const counts = (await transfers(img.id)).find((c) => c.host_id === h2.hostId);
    assert.ok(counts && counts.requests >= 2, 'fetched again after the damaged copy was discarded');
    assert.equal(await sha256File(join(cacheDir(h2, img.sha256), 'blob')), img.sha256);
  });

  test('images no VM uses are evicted (LRU), images in use never', async () => {
    const h2 = agents[1] as TestAgent;
    const big = images.big as (typeof images)['big'] & {};
    const corrupt = images.corrupt as (typeof images)['corrupt'] & {};
    await terminate(bigVms);
    assert.equal((await api.get(`/api/v1/images/${big.id}`)).body.state, 'READY');
    await upload('small', await rootfsTar(work, 'small', 1));
    const small = images.small as (typeof images)['small'] & {};
    const [id] = await instantiate(
      `NAME = small\nMEMORY = 32\nCPU = 0.1\nSCHED_REQUIREMENTS = "ID = ${h2.hostId}"\nDISK = [ IMAGE_ID = ${small.id} ]`,
    );
    await waitRunning(id as number);
    await waitFor('unused image evicted', async () => !existsSync(cacheDir(h2, big.sha256)), 20_000);
    assert.ok(existsSync(join(cacheDir(h2, corrupt.sha256), 'rootfs')), 'the image a running VM uses stays');
    assert.ok(existsSync(join(cacheDir(h2, small.sha256), 'rootfs')));
  });

  test('datablock and volatile disks are mounted in the container; disk-saveas makes new images of them', async () => {
    const h2 = agents[1] as TestAgent;
    const small = images.small as (typeof images)['small'] & {};
    const db = await api.post('/api/v1/images', { name: 'scratch', template: 'TYPE = DATABLOCK\nSIZE = 8\nFS = ext4' });
    const dbReady = await waitFor('datablock ready', async () => {
      const r = (await api.get(`/api/v1/images/${db.body.id}`)).body;
      return r.state === 'READY' ? r : undefined;
    });
    const [id] = await instantiate(
      `NAME = disks\nMEMORY = 32\nCPU = 0.1\nSCHED_REQUIREMENTS = "ID = ${h2.hostId}"\n` +
        `DISK = [ IMAGE_ID = ${small.id} ]\nDISK = [ IMAGE_ID = ${db.body.id} ]\nDISK = [ TYPE = fs, SIZE = 8 ]\n` +
        'CONTEXT = [ START_SCRIPT = "echo saved > /mnt/vdb/hello\necho root > /rootfile\necho vol > /mnt/vdc/v\nsync\nwhile :; do sleep 1; done" ]',
    );
    const v = await waitRunning(id as number);
    const root = `/proc/${pidOf(v)}/root`;
    await waitFor('VM wrote its files', async () => existsSync(`${root}/mnt/vdc/v`));
    assert.equal(readFileSync(`${root}/mnt/vdb/hello`, 'utf8'), 'saved\n', 'the datablock is mounted read-write');
    assert.equal(readFileSync(`${root}/mnt/vdc/v`, 'utf8'), 'vol\n', 'the volatile disk is an ext4 filesystem');

    const saved = await api.post(`/api/v1/vms/${id}/disks/1/saveas`, { name: 'scratch-saved' });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const savedImg = await waitFor('saved image ready', async () => {
      const r = (await api.get(`/api/v1/images/${saved.body.id}`)).body;
      if (r.state === 'ERROR') throw new Error(r.error);
      return r.state === 'READY' ? r : undefined;
    });
    assert.notEqual(savedImg.sha256, dbReady.sha256);
    const { stdout } = await run('debugfs', ['-R', 'cat /hello', savedImg.source]);
    assert.equal(stdout, 'saved\n', 'the new image holds what the VM wrote');
    assert.equal(
      (await api.get(`/api/v1/images/${db.body.id}`)).body.sha256,
      dbReady.sha256,
      'the original is unchanged',
    );

    const rootSaved = await api.post(`/api/v1/vms/${id}/disks/0/saveas`, { name: 'root-saved' });
    const rootImg = await waitFor('saved root ready', async () => {
      const r = (await api.get(`/api/v1/images/${rootSaved.body.id}`)).body;
      if (r.state === 'ERROR') throw new Error(r.error);
      return r.state === 'READY' ? r : undefined;
    });
    assert.equal(rootImg.format, 'rootfs-tar');
    const listing = (await run('tar', ['-tf', rootImg.source], { maxBuffer: 64 << 20 })).stdout;
    assert.match(listing, /^\.\/rootfile$/m, 'the container root with its changes');
    const bad = await api.post(`/api/v1/vms/${id}/disks/9/saveas`, { name: 'nope' });
    assert.equal(bad.body.error.code, 'E_NOT_FOUND');
    await terminate([id as number]);
  });

  test('a persistent image modified inside a VM keeps the change after undeploy and resume on another host', async () => {
    const [h1, h2] = agents as [TestAgent, TestAgent];
    const created = await api.post('/api/v1/images', {
      name: 'pdisk',
      template: 'TYPE = DATABLOCK\nSIZE = 16\nFS = ext4\nPERSISTENT = YES',
    });
    const before = await waitFor('datablock ready', async () => {
      const r = (await api.get(`/api/v1/images/${created.body.id}`)).body;
      return r.state === 'READY' ? r : undefined;
    });
    await api.post(`/api/v1/hosts/${h2.hostId}/actions/disable`);
    const [id] = await instantiate(
      `NAME = pers\nMEMORY = 32\nCPU = 0.1\nDISK = [ IMAGE_ID = ${created.body.id} ]\n` +
        'CONTEXT = [ START_SCRIPT = "[ -f /mnt/vda/first ] || hostname > /mnt/vda/first\necho boot >> /mnt/vda/boots\nsync\nwhile :; do sleep 1; done" ]',
    );
    const first = await waitRunning(id as number);
    assert.equal(first.host_id, h1.hostId);
    assert.equal((await api.get(`/api/v1/images/${created.body.id}`)).body.state, 'USED_PERS');
    await waitFor('VM wrote to its disk', async () =>
      readFileSync(`/proc/${pidOf(first)}/root/mnt/vda/boots`, 'utf8').includes('boot'),
    );
    assert.equal((await api.post(`/api/v1/vms/${id}/actions/undeploy`)).status, 200);
    await waitFor('undeployed', async () => (await vm(id as number)).state === 'UNDEPLOYED', 60_000);
    const copied = (await api.get(`/api/v1/images/${created.body.id}`)).body;
    assert.notEqual(copied.sha256, before.sha256, 'the changed disk was copied back');
    assert.equal(copied.state, 'USED_PERS', 'still locked by the undeployed VM');
    assert.equal((await transfers(created.body.id)).find((c) => c.host_id === h1.hostId)?.uploads, 1);

    // Both hosts disabled: the scheduler places nothing, the operator deploys to host 2.
    await api.post(`/api/v1/hosts/${h1.hostId}/actions/disable`);
    assert.equal((await api.post(`/api/v1/vms/${id}/actions/resume`)).body.state, 'PENDING');
    const deployed = await api.post(`/api/v1/vms/${id}/actions/deploy`, { host_id: h2.hostId });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const second = await waitRunning(id as number);
    assert.equal(second.host_id, h2.hostId, 'resumed on the other host');
    const root = `/proc/${pidOf(second)}/root/mnt/vda`;
    await waitFor('second boot recorded', async () => readFileSync(`${root}/boots`, 'utf8').split('\n').length >= 3);
    assert.equal(readFileSync(`${root}/boots`, 'utf8'), 'boot\nboot\n', 'both boots on the same persistent disk');
    assert.equal(readFileSync(`${root}/first`, 'utf8').trim(), `one-${id}`, 'written during the first boot');
    await terminate([id as number]);
    const final = (await api.get(`/api/v1/images/${created.body.id}`)).body;
    assert.equal(final.state, 'READY');
  });
});
