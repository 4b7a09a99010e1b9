import type { HostFacts } from '../../core/agent-protocol.js';
import type { PoolObject } from '../../core/model.js';
import { getVectors } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';
import type { SchedulerSnapshot, SnapshotDatastore } from '../../scheduler/index.js';
import { HOLDS_CAPACITY } from './placement.js';

/** The system datastore every host has locally (OpenNebula's default `system`, TM local). */
const SYSTEM_DS = 0;

/**
 * MB a VM needs on its host's system datastore: each image disk (the cached
 * image plus the VM's copy-on-write layer or own copy, counted at the image
 * size like OpenNebula does for cloned disks) and each volatile disk's SIZE.
 */
export function systemDiskMb(template: Template, imageMb: (id: number) => number): number {
  let mb = 0;
  for (const d of getVectors(template, 'DISK')) {
    if (d.IMAGE_ID !== undefined && /^\d+$/.test(d.IMAGE_ID)) mb += imageMb(Number(d.IMAGE_ID));
    else if (d.SIZE !== undefined && Number.isInteger(Number(d.SIZE))) mb += Number(d.SIZE);
  }
  return mb;
}

/**
 * Adds the per-host system datastore to a scheduler snapshot: each host's
 * free space as its agent measured it (`facts.systemDs`) minus what the VMs
 * it holds need, and each pending VM's disk requirement. The scheduler's
 * `datastore-room` filter then keeps VMs off hosts whose disk is too full.
 * Unchanged when no host reports its disk (older agents).
 */
export function withSystemDatastores(
  snapshot: SchedulerSnapshot,
  vms: readonly PoolObject<'vm'>[],
  images: readonly PoolObject<'image'>[],
  datastore: PoolObject<'datastore'> | undefined,
  facts: (hostId: number) => HostFacts | null | undefined,
): SchedulerSnapshot {
  const reporting = snapshot.hosts.filter((h) => facts(h.id)?.systemDs);
  if (reporting.length === 0 || snapshot.vms.length === 0) return snapshot;
  const sizes = new Map(images.map((i) => [i.id, i.body.size_mb]));
  const need = (t: Template) => systemDiskMb(t, (id) => sizes.get(id) ?? 0);
  const held = new Map<number, number>();
  for (const vm of vms) {
    const h = vm.body.host_id;
    if (h === null || !HOLDS_CAPACITY.has(vm.state)) continue;
    held.set(h, (held.get(h) ?? 0) + need(vm.template));
  }
  const ds: SnapshotDatastore = {
    id: SYSTEM_DS,
    name: datastore?.name ?? 'system',
    type: 'SYSTEM',
    clusterIds: datastore?.body.cluster_ids ?? [0],
    freeMb: 0,
    shared: false,
    ...(datastore ? { template: datastore.template as NonNullable<SnapshotDatastore['template']> } : {}),
  };
  return {
    ...snapshot,
    datastores: [...(snapshot.datastores ?? []), ds],
    hosts: snapshot.hosts.map((h) => {
      const disk = facts(h.id)?.systemDs;
      const free = disk ? Math.max(0, disk.freeMb - (held.get(h.id) ?? 0)) : 0;
      return { ...h, datastoreFreeMb: { ...(h.datastoreFreeMb ?? {}), [String(SYSTEM_DS)]: free } };
    }),
    vms: snapshot.vms.map((v) => ({ ...v, systemDiskMb: (v.systemDiskMb ?? 0) + need(v.template) })),
  };
}
