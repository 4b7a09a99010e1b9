import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCpu, buildEnv, buildHugepageLimits, buildNamespaces, buildOciConfig } from './oci-spec.js';
import type { WorkloadSpec } from './types.js';

const spec: WorkloadSpec = {
  vmId: 42,
  name: 'one-42',
  workDir: '/var/lib/oneedge/w/42',
  rootfs: '/var/lib/oneedge/images/busybox',
  cpu: 0.5,
  vcpu: 1,
  memoryMb: 32,
  cpuSet: [3, 1],
  env: { PATH: '/custom', EXTRA: 'x' },
  context: { NETWORK: 'YES', EXTRA: 'from-context' },
  logPath: '/var/log/one-42.log',
};

describe('OCI config', () => {
  const config = buildOciConfig({
    spec,
    args: ['/bin/sh'],
    rootPath: '/w/rootfs-merged',
    contextDir: '/w/context',
    cgroupsPath: '/oneedge/one-42',
  });

  it('a mount with rslave propagation gets the option and a non-private root (hot-plugged disks reach it)', () => {
    const plain = config;
    assert.equal(plain.linux.rootfsPropagation, undefined);
    const hot = buildOciConfig({
      spec: { ...spec, mounts: [{ source: '/w/mnt', destination: '/mnt', readonly: false, propagation: 'rslave' }] },
      args: ['/bin/sh'],
      rootPath: '/w/rootfs-merged',
      contextDir: '/w/context',
      cgroupsPath: '/oneedge/one-42',
    });
    assert.equal(hot.linux.rootfsPropagation, 'rslave');
    assert.deepEqual(hot.mounts.at(-1), {
      destination: '/mnt',
      type: 'bind',
      source: '/w/mnt',
      options: ['rbind', 'rw', 'nosuid', 'nodev', 'rslave'],
    });
  });

  it('runs without a terminal, as root, with the given argv', () => {
    assert.equal(config.process.terminal, false);
    assert.deepEqual(config.process.args, ['/bin/sh']);
    assert.equal(config.process.cwd, '/');
    assert.equal(config.hostname, 'one-42');
    assert.deepEqual(config.root, { path: '/w/rootfs-merged', readonly: false });
  });

  it('limits memory in bytes, CPU as shares and VCPU as quota/period, pins cpus sorted', () => {
    assert.deepEqual(config.linux.resources.memory, { limit: 32 * 1024 * 1024 });
    assert.deepEqual(config.linux.resources.cpu, { quota: 100_000, period: 100_000, shares: 512, cpus: '1,3' });
    assert.equal(config.linux.cgroupsPath, '/oneedge/one-42');
  });

  it('mounts proc, sysfs read-only, dev, devpts, shm, mqueue and /context read-only', () => {
    const byDest = new Map(config.mounts.map((m) => [m.destination, m]));
    assert.deepEqual([...byDest.keys()].sort(), [
      '/context',
      '/dev',
      '/dev/mqueue',
      '/dev/pts',
      '/dev/shm',
      '/proc',
      '/sys',
    ]);
    assert.ok(byDest.get('/sys')?.options?.includes('ro'));
    assert.equal(byDest.get('/context')?.source, '/w/context');
    assert.ok(byDest.get('/context')?.options?.includes('ro'));
  });

  it('environment: defaults, then CONTEXT, then env (explicit env wins)', () => {
    const env = buildEnv(spec);
    assert.ok(env.includes('PATH=/custom'));
    assert.ok(env.includes('EXTRA=x'));
    assert.ok(env.includes('NETWORK=YES'));
    assert.ok(env.includes('HOME=/root'));
    assert.equal(env.filter((e) => e.startsWith('EXTRA=')).length, 1);
  });

  it('shares the host network for host/undefined and joins a given netns path', () => {
    const types = (ns: ReturnType<typeof buildNamespaces>): string[] => ns.map((n) => n.type);
    assert.deepEqual(types(buildNamespaces(undefined)), ['pid', 'ipc', 'uts', 'mount']);
    assert.deepEqual(types(buildNamespaces('host')), ['pid', 'ipc', 'uts', 'mount']);
    assert.deepEqual(buildNamespaces('/var/run/netns/oe-h1').at(-1), { type: 'network', path: '/var/run/netns/oe-h1' });
  });

  it('CPU sets the share (at least the kernel minimum of 2), VCPU the quota', () => {
    assert.equal(buildCpu({ ...spec, cpu: 0, vcpu: 0, cpuSet: [] }), undefined);
    assert.equal(buildCpu({ ...spec, cpu: 0.001, cpuSet: [] })?.shares, 2);
    assert.equal(buildCpu({ ...spec, cpu: 0.1, vcpu: 1, cpuSet: [] })?.quota, 100_000, 'CPU does not throttle');
    assert.equal(buildCpu({ ...spec, cpu: 2, vcpu: 4, cpuSet: [] })?.quota, 400_000);
    assert.equal(buildCpu({ ...spec, cpu: 2, vcpu: 4, cpuSet: [] })?.shares, 2048);
    assert.equal(buildCpu({ ...spec, cpuSet: [3, 1], memoryNodes: [1, 0] })?.mems, '0,1', 'pinned memory nodes');
  });

  it('reserves hugepages as hugetlb limits named like the kernel files, per page size', () => {
    assert.equal(buildHugepageLimits(spec), undefined);
    assert.equal(buildHugepageLimits({ ...spec, hugepages: [{ sizeKb: 2048, pages: 0 }] }), undefined);
    assert.deepEqual(
      buildHugepageLimits({
        ...spec,
        hugepages: [
          { sizeKb: 2048, pages: 16 },
          { sizeKb: 1024 * 1024, pages: 2 },
        ],
      }),
      [
        { pageSize: '2MB', limit: 32 * 1024 * 1024 },
        { pageSize: '1GB', limit: 2 * 1024 * 1024 * 1024 },
      ],
    );
    const config = buildOciConfig({
      spec: { ...spec, hugepages: [{ sizeKb: 2048, pages: 4 }] },
      args: ['/bin/sh'],
      rootPath: '/r',
      contextDir: '/c',
      cgroupsPath: '/oneedge/one-42',
    });
    assert.deepEqual(config.linux.resources.hugepageLimits, [{ pageSize: '2MB', limit: 8 * 1024 * 1024 }]);
  });
});
