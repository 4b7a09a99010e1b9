import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { buildGuestKit, resolveModules, writeCpio } from './guest-kit.js';

const run = promisify(execFile);

const DEP = `kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio.ko
`;

describe('guest kit', () => {
  it('resolves modules after their dependencies, each once (virtio_ring → virtio → virtio_mmio)', () => {
    const { order, missing } = resolveModules(DEP, ['virtio_mmio', 'virtio_net', 'virtio_rng', 'ext4']);
    assert.deepEqual(
      order.map((p) => p.slice(p.lastIndexOf('/') + 1)),
      [
        'virtio_ring.ko',
        'virtio.ko',
        'virtio_mmio.ko',
        'failover.ko',
        'net_failover.ko',
        'virtio_net.ko',
        'virtio-rng.ko.xz',
      ],
    );
    assert.deepEqual(missing, ['ext4'], 'built-in or unknown modules are reported, not fatal');
  });

  it('refuses a dependency cycle', () => {
    assert.throws(() => resolveModules('a.ko: b.ko\nb.ko: a.ko\n', ['a']), /cycle/);
  });

  it('writes a newc cpio that cpio(1) lists and extracts', async (t) => {
    if (!existsSync('/usr/bin/cpio') && !existsSync('/bin/busybox')) return t.skip('no cpio tool');
    const dir = await mkdtemp(join(tmpdir(), 'oneedge-cpio-'));
    try {
      const archive = writeCpio([
        { name: 'bin', mode: 0o40755 },
        { name: 'bin/hello', mode: 0o100755, data: Buffer.from('#!/bin/sh\necho hi\n') },
        { name: 'bin/link', mode: 0o120777, data: Buffer.from('hello') },
      ]);
      await writeFile(join(dir, 'a.cpio'), archive);
      const { stdout } = await run('sh', [
        '-c',
        `cd ${dir} && mkdir x && cd x && busybox cpio -id < ../a.cpio && ls -l bin`,
      ]);
      assert.match(stdout, /link -> hello/);
      assert.equal(await readFile(join(dir, 'x/bin/hello'), 'utf8'), '#!/bin/sh\necho hi\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('builds from the installed kernel package and busybox, cached by content', async (t) => {
    if (!existsSync('/lib/modules') || !existsSync('/bin/busybox')) {
      if (process.env.CI === 'true') assert.fail('CI must have linux-image-cloud-amd64 and busybox-static');
      return t.skip('linux-image-cloud-amd64 or busybox-static is not installed');
    }
    const cacheRoot = await mkdtemp(join(tmpdir(), 'oneedge-kit-'));
    try {
      const kit = await buildGuestKit({ cacheRoot });
      assert.ok(existsSync(kit.kernel) && existsSync(kit.initrd));
      assert.ok(kit.vmlinux && (await readFile(kit.vmlinux)).subarray(0, 4).toString('latin1') === '\x7fELF');
      const names = kit.modules;
      assert.ok(names.indexOf('virtio_ring.ko') < names.indexOf('virtio.ko'));
      assert.ok(names.indexOf('virtio.ko') < names.indexOf('virtio_mmio.ko'));
      for (const m of ['virtio_blk.ko', 'virtio_net.ko', 'button.ko', 'evdev.ko', 'isofs.ko'])
        assert.ok(names.includes(m), m);
      const cpio = gunzipSync(await readFile(kit.initrd)).toString('latin1');
      for (const f of ['init\0', 'stage2\0', 'bin/busybox\0', 'lib/modules/load-order\0'])
        assert.ok(cpio.includes(f), f);
      const t0 = performance.now();
      const again = await buildGuestKit({ cacheRoot });
      assert.deepEqual(again, kit, 'the second build returns the cached kit');
      assert.ok(performance.now() - t0 < 2000);
      await mkdir(join(cacheRoot, 'unused'));
    } finally {
      await rm(cacheRoot, { recursive: true, force: true });
    }
  });
});
