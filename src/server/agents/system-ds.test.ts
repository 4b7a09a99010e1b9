import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostFacts } from '../../core/agent-protocol.js';
import type { PoolObject } from '../../core/model.js';
import { schedule } from '../../scheduler/index.js';
import { host, vm } from '../../scheduler/testing/fixtures.js';
import { systemDiskMb, withSystemDatastores } from './system-ds.js';

const facts = (freeMb: number) => ({ systemDs: { totalMb: 100_000, freeMb } }) as HostFacts;
const image = (id: number, sizeMb: number) => ({ id, body: { size_mb: sizeMb } }) as PoolObject<'image'>;
const placedVm = (hostId: number, template: PoolObject<'vm'>['template']) =>
  ({ state: 3, body: { host_id: hostId }, template }) as unknown as PoolObject<'vm'>;

test('a VM needs its image disks and volatile disks on the system datastore', () => {
  const t = { DISK: [{ IMAGE_ID: '4' }, { TYPE: 'fs', SIZE: '300' }, { IMAGE_ID: '9' }] };
  assert.equal(
    systemDiskMb(t, (id) => (id === 4 ? 200 : 0)),
    500,
  );
});

test('the scheduler places a VM only where the host system datastore has room', () => {
  const base = { hosts: [host(0), host(1)], vms: [vm(7, { DISK: [{ IMAGE_ID: '1' }, { TYPE: 'fs', SIZE: '500' }] })] };
  const free: Record<number, number> = { 0: 600, 1: 5000 };
  // Host 0 has 600 MB free but already holds a VM with a 200 MB disk: 400 MB left, the VM needs 700.
  const snap = withSystemDatastores(
    base,
    [placedVm(0, { DISK: { SIZE: '200', TYPE: 'fs' } })],
    [image(1, 200)],
    undefined,
    (id) => facts(free[id] ?? 0),
  );
  assert.equal(snap.vms[0]?.systemDiskMb, 700);
  assert.deepEqual(
    snap.hosts.map((h) => h.datastoreFreeMb?.['0']),
    [400, 5000],
  );
  const plan = schedule(snap, {});
  assert.equal(plan.placements[0]?.hostId, 1);
  assert.equal(plan.placements[0]?.datastoreId, 0);

  const full = withSystemDatastores(base, [], [image(1, 200)], undefined, () => facts(100));
  const refused = schedule(full, {});
  assert.equal(refused.placements.length, 0);
  assert.match(refused.unplaced[0]?.message ?? '', /datastore/i);
});

test('hosts that do not report their disk leave the snapshot unchanged', () => {
  const base = { hosts: [host(0)], vms: [vm(1)] };
  assert.equal(
    withSystemDatastores(base, [], [], undefined, () => null),
    base,
  );
});
