import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buildBusyboxRootfs, packRootfs } from '../src/drivers/runtime/busybox-rootfs.js';
import { LoopbackAgent, waitFor } from '../test/support/agents.js';
import { Api } from '../test/support/api.js';
import { TestServer } from '../test/support/server.js';

const PAYLOAD_MB = Number(process.env.BENCH_IMAGE_MB ?? 256);
const ROUNDS = 3;
const WARM_VMS = Number(process.env.BENCH_WARM_VMS ?? 10);

if (process.getuid?.() !== 0) {
  console.log('images: skipped (crun containers need root)');
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** One download through the agent gateway, exactly as an agent fetches (host credential, TLS, to a file). */
async function gatewayGet(port: number, id: { credential: string; caPem: string }, imageId: number, to: string) {
  await new Promise<void>((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${port}/agent/v1/images/${imageId}`,
      { headers: { authorization: `Bearer ${id.credential}` }, ca: id.caPem, checkServerIdentity: () => undefined },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        pipeline(res, createWriteStream(to)).then(resolve, reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const work = await mkdtemp(join(process.env.TMPDIR ?? '/tmp', 'oneedge-bench-images-'));
const server = await new TestServer({
  env: { ONEEDGE_LOG_LEVEL: 'warn' },
  args: ['--agent-host', '127.0.0.1'],
}).start();
const agent = new LoopbackAgent('crun', ['--log-level', 'warn']);
try {
  // A container image: busybox root filesystem plus PAYLOAD_MB of random data, as a tarball.
  const root = join(work, 'root');
  await mkdir(root);
  await buildBusyboxRootfs(root);
  const fh = await open(join(root, 'payload.bin'), 'w');
  for (let i = 0; i < PAYLOAD_MB; i++) await fh.write(randomBytes(1024 * 1024));
  await fh.close();
  const tar = join(work, 'image.tar');
  await packRootfs(root, tar);
  await rm(root, { recursive: true });
  const size = statSync(tar).size;
  const mb = size / 1048576;

  const api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  const hostId = await agent.join(api, server, 'bench-images');
  await waitFor('agent connected', async () =>
    (await api.get(`/api/v1/hosts/${hostId}`)).body.facts?.runtimes?.includes('crun'),
  );

  const img = await api.post('/api/v1/images', { name: 'bench', template: 'TYPE = OS' });
  let t0 = performance.now();
  const up = await fetch(`${server.url}/api/v1/images/${img.body.id}/content`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${api.token}`,
      'content-type': 'application/octet-stream',
      'content-length': String(size),
    },
    body: Readable.toWeb(createReadStream(tar)) as unknown as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (up.status !== 200) throw new Error(`upload: ${up.status} ${await up.text()}`);
  const uploadS = (performance.now() - t0) / 1000;

  const tpl = await api.post('/api/v1/templates', {
    template: `NAME = b\nMEMORY = 16\nCPU = 0.01\nDISK = [ IMAGE_ID = ${img.body.id} ]`,
  });
  const runningAfter = async (): Promise<number> => {
    const start = performance.now();
    const res = await api.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {});
    const id = res.body.items[0].id as number;
    await waitFor(
      `VM ${id} running`,
      async () => (await api.get(`/api/v1/vms/${id}`)).body.lcm_state === 'RUNNING',
      300_000,
    );
    return performance.now() - start;
  };
  const coldMs = await runningAfter();

  // Protocol cost: the same file through the gateway (what agents do) vs a plain cp on the same disk.
  const identity = agent.identity();
  const get: number[] = [];
  const getVerify: number[] = [];
  const cp: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const to = join(work, `get-${r}`);
    t0 = performance.now();
    await gatewayGet(server.agentPort, identity, img.body.id, to);
    get.push(performance.now() - t0);
    await sha256File(to);
    getVerify.push(performance.now() - t0);
    await rm(to);
    const cpTo = join(work, `cp-${r}`);
    t0 = performance.now();
    execFileSync('cp', [tar, cpTo]);
    cp.push(performance.now() - t0);
    await rm(cpTo);
  }
  const rate = (ms: number) => mb / (ms / 1000);

  const warm: number[] = [];
  for (let i = 0; i < WARM_VMS; i++) warm.push(await runningAfter());

  console.log(
    `images: ${mb.toFixed(0)} MB image; upload through the API ${(mb / uploadS).toFixed(0)} MB/s (incl. sha256 + fsync)`,
  );
  console.log(
    `images: gateway → host ${rate(median(get)).toFixed(0)} MB/s (TLS, credential, to a file), ${rate(median(getVerify)).toFixed(0)} MB/s with sha256 verify; cp ${rate(median(cp)).toFixed(0)} MB/s; ratio gateway/cp ${(median(cp) / median(get)).toFixed(2)} (with verify ${(median(cp) / median(getVerify)).toFixed(2)})`,
  );
  console.log(
    `images: instantiate → RUNNING, cold cache (download + verify + unpack) ${(coldMs / 1000).toFixed(2)} s; warm cache p50 ${median(warm).toFixed(0)} ms (n=${WARM_VMS}, min ${Math.min(...warm).toFixed(0)}, max ${Math.max(...warm).toFixed(0)})`,
  );
  const t = (await api.get(`/api/v1/images/${img.body.id}/transfers`)).body.hosts[0];
  console.log(`images: the host downloaded the image ${t.requests - ROUNDS} time(s) for ${WARM_VMS + 1} VMs`);
  const vms = (await api.get('/api/v1/vms?limit=0')).body.items as { id: number }[];
  for (const v of vms) await api.del(`/api/v1/vms/${v.id}`);
  await waitFor('VMs terminated', async () => (await api.get('/api/v1/vms?limit=0')).body.total === 0, 120_000);
} finally {
  await agent.dispose();
  await server.dispose();
  await rm(work, { recursive: true, force: true });
}
