// biome-ignore-all lint/suspicious/noExplicitAny: API responses are loosely typed JSON in tests
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { BIN, TestServer } from './support/server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A plain HTTP server on loopback serving fixed bodies (the import source). */
async function fileServer(files: Record<string, Buffer>): Promise<{ server: Server; url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const body = files[req.url ?? ''];
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/good.img' }).end();
      return;
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}`, hits };
}

async function put(api: Api, id: number, body: Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.url}/api/v1/images/${id}/content`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/octet-stream', ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Image files (not temporary ones) in a datastore directory. */
function dsFiles(server: TestServer, ds = 1): string[] {
  const dir = join(server.dataDir, 'datastores', String(ds));
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/**
 * Issue #7 on the front-end: datastores with capacity, image creation by
 * streaming upload, URL import, empty datablock and clone; every hostile or
 * failing input refused with its own code and nothing left behind; images in
 * use cannot be deleted; persistent images serve one VM.
 */
describe('images and datastores over the API', () => {
  let server: TestServer;
  let allowing: TestServer;
  let api: Api;
  let allowApi: Api;
  let src: Awaited<ReturnType<typeof fileServer>>;
  const good = randomBytes(3 * 1024 * 1024 + 17);

  before(async () => {
    server = await new TestServer().start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    allowing = await new TestServer({ args: ['--allow-internal-image-urls', 'yes'] }).start();
    allowApi = await Api.login(allowing.url, 'oneadmin', allowing.adminPassword);
    src = await fileServer({ '/good.img': good });
  });
  after(async () => {
    src?.server.close();
    await server?.dispose();
    await allowing?.dispose();
  });

  test('the default datastores exist; image and file datastores report their capacity', async () => {
    const list = (await api.get('/api/v1/datastores')).body.items as Record<string, any>[];
    assert.deepEqual(
      list.map((d) => [d.id, d.name, d.type]),
      [
        [0, 'system', 'SYSTEM'],
        [1, 'default', 'IMAGE'],
        [2, 'files', 'FILE'],
      ],
    );
    const ds = (await api.get('/api/v1/datastores/1')).body;
    assert.ok(ds.total_mb > 0 && ds.free_mb > 0 && ds.free_mb <= ds.total_mb, JSON.stringify(ds));
    assert.ok(ds.used_mb >= 0);
  });

  test('streaming upload: sha256 computed, format detected (raw, qcow2), file written atomically', async () => {
    const created = await api.post('/api/v1/images', { name: 'up-raw', template: 'TYPE = DATABLOCK' });
    assert.equal(created.status, 201);
    assert.equal(created.body.state, 'INIT');
    const res = await put(api, created.body.id, good);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.state, 'READY');
    assert.equal(res.body.sha256, sha(good));
    assert.equal(res.body.size_bytes, good.length);
    assert.equal(res.body.format, 'raw');
    assert.deepEqual(readFileSync(res.body.source), good);
    assert.ok(!dsFiles(server).some((f) => f.startsWith('.tmp')));
    // A second upload to a READY image is refused.
    const again = await put(api, created.body.id, good);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'E_IMAGE_STATE');

    const qpath = join(tmpdir(), `oe-q-${process.pid}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', qpath, '64M']);
    const q = await api.post('/api/v1/images', { name: 'up-qcow2', template: 'TYPE = OS' });
    const qres = await put(api, q.body.id, readFileSync(qpath));
    assert.equal(qres.body.format, 'qcow2');
  });

  test('wrong checksum: refused with E_CHECKSUM_MISMATCH, image in ERROR with the reason, no file', async () => {
    const before = dsFiles(server);
    const img = await api.post('/api/v1/images', { name: 'bad-sum', template: 'TYPE = OS' });
    const res = await put(api, img.body.id, good, { 'x-content-sha256': sha(Buffer.from('other')) });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'E_CHECKSUM_MISMATCH');
    const shown = (await api.get(`/api/v1/images/${img.body.id}`)).body;
    assert.equal(shown.state, 'ERROR');
    assert.match(shown.error, /E_CHECKSUM_MISMATCH/);
    assert.equal(shown.source, '');
    assert.deepEqual(dsFiles(server), before, 'nothing left in the datastore');
  });

  test('over-quota upload: refused from Content-Length before the body is read (E_DATASTORE_FULL)', async () => {
    const before = dsFiles(server);
    const img = await api.post('/api/v1/images', { name: 'huge', template: 'TYPE = OS' });
    const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const u = new URL(`${server.url}/api/v1/images/${img.body.id}/content`);
      const req = request(
        u,
        {
          method: 'PUT',
          headers: {
            authorization: `Bearer ${api.token}`,
            'content-type': 'application/octet-stream',
            'content-length': String(2 ** 50),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(1024)); // a first chunk only: the answer must come without the rest
    });
    assert.equal(answer.status, 507);
    assert.equal(answer.body.error.code, 'E_DATASTORE_FULL');
    assert.equal((await api.get(`/api/v1/images/${img.body.id}`)).body.state, 'INIT', 'nothing started');
    assert.deepEqual(dsFiles(server), before);
    // An empty datablock larger than the free space is refused too, and no image is created.
    const total = (await api.get('/api/v1/images')).body.total;
    const big = await api.post('/api/v1/images', { name: 'big-db', template: 'TYPE = DATABLOCK\nSIZE = 999999999' });
    assert.equal(big.status, 507);
    assert.equal(big.body.error.code, 'E_DATASTORE_FULL');
    assert.equal((await api.get('/api/v1/images')).body.total, total);
  });

  test('hostile PATHs and names are refused with their own codes and leave no image behind', async () => {
    const total = async () => (await api.get('/api/v1/images')).body.total as number;
    const start = await total();
    const cases: [string, string, number][] = [
      ['PATH = "../../etc/shadow"', 'E_PATH_INVALID', 400],
      ['PATH = "/etc/passwd"', 'E_PATH_INVALID', 400],
      ['PATH = "file:///etc/passwd"', 'E_URL_SCHEME', 400],
      ['PATH = "ftp://example.com/x.img"', 'E_URL_SCHEME', 400],
      [`PATH = "${src.url}/good.img"`, 'E_URL_FORBIDDEN', 403],
      [`PATH = "http://localhost:${new URL(src.url).port}/good.img"`, 'E_URL_FORBIDDEN', 403],
      ['PATH = "http://10.20.30.40/x.img"', 'E_URL_FORBIDDEN', 403],
      ['PATH = "http://192.168.1.1/x.img"', 'E_URL_FORBIDDEN', 403],
      ['PATH = "http://169.254.169.254/latest/meta-data"', 'E_URL_FORBIDDEN', 403],
      ['PATH = "http://[::1]/x.img"', 'E_URL_FORBIDDEN', 403],
      ['PATH = "http://[::ffff:127.0.0.1]/x.img"', 'E_URL_FORBIDDEN', 403],
      ['SOURCE = "/var/lib/one/x"', 'E_PATH_INVALID', 400],
    ];
    for (const [tpl, code, status] of cases) {
      const res = await api.post('/api/v1/images', { name: `h-${code}-${status}`, template: `TYPE = OS\n${tpl}` });
      assert.equal(res.status, status, `${tpl}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code, tpl);
    }
    const bad = await api.post('/api/v1/images', { name: '../../evil', template: 'TYPE = OS' });
    assert.equal(bad.body.error.code, 'E_VALIDATION');
    assert.equal(await total(), start, 'no image was created');
    assert.equal(src.hits.length, 0, 'the loopback server was never contacted');
  });

  test('import from a URL (administrator allows internal addresses): progress, verified, redirects followed', async () => {
    const img = await allowApi.post('/api/v1/images', {
      name: 'imported',
      template: `TYPE = OS\nPATH = "${src.url}/redirect"\nSHA256 = "${sha(good)}"`,
    });
    assert.equal(img.status, 201, JSON.stringify(img.body));
    assert.equal(img.body.state, 'LOCKED');
    assert.equal(img.body.operation.kind, 'import');
    const ready = await waitFor('import done', async () => {
      const r = (await allowApi.get(`/api/v1/images/${img.body.id}`)).body;
      return r.state === 'READY' ? r : undefined;
    });
    assert.equal(ready.sha256, sha(good));
    assert.equal(ready.operation, null);
    assert.deepEqual(readFileSync(ready.source), good);

    const wrong = await allowApi.post('/api/v1/images', {
      name: 'imported-wrong',
      template: `TYPE = OS\nPATH = "${src.url}/good.img"\nSHA256 = "${'0'.repeat(64)}"`,
    });
    const failed = await waitFor('import fails', async () => {
      const r = (await allowApi.get(`/api/v1/images/${wrong.body.id}`)).body;
      return r.state === 'ERROR' ? r : undefined;
    });
    assert.match(failed.error, /E_CHECKSUM_MISMATCH/);
    assert.equal(failed.source, '');
    assert.ok(!dsFiles(allowing).some((f) => f === `image-${wrong.body.id}` || f.startsWith('.tmp')));
    const missing = await allowApi.post('/api/v1/images', {
      name: 'imported-404',
      template: `TYPE = OS\nPATH = "${src.url}/nope.img"`,
    });
    const failed404 = await waitFor('404 import fails', async () => {
      const r = (await allowApi.get(`/api/v1/images/${missing.body.id}`)).body;
      return r.state === 'ERROR' ? r : undefined;
    });
    assert.match(failed404.error, /E_IMPORT_FAILED: .*HTTP 404/);
  });

  test('empty datablock (mkfs ext4), clone, persistent/nonpersistent, enable/disable', async () => {
    const db = await api.post('/api/v1/images', {
      name: 'data',
      template: 'TYPE = DATABLOCK\nSIZE = 16\nFS = ext4',
    });
    assert.equal(db.status, 201, JSON.stringify(db.body));
    const ready = await waitFor('datablock ready', async () => {
      const r = (await api.get(`/api/v1/images/${db.body.id}`)).body;
      return r.state === 'READY' ? r : undefined;
    });
    assert.equal(ready.size_mb, 16);
    const sb = Buffer.alloc(2);
    const fd = readFileSync(ready.source);
    fd.copy(sb, 0, 1080, 1082);
    assert.equal(sb.readUInt16LE(0), 0xef53, 'an ext4 superblock');
    const badFs = await api.post('/api/v1/images', {
      name: 'x',
      template: 'TYPE = DATABLOCK\nSIZE = 1\nFS = "ext4;rm"',
    });
    assert.equal(badFs.body.error.code, 'E_TEMPLATE_INVALID');

    const clone = await api.post(`/api/v1/images/${db.body.id}/clone`, { name: 'data-copy' });
    assert.equal(clone.status, 201);
    const cloned = await waitFor('clone ready', async () => {
      const r = (await api.get(`/api/v1/images/${clone.body.id}`)).body;
      return r.state === 'READY' ? r : undefined;
    });
    assert.equal(cloned.sha256, ready.sha256);
    assert.notEqual(cloned.source, ready.source);
    assert.equal((await api.get(`/api/v1/images/${db.body.id}`)).body.state, 'READY', 'source back from CLONE');

    const p = await api.post(`/api/v1/images/${db.body.id}/actions/persistent`);
    assert.equal(p.body.persistent, true);
    const d = await api.post(`/api/v1/images/${db.body.id}/actions/disable`);
    assert.equal(d.body.state, 'DISABLED');
    const e = await api.post(`/api/v1/images/${db.body.id}/actions/enable`);
    assert.equal(e.body.state, 'READY');
  });

  test('images in use: USED / USED_PERS with running VMs; delete and second persistent use refused', async () => {
    const img = await api.post('/api/v1/images', { name: 'in-use', template: 'TYPE = OS' });
    await put(api, img.body.id, good);
    const pers = await api.post('/api/v1/images', {
      name: 'pers',
      template: 'TYPE = DATABLOCK\nSIZE = 4\nFS = ext4\nPERSISTENT = YES',
    });
    await waitFor('pers ready', async () => (await api.get(`/api/v1/images/${pers.body.id}`)).body.state === 'READY');
    const vm = await api.post('/api/v1/vms', {
      template: `NAME = v\nMEMORY = 32\nDISK = [ IMAGE = "in-use" ]\nDISK = [ IMAGE_ID = ${pers.body.id} ]`,
    });
    assert.equal(vm.status, 201, JSON.stringify(vm.body));
    assert.equal(vm.body.template.DISK[0].IMAGE_ID, String(img.body.id), 'IMAGE resolved to IMAGE_ID');
    const used = (await api.get(`/api/v1/images/${img.body.id}`)).body;
    assert.equal(used.state, 'USED');
    assert.deepEqual(used.running_vms, [vm.body.id]);
    assert.equal((await api.get(`/api/v1/images/${pers.body.id}`)).body.state, 'USED_PERS');

    const del = await api.del(`/api/v1/images/${img.body.id}`);
    assert.equal(del.status, 409);
    assert.equal(del.body.error.code, 'E_IN_USE');
    const second = await api.post('/api/v1/vms', {
      template: `NAME = w\nMEMORY = 32\nDISK = [ IMAGE_ID = ${pers.body.id} ]`,
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'E_IMAGE_STATE');
    const toggle = await api.post(`/api/v1/images/${pers.body.id}/actions/nonpersistent`);
    assert.equal(toggle.body.error.code, 'E_IMAGE_STATE');

    await api.del(`/api/v1/vms/${vm.body.id}`);
    await waitFor(
      'images released',
      async () => (await api.get(`/api/v1/images/${img.body.id}`)).body.state === 'READY',
    );
    assert.equal((await api.get(`/api/v1/images/${pers.body.id}`)).body.state, 'READY');
    const source = (await api.get(`/api/v1/images/${img.body.id}`)).body.source;
    assert.equal((await api.del(`/api/v1/images/${img.body.id}`)).status, 204);
    await waitFor('file removed', async () => !existsSync(source));
  });

  test('oneedge image create --path FILE uploads with a progress bar; datastore list shows capacity', async () => {
    const file = join(tmpdir(), `oe-up-${process.pid}.img`);
    writeFileSync(file, good);
    const env = { ...process.env, ONEEDGE_URL: server.url, ONEEDGE_AUTH: server.authFile, HOME: tmpdir() };
    const out = spawnSync(process.execPath, [BIN, 'image', 'create', '--name', 'cli-up', '--path', file, '--json'], {
      env,
      encoding: 'utf8',
    });
    assert.equal(out.status, 0, out.stderr);
    const obj = JSON.parse(out.stdout);
    assert.equal(obj.sha256, sha(good));
    assert.match(out.stderr, /\[#+\] 100%/);
    const ds = spawnSync(process.execPath, [BIN, 'datastore', 'list'], { env, encoding: 'utf8' });
    assert.match(ds.stdout, /default\s+\d+(\.\d+)?[MGT]\s+\d+%/);
    const bad = spawnSync(process.execPath, [BIN, 'image', 'create', '--name', 'f', '--path', 'file:///etc/passwd'], {
      env,
      encoding: 'utf8',
    });
    assert.match(bad.stderr, /E_URL_SCHEME/);
  });
});
