import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds, freshDatabase, type TestDatabase } from '../../../test/support/databases.js';
import type { HostFacts } from '../../core/agent-protocol.js';
import type { Principal } from '../../core/permissions.js';
import type { Template } from '../../core/template/index.js';
import { emptyVmBody } from '../../core/vm-body.js';
import { schedule } from '../../scheduler/index.js';
import { openStore, type Store } from '../../store/index.js';
import { ObjectService } from '../services/object-service.js';
import { VmService } from '../services/vm-service.js';
import { allocation, buildSnapshot, HOLDS_CAPACITY } from './placement.js';
import { applyPlan } from './plan-applier.js';

const SYSTEM: Principal = { uid: 0, gid: 0, groups: [0], admin: true, name: 'oneadmin' };
const FACTS: HostFacts = {
  hostname: 'h',
  arch: 'x64',
  cpus: 2,
  memoryMb: 1024,
  agentVersion: 't',
  runtimes: ['crun'],
  unusable: {},
};

function vmService(store: Store): VmService {
  const vms = new VmService(store);
  vms.bind(new ObjectService(store, {} as never));
  return vms;
}

/** One NUMA node, two cores of two threads, four 2 MB hugepages. */
const PINNED_FACTS: HostFacts = {
  ...FACTS,
  cpus: 4,
  memoryMb: 4096,
  numa: [
    {
      id: 0,
      cores: [
        { id: 0, cpus: [0, 1] },
        { id: 1, cpus: [2, 3] },
      ],
      memoryKb: 4 * 1024 * 1024,
      freeMemoryKb: 4 * 1024 * 1024,
      hugepages: [{ sizeKb: 2048, total: 4, free: 4 }],
      distance: [10],
    },
  ],
};

async function seed(
  store: Store,
  pendingVms: number,
  host: { name: string; facts: HostFacts; template: Record<string, string> } = {
    name: 'edge',
    facts: FACTS,
    template: {},
  },
  vmTemplate: Template = { MEMORY: '128', CPU: '0.5' },
): Promise<void> {
  await store.objects.create('host', {
    name: host.name,
    uid: 0,
    gid: 0,
    uname: 'oneadmin',
    gname: 'oneadmin',
    perms: 0o600,
    state: 2,
    lcmState: 0,
    template: host.template,
    body: {
      cluster_id: 0,
      im_mad: 'oneedge',
      vm_mad: 'oneedge',
      credential_hash: null,
      join_token_hash: null,
      join_token_expires: 0,
      last_agent_seq: 0,
      facts: host.facts,
      last_seen: 0,
      connected: true,
    },
  });
  for (let i = 0; i < pendingVms; i++) {
    await store.objects.create('vm', {
      name: `${host.name}-v${i}`,
      uid: 0,
      gid: 0,
      uname: 'oneadmin',
      gname: 'oneadmin',
      perms: 0o600,
      state: 1,
      lcmState: 0,
      template: vmTemplate,
      body: emptyVmBody(),
    });
  }
}

for (const label of databaseKinds()) {
  describe(`plan applier on ${label}`, () => {
    let tdb: TestDatabase;
    let a: Store;
    let b: Store;

    before(async () => {
      tdb = await freshDatabase(label);
      a = await openStore(tdb.config);
      b = await openStore(tdb.config);
      // The host has 2 CPUs; each VM asks for 0.5: room for 4 of the 8.
      await seed(a, 8);
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await tdb?.drop();
    });

    test('two front-ends applying plans from the same snapshot never over-commit the host', async () => {
      const snapshotOf = async (s: Store) => {
        const [hosts, vms] = await Promise.all([s.objects.list('host'), s.objects.list('vm')]);
        return { snap: buildSnapshot(hosts, vms, () => true), seen: new Map(vms.map((v) => [v.id, v])) };
      };
      const [sa, sb] = await Promise.all([snapshotOf(a), snapshotOf(b)]);
      // Each scheduler sees an empty host and places 4 VMs; they pick different VMs to race harder.
      const planA = schedule({ ...sa.snap, vms: sa.snap.vms.filter((v) => v.id % 2 === 0) });
      const planB = schedule({ ...sb.snap, vms: sb.snap.vms.filter((v) => v.id % 2 === 1) });
      assert.equal(planA.placements.length, 4);
      assert.equal(planB.placements.length, 4);
      const [ra, rb] = await Promise.all([
        applyPlan(a, vmService(a), SYSTEM, planA, sa.seen),
        applyPlan(b, vmService(b), SYSTEM, planB, sb.seen),
      ]);
      const placed = (await a.objects.list('vm')).filter((v) => v.body.host_id !== null);
      const cpu = placed.reduce((sum, v) => sum + Number(v.template.CPU), 0);
      assert.ok(cpu <= 2, `host over-committed: ${cpu} CPUs placed`);
      assert.equal(ra.applied.length + rb.applied.length, placed.length);
      assert.equal(
        ra.conflicts.length + rb.conflicts.length,
        8 - placed.length,
        'the rest come back to be rescheduled',
      );
      assert.ok(
        placed.every((v) => v.state === 3 && v.lcmState === 1),
        'placed VMs are in PROLOG',
      );
    });

    test('a stale plan from a second front-end never pins a taken thread nor over-reserves hugepages', async () => {
      await seed(
        a,
        6,
        { name: 'numa', facts: PINNED_FACTS, template: { PIN_POLICY: 'PINNED' } },
        { MEMORY: '4', CPU: '0.1', VCPU: '1', TOPOLOGY: { PIN_POLICY: 'THREAD', HUGEPAGE_SIZE: '2' } },
      );
      const snapshotOf = async (s: Store) => {
        const [hosts, vms] = await Promise.all([s.objects.list('host'), s.objects.list('vm')]);
        const pinned = vms.filter((v) => v.name.startsWith('numa-'));
        const snap = buildSnapshot(hosts, pinned, () => true);
        return { snap, seen: new Map(vms.map((v) => [v.id, v])) };
      };
      const [sa, sb] = await Promise.all([snapshotOf(a), snapshotOf(b)]);
      // Both see four free threads and four free pages; each plan pins two VMs (4 MB = two 2 MB pages each).
      const planA = schedule({ ...sa.snap, vms: sa.snap.vms.filter((v) => v.id % 2 === 0) });
      const planB = schedule({ ...sb.snap, vms: sb.snap.vms.filter((v) => v.id % 2 === 1) });
      assert.equal(planA.placements.length, 2);
      assert.equal(planB.placements.length, 2);
      // One after the other: the second plan's snapshot is stale, so only the re-check can catch it.
      const first = await applyPlan(a, vmService(a), SYSTEM, planA, sa.seen);
      const second = await applyPlan(b, vmService(b), SYSTEM, planB, sb.seen);
      assert.equal(first.applied.length, 2);
      assert.deepEqual(second.applied, [], 'both threads and pages are taken');
      assert.equal(second.conflicts.length, 2);
      const placed = (await a.objects.list('vm')).filter((v) => v.name.startsWith('numa-') && v.body.numa);
      const threads = placed.flatMap((v) => v.body.numa?.nodes.flatMap((n) => n.cpus) ?? []);
      assert.equal(new Set(threads).size, threads.length, `a thread is pinned twice: ${threads}`);
      const pages = placed.reduce((sum, v) => sum + (v.body.numa?.nodes[0]?.hugepages?.pages ?? 0), 0);
      assert.ok(pages <= 4, `${pages} hugepages reserved of 4`);
      assert.ok(placed.length >= 2, 'one front-end won');
    });

    test("the database's per-host sums equal allocation() for every VM holding a host", async () => {
      const templates: Template[] = [
        { CPU: '0.25', MEMORY: '100' },
        { CPU: '3', MEMORY: '2048' },
        { MEMORY: '64' },
        { CPU: '1.5' },
        { CPU: '0.333', MEMORY: '1.5' },
      ];
      const states = [3, 8, 5, 1, 6, 7]; // ACTIVE, POWEROFF, SUSPENDED hold; PENDING, DONE, FAILED do not
      const hostIds = [900, 901, 902];
      const numa = { pin_policy: 'CORE', nodes: [{ node_id: 0, cpus: [2, 3], memory_node_id: 0, memory_kb: 1024 }] };
      let n = 0;
      for (const hostId of hostIds) {
        for (const t of templates) {
          for (const state of states) {
            const pinned = n++ % 4 === 0;
            await a.objects.create('vm', {
              name: `alloc-${n}`,
              uid: 0,
              gid: 0,
              uname: 'oneadmin',
              gname: 'oneadmin',
              perms: 0o600,
              state,
              lcmState: 3,
              template: t,
              body: { ...emptyVmBody(), host_id: hostId, host_name: `h${hostId}`, ...(pinned ? { numa } : {}) },
            });
          }
        }
      }
      const holds = [...HOLDS_CAPACITY];
      const fromDb = await a.objects.transaction((tx) => tx.hostAllocations(hostIds, holds));
      for (const hostId of hostIds) {
        const vms = (await a.objects.list('vm', { hostId, includeDone: true })).filter((v) =>
          HOLDS_CAPACITY.has(v.state),
        );
        const cpu = vms.reduce((sum, v) => sum + allocation(v).cpu, 0);
        const memKb = vms.reduce((sum, v) => sum + allocation(v).memKb, 0);
        const got = fromDb.get(hostId);
        assert.equal(got?.cpu, cpu, `CPU on host ${hostId}`);
        assert.ok(Math.abs((got?.memKb ?? 0) - memKb) < 1e-6, `memory on host ${hostId}: ${got?.memKb} vs ${memKb}`);
        assert.deepEqual(
          got?.numa,
          vms.filter((v) => v.body.numa).map(() => numa),
        );
      }
      for (const v of await a.objects.list('vm', { includeDone: true })) {
        if (v.name.startsWith('alloc-')) await a.objects.delete('vm', v.id);
      }
    });

    test('a placement whose VM changed since the snapshot is a conflict; the rest of the plan applies', async () => {
      await seed(a, 2, { name: 'roomy', facts: { ...FACTS, cpus: 64, memoryMb: 65536 }, template: {} });
      const [hosts, vms] = await Promise.all([a.objects.list('host'), a.objects.list('vm')]);
      const roomy = hosts.find((h) => h.name === 'roomy');
      const [changed, untouched] = vms.filter((v) => v.name.startsWith('roomy-'));
      assert.ok(roomy && changed && untouched);
      const seen = new Map(vms.map((v) => [v.id, v]));
      await a.objects.update('vm', changed.id, undefined, (o) => ({ ...o, name: 'renamed' }));
      const plan = {
        placements: [changed, untouched].map((v) => ({
          vmId: v.id,
          hostId: roomy.id,
          datastoreId: -1,
          action: 'deploy' as const,
          nics: [],
        })),
        unplaced: [],
      };
      const r = await applyPlan(a, vmService(a), SYSTEM, plan, seen);
      assert.deepEqual(r, { applied: [untouched.id], conflicts: [changed.id] });
      const after = await a.objects.get('vm', changed.id);
      assert.equal(after?.name, 'renamed', "the user's change is kept");
      assert.equal(after?.body.host_id, null, 'and the VM stays unplaced');
      assert.equal((await a.objects.get('vm', untouched.id))?.body.host_id, roomy.id);
    });
  });
}
