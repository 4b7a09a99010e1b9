import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOneError } from '../../core/errors.js';
import { runtimeConformance } from './conformance.js';
import { MockDriver } from './mock-driver.js';
import { MockFaultError, MockRuntimeWorld } from './mock-world.js';
import type { WorkloadSpec } from './types.js';

const signal = (): AbortSignal => AbortSignal.timeout(5000);

function spec(n: number, overrides: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    vmId: n,
    name: `one-${n}`,
    workDir: `/nonexistent/mock/${n}`,
    rootfs: '/nonexistent/image',
    cpu: 1,
    vcpu: 1,
    memoryMb: 128,
    env: {},
    context: {},
    logPath: `/nonexistent/mock/${n}.log`,
    ...overrides,
  };
}

{
  const world = new MockRuntimeWorld();
  let latest: MockDriver | undefined;
  runtimeConformance(
    'mock',
    () => {
      latest = new MockDriver({ world });
      return latest;
    },
    {
      rootfs: '/nonexistent/image',
      realProcesses: false,
      readLimits: async (handle) => latest?.limitsOf(handle.name) ?? {},
      selfExit: async (handle, code) => world.exit(handle.name, code),
      leftovers: async (handle) => (world.workloads.has(handle.name) ? [`mock workload ${handle.name}`] : []),
    },
  );
}

{
  const world = new MockRuntimeWorld();
  runtimeConformance(
    'mock without reboot and suspend',
    () => new MockDriver({ world, capabilities: { reboot: false, suspend: false } }),
    { rootfs: '/nonexistent/image', realProcesses: false },
  );
}

describe('MockDriver', () => {
  it('handles thousands of workloads with deterministic pids', async () => {
    const world = new MockRuntimeWorld({ firstPid: 100 });
    const driver = new MockDriver({ world });
    const t0 = performance.now();
    const handles = await Promise.all(
      Array.from({ length: 5000 }, async (_, i) => driver.start(await driver.create(spec(i), signal()), signal())),
    );
    const elapsed = performance.now() - t0;
    assert.equal((await driver.list(signal())).length, 5000);
    assert.ok(elapsed < 5000, `5000 create+start took ${elapsed} ms`);
    const pids = new Set(handles.map((h) => h.data.pid));
    assert.equal(pids.size, 5000);
    assert.equal(Math.min(...(pids as Set<number>)), 100);
    assert.equal(world.calls.create, 5000);
    for (const h of handles.slice(0, 2500)) await driver.destroy(h, signal());
    assert.equal((await driver.list(signal())).length, 2500);
  });

  it('a new driver on the same world re-attaches; on a new world the workload is missing', async () => {
    const world = new MockRuntimeWorld();
    const first = new MockDriver({ world });
    const handle = await first.start(await first.create(spec(1), signal()), signal());
    const again = new MockDriver({ world });
    assert.deepEqual(await again.recover(handle, signal()), handle);
    assert.equal((await again.inspect(handle, signal())).pid, handle.data.pid);
    const elsewhere = new MockDriver({ world: new MockRuntimeWorld() });
    assert.equal((await elsewhere.inspect(handle, signal())).state, 'missing');
  });

  it('injects failures, optionally per workload and for a number of calls', async () => {
    const world = new MockRuntimeWorld();
    const driver = new MockDriver({ world });
    world.failNext('create', { times: 2 });
    await assert.rejects(driver.create(spec(1), signal()), MockFaultError);
    await assert.rejects(driver.create(spec(1), signal()), (err: unknown) =>
      (err as MockFaultError).stderr.includes('create'),
    );
    const h1 = await driver.create(spec(1), signal());
    const h2 = await driver.create(spec(2), signal());
    world.failNext('start', { name: 'one-2', error: () => new Error('boom') });
    await driver.start(h1, signal());
    await assert.rejects(driver.start(h2, signal()), /boom/);
    await driver.start(h2, signal());
  });

  it('adds latency that an abort cuts short', async () => {
    const world = new MockRuntimeWorld();
    const driver = new MockDriver({ world });
    world.setLatency('inspect', 50);
    const h = await driver.create(spec(1), signal());
    const t0 = performance.now();
    await driver.inspect(h, signal());
    assert.ok(performance.now() - t0 >= 45);
    world.setLatency('inspect', Number.POSITIVE_INFINITY);
    // A ref'd timer: AbortSignal.timeout's is unref'd and would let the test runner exit first.
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('gave up')), 30);
    await assert.rejects(driver.inspect(h, controller.signal), /gave up/);
  });

  it('reports a self-exit with its exit code, and a new start clears it', async () => {
    const world = new MockRuntimeWorld();
    const driver = new MockDriver({ world });
    const h = await driver.start(await driver.create(spec(1), signal()), signal());
    world.exit('one-1', 7);
    const exited = await driver.inspect(h, signal());
    assert.equal(exited.state, 'stopped');
    assert.equal(exited.exitCode, 7);
    assert.equal(exited.pid, undefined);
    await driver.start(h, signal());
    const status = await driver.inspect(h, signal());
    assert.equal(status.state, 'running');
    assert.equal(status.exitCode, undefined);
  });

  it('refuses names outside its prefix and handles of other drivers', async () => {
    const driver = new MockDriver({ world: new MockRuntimeWorld() });
    await assert.rejects(
      driver.create(spec(1, { name: 'other-1' }), signal()),
      (err: unknown) => isOneError(err) && err.code === 'E_VALIDATION',
    );
    const foreign = { driver: 'crun', version: 1, name: 'one-1', data: {} };
    await assert.rejects(
      driver.inspect(foreign, signal()),
      (err: unknown) => isOneError(err) && err.code === 'E_DRIVER_FAILED',
    );
  });

  it('pause of a workload that is not running fails clearly', async () => {
    const driver = new MockDriver({ world: new MockRuntimeWorld() });
    const h = await driver.create(spec(1), signal());
    await assert.rejects(
      driver.pause(h, signal()),
      (err: unknown) => isOneError(err) && err.details.state === 'created',
    );
  });
});
