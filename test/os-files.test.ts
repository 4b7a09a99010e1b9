/**
 * KERNEL and RAMDISK images for microVMs through the API: the front-end
 * registers the guest kit as images at start (idempotent across restarts,
 * skipped without a kit), `OS=[KERNEL_DS="$FILE[…]", INITRD_DS=…]` resolves
 * to the images' ids when a VM is created, and bad references are refused
 * with E_TEMPLATE_INVALID naming the attribute.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuestKit } from '../src/drivers/runtime/qemu/guest-kit.js';
import { Api } from './support/api.js';
import { TestServer } from './support/server.js';

let kitSkip: string | false = false;
try {
  const { existsSync, readdirSync } = await import('node:fs');
  if (!existsSync('/lib/modules') || readdirSync('/lib/modules').length === 0 || !existsSync('/bin/busybox')) {
    kitSkip = 'the guest kit needs linux-image-cloud-amd64 and busybox-static';
  }
} catch {
  kitSkip = 'cannot look for the kernel package';
}

interface ImageView {
  id: number;
  name: string;
  type: string;
  datastore_id: number;
  sha256: string;
}

describe('KERNEL/RAMDISK images of the guest kit and OS/KERNEL_DS', { skip: kitSkip }, () => {
  let work: string;
  let server: TestServer;
  let api: Api;
  const images = async () => (await api.get('/api/v1/images?limit=0')).body.items as ImageView[];
  const create = (tpl: string) => api.post('/api/v1/vms', { template: tpl, hold: true });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'oneedge-osfiles-'));
    await buildGuestKit({ cacheRoot: join(work, 'kit') });
    server = await new TestServer({ args: ['--guest-kit-dir', join(work, 'kit')] }).start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  });
  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('the kit is registered in the files datastore once, also across restarts', async () => {
    const first = await images();
    const kernel = first.find((i) => i.name === 'oneedge-kernel');
    const initrd = first.find((i) => i.name === 'oneedge-initrd');
    assert.equal(kernel?.type, 'KERNEL');
    assert.equal(initrd?.type, 'RAMDISK');
    assert.equal(kernel?.datastore_id, 2);
    assert.match(kernel?.sha256 ?? '', /^[0-9a-f]{64}$/);
    await server.stop();
    await server.start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    const again = await images();
    assert.deepEqual(
      again.filter((i) => i.name.startsWith('oneedge-')).map((i) => [i.id, i.sha256]),
      first.filter((i) => i.name.startsWith('oneedge-')).map((i) => [i.id, i.sha256]),
    );
  });

  test('KERNEL_DS and INITRD_DS resolve to image ids; the reference text is kept', async () => {
    const res = await create(`NAME = k
RUNTIME = qemu
MEMORY = 128
OS = [ KERNEL_DS = "$FILE[IMAGE=oneedge-kernel]", INITRD_DS = "$FILE[IMAGE=\\"oneedge-initrd\\", IMAGE_UNAME=oneadmin]", KERNEL_CMD = "loglevel=4" ]`);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const vm = (await api.get(`/api/v1/vms/${res.body.id ?? res.body.items?.[0]?.id}`)).body;
    const all = await images();
    const os = vm.template.OS as Record<string, string>;
    assert.equal(os.KERNEL_DS, '$FILE[IMAGE=oneedge-kernel]');
    assert.equal(os.KERNEL_ID, String(all.find((i) => i.name === 'oneedge-kernel')?.id));
    assert.equal(os.INITRD_ID, String(all.find((i) => i.name === 'oneedge-initrd')?.id));
    assert.equal(os.KERNEL_DS_ID, '2');
    assert.equal(os.KERNEL_CMD, 'loglevel=4');
    // The files are in use by the VM like its disks: not deletable under it, free again when it is done.
    const kernel = all.find((i) => i.name === 'oneedge-kernel') as { id: number };
    const used = (await api.get(`/api/v1/images/${kernel.id}`)).body;
    assert.equal(used.state, 'USED');
    assert.ok(used.running_vms.includes(vm.id));
    const del = await api.del(`/api/v1/images/${kernel.id}`);
    assert.equal(del.status, 409, JSON.stringify(del.body));
    await api.del(`/api/v1/vms/${vm.id}`);
    const freed = (await api.get(`/api/v1/images/${kernel.id}`)).body;
    assert.equal(freed.state, 'READY');
    assert.deepEqual(freed.running_vms, []);
  });

  test('bad references are refused with E_TEMPLATE_INVALID naming the attribute', async () => {
    const kernelId = (await images()).find((i) => i.name === 'oneedge-kernel')?.id;
    for (const [os, attribute, why] of [
      ['KERNEL_DS = "/boot/vmlinuz"', 'OS/KERNEL_DS', /must be \$FILE/],
      ['KERNEL_DS = "$FILE[IMAGE=nope]"', 'OS/KERNEL_DS', /does not exist/],
      ['KERNEL_DS = "$FILE[IMAGE=oneedge-initrd]"', 'OS/KERNEL_DS', /RAMDISK image, not KERNEL/],
      [`INITRD_DS = "$FILE[IMAGE_ID=${kernelId}]"`, 'OS/INITRD_DS', /KERNEL image, not RAMDISK/],
      ['KERNEL_DS = "$FILE[IMAGE=busybox]"', 'OS/KERNEL_DS', /OS image, not KERNEL/],
    ] as const) {
      const res = await create(`NAME = bad\nRUNTIME = qemu\nMEMORY = 128\nOS = [ ${os} ]`);
      assert.equal(res.status, 400, `${os}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'E_TEMPLATE_INVALID', os);
      assert.equal(res.body.error.details.attribute, attribute, os);
      assert.match(res.body.error.message, why, os);
    }
    // The VM of the test above was terminated; none of these may have been stored.
    assert.equal((await api.get('/api/v1/vms?limit=0')).body.total, 0, 'no refused VM was stored');
  });
});
