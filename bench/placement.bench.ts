/**
 * End-to-end placement (issue #5): 100,000 pending VMs in a SQLite store,
 * placed on 2,500 and on 10,000 hosts by exactly what the lifecycle
 * controller runs in a scheduling pass — load hosts and VMs from the store,
 * build the snapshot, run the pure scheduler, commit the plan with the plan
 * applier (revision checks, per-host compare-and-set, capacity and NUMA
 * re-checks, one transaction) — timed phase by phase.
 *
 *   npm run build && node dist/bench/placement.bench.js
 *   BENCH_HOSTS=2500 BENCH_CPU_PROFILE=/tmp node dist/bench/placement.bench.js   (profile the pass)
 *
 * Hosts: 32–64 cores, 128–512 GB, host templates (HYPERVISOR, ZONE, RACK,
 * PRIORITY, CPU_MODEL), half with a 2-node NUMA topology (SMT 2, 1 GB
 * hugepages), one in five `PIN_POLICY = PINNED`. VMs: 58 % plain, 20 % with
 * SCHED_REQUIREMENTS (globs, numbers, `@>`, `|`/`!`), 12 % with SCHED_RANK,
 * 10 % pinned NUMA VMs (CORE/THREAD/SHARED, half with hugepages). VM groups
 * are not in the store's snapshot yet; the pure-scheduler benchmark covers them.
 *
 * Prints figures and ratios only; no assertions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostFacts, NumaNodeFacts } from '../src/core/agent-protocol.js';
import type { PoolObject } from '../src/core/model.js';
import type { Principal } from '../src/core/permissions.js';
import { Prng } from '../src/core/template/testing/prng.js';
import type { Template } from '../src/core/template/types.js';
import { emptyVmBody } from '../src/core/vm-body.js';
import { schedule } from '../src/scheduler/index.js';
import { buildSnapshot } from '../src/server/agents/placement.js';
import { applyPlan } from '../src/server/agents/plan-applier.js';
import { VmCache } from '../src/server/agents/vm-cache.js';
import { ObjectService } from '../src/server/services/object-service.js';
import { VmService } from '../src/server/services/vm-service.js';
import { openStore, type Store } from '../src/store/index.js';
import { MeasuredProfile } from './support/profile.js';

const VMS = Number(process.env.BENCH_VMS ?? 100_000);
const HOST_COUNTS = (process.env.BENCH_HOSTS ?? '2500,10000').split(',').map(Number);
const GOAL = 20_000;
const SYSTEM: Principal = { uid: 0, gid: 0, groups: [0], admin: true, name: 'oneadmin' };

const REQUIREMENTS = [
  'HYPERVISOR = "kvm" & TOTALCPU > 3200',
  'NAME = "edge-paris-*"',
  'NAME = "edge-*-1???"',
  'ZONE = "zone-1*" | RACK = 12',
  '"TAGS" @> ssd & !(TAGS @> gpu)',
  'CPU_MODEL = "EPYC*" & RUNNING_VMS < 60',
  'PRIORITY > 3 & ARCH = x86_64',
  'TOTALMEMORY > $MEMORY',
];
const RANKS = ['-RUNNING_VMS + PRIORITY', 'TOTALMEMORY / 1024 - RUNNING_VMS * 100', 'RUNNING_VMS', 'PRIORITY'];
const SITES = ['paris', 'berlin', 'madrid', 'lisbon'];

function numa(): NumaNodeFacts[] {
  let cpu = 0;
  return [0, 1].map((n) => ({
    id: n,
    cores: Array.from({ length: 16 }, (_, c) => ({ id: n * 16 + c, cpus: [cpu++, cpu++] })),
    memoryKb: 128 * 1024 * 1024,
    freeMemoryKb: 120 * 1024 * 1024,
    hugepages: [{ sizeKb: 1024 * 1024, total: 64, free: 64 }],
    distance: n === 0 ? [10, 21] : [21, 10],
  }));
}

function hostObject(rng: Prng, i: number) {
  const group = Math.floor(i / 4);
  const withNuma = group % 2 === 0;
  const pinned = group % 10 === 0 || group % 10 === 4;
  const facts: HostFacts = {
    hostname: `h${i}`,
    arch: 'x86_64',
    cpus: withNuma ? 64 : rng.pick([32, 48, 64]),
    memoryMb: withNuma ? 256 * 1024 : rng.pick([128, 256, 384, 512]) * 1024,
    agentVersion: 'bench',
    runtimes: rng.chance(0.7) ? ['crun', 'qemu'] : ['crun'],
    unusable: {},
    ...(withNuma ? { numa: numa() } : {}),
  };
  const template: Template = {
    HYPERVISOR: rng.chance(0.7) ? 'kvm' : 'lxc',
    ARCH: 'x86_64',
    CPU_MODEL: rng.pick(['EPYC-7543', 'Xeon-6338', 'EPYC-9354']),
    ZONE: `zone-${i % 12}`,
    RACK: String(i % 40),
    PRIORITY: String(rng.int(0, 9)),
    TAGS: rng.pick(['ssd', 'ssd gpu', 'hdd', 'ssd sriov']),
    TOTALCPU: String(facts.cpus * 100),
    TOTALMEMORY: String(facts.memoryMb * 1024),
    ...(pinned ? { PIN_POLICY: 'PINNED' } : {}),
  };
  return {
    name: `edge-${SITES[i % SITES.length]}-${String(i).padStart(5, '0')}`,
    uid: 0,
    gid: 0,
    uname: 'oneadmin',
    gname: 'oneadmin',
    perms: 0o600,
    state: 2, // MONITORED
    lcmState: 0,
    template,
    body: {
      cluster_id: 0,
      im_mad: 'oneedge',
      vm_mad: 'oneedge',
      credential_hash: null,
      join_token_hash: null,
      join_token_expires: 0,
      last_agent_seq: 0,
      facts,
      last_seen: 0,
      connected: true,
    },
  };
}

function vmObject(rng: Prng, i: number) {
  const roll = rng.next();
  const template: Template = {
    CPU: rng.pick(['0.25', '0.5', '1']),
    VCPU: String(rng.pick([1, 2])),
    MEMORY: String(rng.pick([256, 512, 1024, 2048])),
  };
  if (roll < 0.2) template.SCHED_REQUIREMENTS = rng.pick(REQUIREMENTS);
  else if (roll < 0.32) template.SCHED_RANK = rng.pick(RANKS);
  else if (roll < 0.42) {
    template.VCPU = '2';
    template.MEMORY = '2048';
    template.TOPOLOGY = {
      PIN_POLICY: rng.pick(['CORE', 'THREAD', 'SHARED']),
      ...(rng.chance(0.5) ? { HUGEPAGE_SIZE: '1024' } : {}),
    };
  }
  return {
    name: `vm-${i}`,
    uid: 0,
    gid: 0,
    uname: 'oneadmin',
    gname: 'oneadmin',
    perms: 0o600,
    state: 1, // PENDING
    lcmState: 0,
    template,
    body: emptyVmBody(),
  };
}

async function seed(store: Store, hosts: number, vms: number): Promise<void> {
  const rng = new Prng(42);
  await store.objects.transaction(async (tx) => {
    for (let i = 0; i < hosts; i++) await tx.create('host', hostObject(rng, i));
  });
  for (let start = 0; start < vms; start += 10_000) {
    await store.objects.transaction(async (tx) => {
      for (let i = start; i < Math.min(vms, start + 10_000); i++) await tx.create('vm', vmObject(rng, i));
    });
  }
}

interface Run {
  hosts: number;
  placed: number;
  unplaced: number;
  conflicts: number;
  loadMs: number;
  snapshotMs: number;
  scheduleMs: number;
  applyMs: number;
  cpuMs: number;
  /** CPU of each phase: load, snapshot, schedule, apply. */
  phaseCpuMs: [number, number, number, number];
  /** A later pass with ARRIVALS new VMs among the placed fleet: VMs kept by the cache vs re-read. */
  steady: { cached: SteadyPass; reread: SteadyPass };
}

interface SteadyPass {
  ms: number;
  cpuMs: number;
  placed: number;
  rowsRead: number;
}

const ARRIVALS = 1_000;

/** One pass as the controller runs it once most VMs are placed, ARRIVALS of them new. */
async function steadyPass(
  store: Store,
  vms: VmService,
  rng: Prng,
  firstId: number,
  list: () => Promise<PoolObject<'vm'>[]>,
): Promise<Omit<SteadyPass, 'rowsRead'>> {
  await store.objects.transaction(async (tx) => {
    for (let i = 0; i < ARRIVALS; i++) await tx.create('vm', vmObject(rng, firstId + i));
  });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const [hostObjs, vmObjs] = await Promise.all([store.objects.list('host'), list()]);
  const plan = schedule(buildSnapshot(hostObjs, vmObjs, () => true));
  const r = await applyPlan(store, vms, SYSTEM, plan, new Map(vmObjs.map((v) => [v.id, v])));
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, placed: r.applied.length };
}

async function run(hosts: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'oneedge-placement-'));
  const store = await openStore({ kind: 'sqlite', path: join(dir, 'one.db') });
  try {
    await seed(store, hosts, VMS);
    const vmsService = new VmService(store);
    vmsService.bind(new ObjectService(store, {} as never));
    const profile = new MeasuredProfile();
    await profile.start();
    const cpu0 = process.cpuUsage();
    const cpuNow = () => {
      const c = process.cpuUsage(cpu0);
      return (c.user + c.system) / 1000;
    };
    const t0 = performance.now();
    const [hostObjs, vmObjs] = await Promise.all([store.objects.list('host'), store.objects.list('vm')]);
    const t1 = performance.now();
    const c1 = cpuNow();
    const snapshot = buildSnapshot(hostObjs, vmObjs, () => true);
    const t2 = performance.now();
    const c2 = cpuNow();
    const plan = schedule(snapshot);
    const t3 = performance.now();
    const c3 = cpuNow();
    const known = new Map(vmObjs.map((v) => [v.id, v]));
    const applied = await applyPlan(store, vmsService, SYSTEM, plan, known);
    const t4 = performance.now();
    const c4 = cpuNow();
    await profile.stop(`placement-${hosts}`);
    // Steady state: the controller's VM cache holds the placed fleet; new VMs arrive.
    const cache = new VmCache(store);
    cache.start();
    await cache.list();
    const read0 = cache.stats.reads;
    const rng = new Prng(7);
    const cached = await steadyPass(store, vmsService, rng, VMS, () => cache.list());
    const rowsCached = cache.stats.reads - read0;
    cache.stop();
    let rowsReread = 0;
    const reread = await steadyPass(store, vmsService, rng, VMS + ARRIVALS, async () => {
      const all = await store.objects.list('vm');
      rowsReread = all.length;
      return all;
    });
    return {
      hosts,
      placed: applied.applied.length,
      unplaced: plan.unplaced.length,
      conflicts: applied.conflicts.length,
      loadMs: t1 - t0,
      snapshotMs: t2 - t1,
      scheduleMs: t3 - t2,
      applyMs: t4 - t3,
      cpuMs: c4,
      phaseCpuMs: [c1, c2 - c1, c3 - c2, c4 - c3],
      steady: { cached: { ...cached, rowsRead: rowsCached }, reread: { ...reread, rowsRead: rowsReread } },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`End-to-end placement: ${fmt(VMS)} pending VMs in SQLite, one scheduling pass`);
const results: Run[] = [];
for (const hosts of HOST_COUNTS) {
  const r = await run(hosts);
  results.push(r);
  const total = r.loadMs + r.snapshotMs + r.scheduleMs + r.applyMs;
  console.log(
    `\n${fmt(hosts)} hosts: ${fmt(r.placed)} placed, ${fmt(r.unplaced)} unplaced, ${fmt(r.conflicts)} conflicts`,
  );
  console.log(
    `  load ${fmt(r.loadMs)} ms · snapshot ${fmt(r.snapshotMs)} ms · schedule ${fmt(r.scheduleMs)} ms · apply ${fmt(r.applyMs)} ms · total ${fmt(total)} ms`,
  );
  console.log(`  CPU per phase (ms): ${r.phaseCpuMs.map(fmt).join(' · ')} · total ${fmt(r.cpuMs)}`);
  console.log(
    `  placements/s end to end: ${fmt((r.placed / total) * 1000)} (${(((r.placed / total) * 1000) / GOAL).toFixed(2)}× the ${fmt(GOAL)}/s goal); per CPU-second: ${fmt((r.placed / r.cpuMs) * 1000)}`,
  );
  console.log(
    `  scheduler alone: ${fmt(((r.placed + r.unplaced) / r.scheduleMs) * 1000)} VMs/s; applier alone: ${fmt((r.placed / r.applyMs) * 1000)} placements/s`,
  );
  const { cached, reread } = r.steady;
  console.log(
    `  a later pass, ${fmt(ARRIVALS)} new VMs among the placed fleet: ${fmt(cached.ms)} ms (${fmt(cached.cpuMs)} ms CPU, ${fmt(cached.rowsRead)} VM rows read, ${fmt(cached.placed)} placed) with the controller's VM cache; ${fmt(reread.ms)} ms (${fmt(reread.cpuMs)} ms CPU, ${fmt(reread.rowsRead)} rows) re-reading every VM — ×${(reread.cpuMs / cached.cpuMs).toFixed(1)}`,
  );
}
if (results.length >= 2) {
  const [a, b] = results as [Run, Run];
  console.log(
    `\nGrowth ${fmt(a.hosts)} → ${fmt(b.hosts)} hosts (×${(b.hosts / a.hosts).toFixed(1)}): schedule ×${(b.scheduleMs / a.scheduleMs).toFixed(2)}, apply ×${(b.applyMs / a.applyMs).toFixed(2)}, snapshot ×${(b.snapshotMs / a.snapshotMs).toFixed(2)}`,
  );
}
