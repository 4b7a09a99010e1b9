import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  dpdkOtherConfig,
  hugepages,
  vhostInterfaceArgs,
  vhostSocketPath,
  vhostUserPrerequisites,
} from './vhost-user.js';

describe('vhost-user host prerequisites', () => {
  let dir: string;
  let bin: string;
  let lib: string;
  let sys: string;
  const setPages = async (nr: number, free: number) => {
    const d = join(sys, 'kernel/mm/hugepages/hugepages-2048kB');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'nr_hugepages'), `${nr}\n`);
    await writeFile(join(d, 'free_hugepages'), `${free}\n`);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oneedge-vhu-'));
    bin = join(dir, 'ovs-vswitchd-dpdk');
    lib = join(dir, 'lib');
    sys = join(dir, 'sys');
    await mkdir(join(lib, 'dpdk', 'pmds-23.0'), { recursive: true });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('names the missing package, then the missing mempool driver, then the hugepage shortfall', async () => {
    const p = { vswitchd: bin, libDirs: [lib], sysRoot: sys };
    assert.match((await vhostUserPrerequisites(p)).reason ?? '', /openvswitch-switch-dpdk/);
    await writeFile(bin, '#!/bin/sh\n');
    await chmod(bin, 0o755);
    assert.match((await vhostUserPrerequisites(p)).reason ?? '', /librte-mempool-ring23/);
    await writeFile(join(lib, 'dpdk', 'pmds-23.0', 'librte_mempool_ring.so.23'), '');
    assert.match((await vhostUserPrerequisites(p)).reason ?? '', /no 2 MB hugepages/);
    await setPages(64, 10);
    assert.equal(
      (await vhostUserPrerequisites(p)).reason,
      '10 free 2 MB hugepages, DPDK needs 80 (160 MB; raise /proc/sys/vm/nr_hugepages)',
    );
    await setPages(256, 200);
    assert.deepEqual(await vhostUserPrerequisites(p), { usable: true });
    assert.deepEqual(await hugepages(sys), { total: 256, free: 200 });
  });

  it('builds the switch settings and the port as argv pieces', () => {
    assert.ok(dpdkOtherConfig().includes('other_config:dpdk-init=try'));
    assert.ok(dpdkOtherConfig().includes('other_config:dpdk-extra=--no-pci'));
    assert.ok(dpdkOtherConfig().some((s) => s.startsWith('other_config:pmd-maxsleep=')));
    assert.equal(vhostSocketPath('/st/network/vhu', 7, 1), '/st/network/vhu/vm7-nic1.sock');
    assert.deepEqual(vhostInterfaceArgs('oe7n1', '/s.sock'), [
      '--',
      'set',
      'Interface',
      'oe7n1',
      'type=dpdkvhostuserclient',
      'options:vhost-server-path=/s.sock',
    ]);
  });
});
