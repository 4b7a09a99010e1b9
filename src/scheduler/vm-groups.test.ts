import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schedule } from './schedule.js';
import { host, vm } from './testing/fixtures.js';
import type { SchedulerPlan, SchedulerSnapshot, SnapshotVmGroup } from './types.js';

function hostsOf(plan: SchedulerPlan): Record<number, number> {
  return Object.fromEntries(plan.placements.map((p) => [p.vmId, p.hostId]));
}

function run(snapshot: SchedulerSnapshot): SchedulerPlan {
  const plan = schedule(snapshot);
  assert.deepEqual(schedule(snapshot, { selection: 'scan' }), plan);
  return plan;
}

const group = (roles: SnapshotVmGroup['roles'], extra: Partial<SnapshotVmGroup> = {}): SnapshotVmGroup => ({
  id: 1,
  name: 'svc',
  roles,
  ...extra,
});

describe('VM groups', () => {
  it('ANTI_AFFINED role: never two members on one host (running members count)', () => {
    const plan = run({
      hosts: [host(1), host(2), host(3, { vmIds: [10] })],
      vmGroups: [group([{ name: 'db', policy: 'ANTI_AFFINED', vmIds: [10, 11, 12, 13] }])],
      vms: [vm(11), vm(12), vm(13)],
    });
    assert.deepEqual(hostsOf(plan), { 11: 1, 12: 2 });
    assert.equal(plan.unplaced[0]!.message, 'VM group svc role db: no host satisfies the affinity rules');
  });

  it('membership may also come from the pending VM', () => {
    const plan = run({
      hosts: [host(1), host(2)],
      vmGroups: [group([{ name: 'web', policy: 'ANTI_AFFINED' }])],
      vms: [vm(1, {}, { vmGroup: { id: 1, role: 'web' } }), vm(2, {}, { vmGroup: { id: 1, role: 'web' } })],
    });
    assert.deepEqual(hostsOf(plan), { 1: 1, 2: 2 });
  });

  it('AFFINED role with a running member: the others join its host', () => {
    const plan = run({
      hosts: [host(1), host(2, { vmIds: [20], usage: { cpu: 100, memKb: 0, runningVms: 9 } }), host(3)],
      vmGroups: [group([{ name: 'app', policy: 'AFFINED', vmIds: [20, 21, 22] }])],
      vms: [vm(21), vm(22), vm(23)],
    });
    assert.deepEqual(hostsOf(plan), { 21: 2, 22: 2, 23: 1 });
  });

  it('AFFINED role with no running member: the first leads, needing room for the whole set', () => {
    // Hosts of 2 and 4 cores; three 1-CPU members need one host with 3 free cores.
    const plan = run({
      hosts: [host(1, {}, 2), host(2, {}, 4, 32)],
      vmGroups: [group([{ name: 'app', policy: 'AFFINED', vmIds: [31, 32, 33] }])],
      vms: [vm(33), vm(31, { USER_PRIORITY: '5' }), vm(32)],
    });
    assert.deepEqual(hostsOf(plan), { 31: 2, 32: 2, 33: 2 });
    assert.deepEqual(
      plan.placements.map((p) => p.vmId),
      [31, 32, 33],
      'the leader goes first; the others follow it at once',
    );
  });

  it('an affined leader also needs every member requirement to hold on its host', () => {
    const plan = run({
      hosts: [host(1, { template: { ZONE: 'a' } }), host(2, { template: { ZONE: 'b' } })],
      vmGroups: [group([{ name: 'app', policy: 'AFFINED', vmIds: [1, 2] }])],
      vms: [vm(1), vm(2, { SCHED_REQUIREMENTS: 'ZONE = b' })],
    });
    assert.deepEqual(hostsOf(plan), { 1: 2, 2: 2 });
  });

  it('a follower that cannot fit on the leader host stays pending with the reason', () => {
    const plan = run({
      hosts: [host(1), host(2, { runtimes: ['crun'] })],
      vmGroups: [group([{ name: 'app', policy: 'AFFINED', vmIds: [1, 2] }])],
      datastores: [{ id: 0, name: 's', type: 'SYSTEM', clusterIds: [0], freeMb: 100 }],
      vms: [vm(1, {}, { systemDiskMb: 60 }), vm(2, {}, { systemDiskMb: 60 })],
    });
    assert.deepEqual(hostsOf(plan), { 1: 1 });
    assert.equal(
      plan.unplaced[0]!.message,
      'affined with VM 1 on host host1, which does not fit: no system datastore with 60 MB free',
    );
  });

  it('HOST_AFFINED and HOST_ANTI_AFFINED', () => {
    const plan = run({
      hosts: [host(1), host(2), host(3)],
      vmGroups: [
        group([
          { name: 'pinned', hostAffined: [3], vmIds: [1] },
          { name: 'avoid', hostAntiAffined: [1, 2], vmIds: [2] },
          { name: 'nowhere', hostAffined: [9], vmIds: [3] },
        ]),
      ],
      vms: [vm(1), vm(2), vm(3)],
    });
    assert.deepEqual(hostsOf(plan), { 1: 3, 2: 3 });
    assert.equal(plan.unplaced[0]!.message, 'VM group svc role nowhere: no host satisfies the affinity rules');
  });

  it('inter-role ANTI_AFFINED rule: roles avoid each other, not themselves', () => {
    const plan = run({
      hosts: [host(1, { vmIds: [1] }), host(2), host(3)],
      vmGroups: [
        group(
          [
            { name: 'a', vmIds: [1, 2] },
            { name: 'b', vmIds: [3, 4] },
            { name: 'c', vmIds: [5] },
          ],
          {
            antiAffined: [['a', 'b']],
          },
        ),
      ],
      vms: [vm(2, { SCHED_RANK: 'ID' }), vm(3), vm(4), vm(5, { SCHED_REQUIREMENTS: 'ID = 1' })],
    });
    const h = hostsOf(plan);
    assert.equal(h[2], 3, 'role a itself has no rule: ranked to host 3');
    assert.equal(h[3], 2, 'b avoids hosts 1 and 3 (role a)');
    assert.equal(h[4], 2);
    assert.equal(h[5], 1, 'role c is not in the rule');
  });

  it('inter-role AFFINED rules merge through shared roles and keep the set together', () => {
    const plan = run({
      hosts: [host(1), host(2), host(3, { vmIds: [3] })],
      vmGroups: [
        group(
          [
            { name: 'a', vmIds: [1] },
            { name: 'b', vmIds: [2] },
            { name: 'c', vmIds: [3] },
          ],
          {
            affined: [
              ['a', 'b'],
              ['b', 'c'],
            ],
          },
        ),
      ],
      vms: [vm(1), vm(2)],
    });
    assert.deepEqual(hostsOf(plan), { 1: 3, 2: 3 });
  });
});
