import type { PoolObject } from '../../core/model.js';
import { hasRight } from '../../core/permissions.js';
import { getVectors } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';
import type { AccessList, SchedulerSnapshot, SnapshotNetwork } from '../../scheduler/index.js';
import { principalOf } from '../auth/sessions.js';

/*
 * NETWORK_MODE=auto NICs (OpenNebula's automatic NIC selection): the VM names
 * no network, the scheduler picks one per NIC among the networks of the
 * chosen host's cluster that the VM's owner may use, and the plan applier
 * takes the lease in the placement's transaction.
 */

/** Whether a template has a NIC still waiting for the scheduler to choose its network. */
export function hasAutoNic(t: Template): boolean {
  return getVectors(t, 'NIC').some(
    (n) => (n.NETWORK_MODE ?? '').toLowerCase() === 'auto' && n.NETWORK_ID === undefined,
  );
}

/** Free leases of a network: the size of its ranges minus what is leased, held or reserved. */
export function freeLeases(net: PoolObject<'vnet'>): number {
  const size = (net.body.ar_pool ?? []).reduce((sum, ar) => sum + ar.size, 0);
  return Math.max(0, size - (net.body.used_leases ?? 0));
}

/**
 * Adds the virtual networks and the owners' USE rights on them to a
 * snapshot, when some VM in it has an auto NIC (otherwise the snapshot is
 * returned as is: networks cost nothing to VMs that do not ask).
 */
export function withAutoNicNetworks(
  snapshot: SchedulerSnapshot,
  vnets: readonly PoolObject<'vnet'>[],
  users: readonly PoolObject<'user'>[],
): SchedulerSnapshot {
  const owners = new Set<number>();
  for (const vm of snapshot.vms) if (hasAutoNic(vm.template)) owners.add(vm.uid);
  if (owners.size === 0) return snapshot;
  const networks: SnapshotNetwork[] = vnets.map((n) => ({
    id: n.id,
    name: n.name,
    clusterIds: n.body.cluster_ids,
    freeLeases: freeLeases(n),
    usedLeases: n.body.used_leases ?? 0,
    template: { ...n.template, VN_MAD: n.body.vn_mad } as NonNullable<SnapshotNetwork['template']>,
  }));
  const byUser: Record<string, number[]> = {};
  const byId = new Map(users.map((u) => [u.id, u]));
  for (const uid of owners) {
    const user = byId.get(uid);
    const who = user ? principalOf(user) : null;
    byUser[String(uid)] = who ? vnets.filter((n) => hasRight(who, n, 'use')).map((n) => n.id) : [];
  }
  const acl: AccessList = { byUser };
  return { ...snapshot, networks, acl: { ...snapshot.acl, networks: acl } };
}
