import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { lstat, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxRootfs, isStaticElf, packRootfs, unpackRootfs } from './busybox-rootfs.js';

function busyboxMissing(): string | false {
  if (process.env.CI === 'true') return false;
  try {
    accessSync('/bin/busybox', constants.X_OK);
    return false;
  } catch {
    return 'busybox-static is not installed (apt-get install busybox-static)';
  }
}

describe('busybox root filesystem', { skip: busyboxMissing() }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oneedge-bb-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds bin/busybox, applet links, passwd/group and the mount points', async () => {
    const root = join(dir, 'root');
    const { applets } = await buildBusyboxRootfs(root);
    assert.ok(applets > 100, `${applets} applets`);
    assert.equal(await isStaticElf(join(root, 'bin/busybox')), true);
    assert.equal(await readlink(join(root, 'bin/sh')), 'busybox');
    assert.equal((await stat(join(root, 'bin/sh'))).isFile(), true, 'links resolve inside the image');
    assert.match(await readFile(join(root, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
    assert.match(await readFile(join(root, 'etc/group'), 'utf8'), /^root:x:0:/);
    for (const d of ['tmp', 'proc', 'sys', 'dev', 'context', 'root'])
      assert.ok((await stat(join(root, d))).isDirectory(), d);
    assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
  });

  it('packs to a tarball and unpacks to the same tree, links kept as links', async () => {
    const tarball = join(dir, 'busybox.tar.gz');
    await packRootfs(join(dir, 'root'), tarball);
    const out = join(dir, 'cache', 'busybox');
    await unpackRootfs(tarball, out);
    assert.equal((await lstat(join(out, 'bin/sh'))).isSymbolicLink(), true);
    assert.equal(
      await readlink(join(out, 'usr/bin/wget')).catch(() => readlink(join(out, 'bin/wget'))),
      await readlink(join(dir, 'root', 'usr/bin/wget')).catch(() => readlink(join(dir, 'root', 'bin/wget'))),
    );
    assert.deepEqual(await readFile(join(out, 'bin/busybox')), await readFile('/bin/busybox'));
    assert.equal((await stat(join(out, 'bin/busybox'))).mode & 0o111, 0o111);
    await unpackRootfs(tarball, out);
  });

  it('refuses a dynamically linked busybox', async () => {
    await assert.rejects(buildBusyboxRootfs(join(dir, 'dyn'), { busybox: process.execPath }), /not a static binary/);
  });
});
