import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PoolObject } from '../../core/model.js';
import type { HostUsage } from '../../core/monitoring.js';
import { schedule } from '../../scheduler/index.js';
import { buildSnapshot } from './placement.js';

const usage = (freeCpu: number, custom: Record<string, string> = {}): HostUsage => ({
  totalCpu: 400,
  usedCpu: 400 - freeCpu,
  freeCpu,
  totalMemoryKb: 8_000_000,
  usedMemoryKb: 1_000_000,
  freeMemoryKb: 7_000_000,
  netRxBytes: 10,
  netTxBytes: 20,
  numa: [],
  custom,
  probeErrors: [],
});
const host = (id: number, u: HostUsage | null) =>
  ({
    id,
    name: `h${id}`,
    state: 2,
    template: {},
    body: {
      cluster_id: 0,
      facts: { cpus: 4, memoryMb: 8192, runtimes: ['crun'] },
      monitoring: u ? { ts: 1, usage: u, datastore: null } : null,
    },
  }) as unknown as PoolObject<'host'>;
const pending = (id: number, template: Record<string, string>) =>
  ({
    id,
    uid: 0,
    gid: 0,
    state: 1,
    lcmState: 0,
    template: { CPU: '1', MEMORY: '64', ...template },
    body: { host_id: null, history: [] },
  }) as unknown as PoolObject<'vm'>;

test('pushed monitoring reaches the snapshot as OpenNebula MONITORING attributes', () => {
  const snap = buildSnapshot([host(1, usage(100, { GPU_MODEL: 'T4' })), host(2, null)], [], () => true);
  assert.deepEqual(snap.hosts[0]?.monitoring, {
    GPU_MODEL: 'T4',
    FREE_CPU: 100,
    USED_CPU: 300,
    FREE_MEMORY: 7_000_000,
    USED_MEMORY: 1_000_000,
    NETRX: 10,
    NETTX: 20,
  });
  assert.equal(snap.hosts[1]?.monitoring, undefined, 'a host that never reported has none');
});

test('ranks and requirements use the monitored figures and probe attributes', () => {
  const hosts = [host(1, usage(50)), host(2, usage(350)), host(3, usage(390, { GPU_MODEL: 'T4' }))];
  const vms = [pending(10, { SCHED_RANK: 'FREE_CPU' }), pending(11, { SCHED_REQUIREMENTS: 'GPU_MODEL = "T*"' })];
  const plan = schedule(
    buildSnapshot(hosts, vms, () => true),
    {},
  );
  const where = new Map(plan.placements.map((p) => [p.vmId, p.hostId]));
  assert.equal(where.get(10), 3, 'the host with the most free CPU as measured');
  assert.equal(where.get(11), 3, 'only host 3 reports a GPU');
});
