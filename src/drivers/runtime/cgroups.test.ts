import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHybrid, planHybridFix } from './cgroup-fix.js';
import { cgroupDirs, layoutFromMountInfo, parseMountInfo, v1MountFor } from './cgroups.js';

/** /proc/self/mountinfo of the edge hosts (hybrid: every controller on v1, hugetlb left on v2). */
const HYBRID = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A systemd-style v1 layout with co-mounted controllers. */
const COMOUNTED = `25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
`;

const UNIFIED = `28 24 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe('cgroup layout', () => {
  it('parses mountinfo, unescaping paths', () => {
    const [entry] = parseMountInfo('50 30 0:40 / /mnt/with\\040space rw - overlay overlay rw,lowerdir=/a\n');
    assert.deepEqual(entry, {
      mountPoint: '/mnt/with space',
      fsType: 'overlay',
      source: 'overlay',
      superOptions: ['rw', 'lowerdir=/a'],
    });
  });

  it('finds each v1 controller and the v2 mount', () => {
    const layout = layoutFromMountInfo(HYBRID);
    assert.equal(v1MountFor(layout, 'cpuacct'), '/sys/fs/cgroup/cpuacct');
    assert.equal(v1MountFor(layout, 'memory'), '/sys/fs/cgroup/memory');
    assert.equal(v1MountFor(layout, 'hugetlb'), undefined);
    assert.equal(layout.v2?.mountPoint, '/sys/fs/cgroup/unified');
    assert.deepEqual(
      cgroupDirs(layout, '/oneedge/one-1'),
      ['cpu', 'cpuacct', 'cpuset', 'memory', 'systemd', 'unified'].map((c) => `/sys/fs/cgroup/${c}/oneedge/one-1`),
    );
  });

  it('handles co-mounted controllers', () => {
    const layout = layoutFromMountInfo(COMOUNTED);
    assert.equal(v1MountFor(layout, 'cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(v1MountFor(layout, 'cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  });
});

describe('hybrid cgroup fix plan', () => {
  it('mounts each controller left on v2 as its own v1 hierarchy on a hybrid host', () => {
    const layout = layoutFromMountInfo(HYBRID);
    assert.equal(isHybrid(layout), true);
    assert.deepEqual(planHybridFix(layout, ['hugetlb'], '/sys/fs/cgroup'), [
      {
        controller: 'hugetlb',
        target: '/sys/fs/cgroup/hugetlb',
        argv: ['mount', '-t', 'cgroup', '-o', 'hugetlb', 'cgroup', '/sys/fs/cgroup/hugetlb'],
      },
    ]);
  });

  it('does nothing when v2 owns no controller, or on pure v1 / pure v2 hosts', () => {
    assert.deepEqual(planHybridFix(layoutFromMountInfo(HYBRID), [], '/sys/fs/cgroup'), []);
    assert.deepEqual(planHybridFix(layoutFromMountInfo(COMOUNTED), ['hugetlb'], '/sys/fs/cgroup'), []);
    assert.equal(isHybrid(layoutFromMountInfo(UNIFIED)), false);
    assert.deepEqual(planHybridFix(layoutFromMountInfo(UNIFIED), ['memory', 'cpu'], '/sys/fs/cgroup'), []);
  });
});
