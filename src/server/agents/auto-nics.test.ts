import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PoolObject } from '../../core/model.js';
import { schedule } from '../../scheduler/index.js';
import { host, vm } from '../../scheduler/testing/fixtures.js';
import { freeLeases, hasAutoNic, withAutoNicNetworks } from './auto-nics.js';

const vnet = (id: number, name: string, o: { uid?: number; perms?: number; size?: number; used?: number } = {}) =>
  ({
    id,
    name,
    uid: o.uid ?? 0,
    gid: 0,
    perms: o.perms ?? 0o600,
    template: { TRAFFIC: id === 1 ? 'public' : 'private' },
    body: {
      cluster_ids: [0],
      vn_mad: 'vxlan',
      bridge: `onebr${id}`,
      ar_pool: [{ ar_id: 0, type: 'IP4', size: o.size ?? 10, mac: '02:00:0a:00:00:01', ip: '10.0.0.1' }],
      used_leases: o.used ?? 0,
    },
  }) as unknown as PoolObject<'vnet'>;
const user = (id: number) => ({ id, gid: 1, name: `u${id}`, body: { groups: [1] } }) as unknown as PoolObject<'user'>;
const owned = (id: number, uid: number, nic: Record<string, string>) => ({ ...vm(id, { NIC: nic }), uid, gid: 1 });

test('a NIC waits for the scheduler only while it has NETWORK_MODE=auto and no network', () => {
  assert.equal(hasAutoNic({ NIC: { NETWORK_MODE: 'AUTO' } }), true);
  assert.equal(hasAutoNic({ NIC: [{ NETWORK: 'a' }, { NETWORK_MODE: 'auto' }] }), true);
  assert.equal(hasAutoNic({ NIC: { NETWORK_MODE: 'auto', NETWORK_ID: '3' } }), false, 'already leased');
  assert.equal(hasAutoNic({ NIC: { NETWORK: 'a' } }), false);
});

test('free leases are the ranges minus what is used', () => {
  assert.equal(freeLeases(vnet(1, 'a', { size: 10, used: 4 })), 6);
  assert.equal(freeLeases(vnet(1, 'a', { size: 2, used: 5 })), 0);
});

test('networks reach the snapshot only for auto NICs, with the owners USE rights', () => {
  const nets = [vnet(1, 'public', { uid: 5 }), vnet(2, 'mine', { uid: 6 }), vnet(3, 'shared', { perms: 0o604 })];
  const plain = { hosts: [host(0)], vms: [owned(10, 5, { NETWORK: 'public' })] };
  assert.equal(withAutoNicNetworks(plain, nets, [user(5)]), plain, 'nothing added without auto NICs');

  const snap = withAutoNicNetworks(
    { hosts: [host(0)], vms: [owned(10, 5, { NETWORK_MODE: 'auto' }), owned(11, 6, { NETWORK_MODE: 'auto' })] },
    nets,
    [user(5), user(6)],
  );
  assert.deepEqual(
    snap.networks?.map((n) => [n.id, n.freeLeases, n.template?.VN_MAD]),
    [
      [1, 10, 'vxlan'],
      [2, 10, 'vxlan'],
      [3, 10, 'vxlan'],
    ],
  );
  // Each user may use their own network and the one others may use; not each other's.
  assert.deepEqual(snap.acl?.networks?.byUser, { 5: [1, 3], 6: [2, 3] });
  const plan = schedule(snap, { networkPolicy: 'fixed' });
  const chosen = new Map(plan.placements.map((p) => [p.vmId, p.nics.map((n) => n.networkId)]));
  assert.ok([1, 3].includes(chosen.get(10)?.[0] as number));
  assert.ok([2, 3].includes(chosen.get(11)?.[0] as number));
});

test('an unknown owner may use no network: the VM stays pending with the reason', () => {
  const snap = withAutoNicNetworks(
    { hosts: [host(0)], vms: [owned(10, 42, { NETWORK_MODE: 'auto' })] },
    [vnet(1, 'a')],
    [],
  );
  const plan = schedule(snap, {});
  assert.equal(plan.placements.length, 0);
  assert.match(plan.unplaced[0]?.message ?? '', /NETWORK_MODE=auto/);
});
