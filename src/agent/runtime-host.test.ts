import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { isOneError, OneError } from '../core/errors.js';
import { MockDriver } from '../drivers/runtime/mock-driver.js';
import { MockRuntimeWorld } from '../drivers/runtime/mock-world.js';
import type { RuntimeCapabilities, WorkloadSpec } from '../drivers/runtime/types.js';
import { DEFAULT_RUNTIME_TIMEOUTS, RuntimeHost, type RuntimeTimeouts, trimStderr, vmIdOf } from './runtime-host.js';

interface LogLine {
  level: number;
  msg: string;
  op?: string;
  vmId?: number;
  workload?: string;
  durationMs?: number;
  code?: string;
  stderr?: string;
}

function setup(options: { caps?: Partial<RuntimeCapabilities>; timeouts?: Partial<RuntimeTimeouts> } = {}): {
  world: MockRuntimeWorld;
  host: RuntimeHost;
  lines: LogLine[];
} {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const world = new MockRuntimeWorld();
  const driver = new MockDriver({ world, ...(options.caps ? { capabilities: options.caps } : {}) });
  const host = new RuntimeHost(
    driver,
    pino({ level: 'debug' }, sink),
    options.timeouts ? { timeouts: options.timeouts } : {},
  );
  return { world, host, lines };
}

function spec(n: number, overrides: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    vmId: n,
    name: `one-${n}`,
    workDir: `/nonexistent/${n}`,
    rootfs: '/nonexistent/image',
    cpu: 1,
    vcpu: 1,
    memoryMb: 64,
    env: {},
    context: {},
    logPath: `/nonexistent/${n}.log`,
    ...overrides,
  };
}

const ok = (): AbortSignal => new AbortController().signal;
const code =
  (c: string) =>
  (err: unknown): boolean =>
    isOneError(err) && err.code === c;

describe('RuntimeHost', () => {
  it('probes once, shared by concurrent and later calls', async () => {
    const { world, host } = setup();
    const [a, b] = await Promise.all([host.init(ok()), host.probe(ok())]);
    assert.deepEqual(a, b);
    const h = await host.create(spec(1), ok());
    await host.start(h, ok());
    assert.equal(world.calls.probe, 1);
  });

  it('a probe that threw is retried; an unusable answer is remembered', async () => {
    const { world, host } = setup();
    world.failNext('probe');
    await assert.rejects(host.init(ok()), code('E_DRIVER_FAILED'));
    world.probeResult = { usable: false, reason: 'crun missing' };
    assert.deepEqual(await host.init(ok()), { usable: false, reason: 'crun missing' });
    assert.equal(world.calls.probe, 2);
    await host.init(ok());
    assert.equal(world.calls.probe, 2);
  });

  it('refuses to create or start on an unusable runtime, but still inspects and stops', async () => {
    const { world, host } = setup();
    const driver = host.driver;
    const handle = await driver.start(await driver.create(spec(1), ok()), ok());
    world.probeResult = { usable: false, reason: 'no cgroups' };
    await assert.rejects(host.create(spec(2), ok()), (err: unknown) => {
      assert.ok(isOneError(err) && err.code === 'E_DRIVER_FAILED');
      assert.match(err.message, /not usable on this host: no cgroups/);
      return true;
    });
    await assert.rejects(host.start(handle, ok()), code('E_DRIVER_FAILED'));
    assert.equal((await host.inspect(handle, ok())).state, 'running');
    await host.stop(handle, 1000, ok());
    assert.equal(world.calls.create, 1, 'the driver was not asked to create');
  });

  it('turns a slow operation into E_DRIVER_TIMEOUT, even when the driver ignores its signal', async () => {
    const { world, host } = setup({ timeouts: { start: 40, inspect: 40 } });
    const h = await host.create(spec(1), ok());
    world.setLatency('start', Number.POSITIVE_INFINITY);
    let t0 = performance.now();
    await assert.rejects(host.start(h, ok()), (err: unknown) => {
      assert.ok(isOneError(err) && err.code === 'E_DRIVER_TIMEOUT');
      assert.equal(err.details.timeoutMs, 40);
      assert.match(err.message, /^mock start one-1 timed out after 40 ms$/);
      return true;
    });
    assert.ok(performance.now() - t0 < 1000);
    world.setLatency('inspect', Number.POSITIVE_INFINITY, { ignoreAbort: true });
    t0 = performance.now();
    await assert.rejects(host.inspect(h, ok()), code('E_DRIVER_TIMEOUT'));
    assert.ok(performance.now() - t0 < 1000);
  });

  it('gives stop the requested timeout plus its own margin', async () => {
    const { world, host } = setup({ timeouts: { stop: 60 } });
    const h = await host.start(await host.create(spec(1), ok()), ok());
    world.setLatency('stop', 100);
    await host.stop(h, 100, ok());
    await assert.rejects(host.stop(h, 0, ok()), code('E_DRIVER_TIMEOUT'));
  });

  it("an abort by the caller rethrows the caller's reason, not a driver error", async () => {
    const { world, host } = setup();
    const h = await host.create(spec(1), ok());
    world.setLatency('start', Number.POSITIVE_INFINITY);
    const controller = new AbortController();
    const reason = new Error('agent shutting down');
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(host.start(h, controller.signal), (err: unknown) => err === reason);
    const aborted = AbortSignal.abort(reason);
    await assert.rejects(host.inspect(h, aborted), (err: unknown) => err === reason);
  });

  it('checks capabilities before calling the driver', async () => {
    const { world, host } = setup({ caps: { suspend: false, reboot: false, networkNamespace: false } });
    const h = await host.start(await host.create(spec(1), ok()), ok());
    for (const call of [() => host.pause(h, ok()), () => host.resume(h, ok()), () => host.reboot(h, true, ok())]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(isOneError(err) && err.code === 'E_DRIVER_UNSUPPORTED');
        assert.equal(err.details.driver, 'mock');
        assert.match(err.message, /^runtime mock cannot (pause|resume|reboot)$/);
        return true;
      });
    }
    assert.equal(world.calls.pause + world.calls.resume + world.calls.reboot, 0);
    await assert.rejects(host.create(spec(2, { netns: '/var/run/netns/x' }), ok()), code('E_DRIVER_UNSUPPORTED'));
    await host.create(spec(3, { netns: 'host' }), ok());
  });

  it('normalises driver failures: E_DRIVER_FAILED with context, cause and trimmed stderr', async () => {
    const { world, host } = setup();
    const h = await host.create(spec(7), ok());
    world.failNext('start');
    await assert.rejects(host.start(h, ok()), (err: unknown) => {
      assert.ok(isOneError(err) && err.code === 'E_DRIVER_FAILED');
      assert.equal(err.message, 'mock start one-7: mock start failed');
      assert.equal(err.details.stderr, 'mock: injected start failure');
      assert.deepEqual([err.details.driver, err.details.op, err.details.workload], ['mock', 'start', 'one-7']);
      assert.ok(err.cause instanceof Error);
      return true;
    });
    world.failNext('kill', {
      error: () => {
        throw 'not even an Error';
      },
    });
    await assert.rejects(host.kill(h, ok()), (err: unknown) => {
      assert.ok(isOneError(err) && err.code === 'E_DRIVER_FAILED');
      assert.equal(err.message, 'mock kill one-7: not even an Error');
      return true;
    });
  });

  it('keeps the code of a OneError from the driver, adding context', async () => {
    const { host } = setup();
    await assert.rejects(host.create(spec(1, { name: 'bad-1' }), ok()), (err: unknown) => {
      assert.ok(isOneError(err) && err.code === 'E_VALIDATION');
      assert.match(err.message, /^mock create bad-1: workload name/);
      assert.ok(err.cause instanceof OneError);
      return true;
    });
  });

  it('logs each operation with vmId, op and duration', async () => {
    const { world, host, lines } = setup();
    const h = await host.start(await host.create(spec(42), ok()), ok());
    await host.inspect(h, ok());
    world.failNext('stop');
    await assert.rejects(host.stop(h, 10, ok()));
    const start = lines.find((l) => l.op === 'start');
    assert.equal(start?.msg, 'runtime op done');
    assert.equal(start?.vmId, 42);
    assert.equal(start?.level, 30);
    assert.equal(typeof start?.durationMs, 'number');
    assert.equal(lines.find((l) => l.op === 'inspect')?.level, 20, 'polling ops log at debug');
    const failed = lines.find((l) => l.op === 'stop');
    assert.equal(failed?.msg, 'runtime op failed');
    assert.equal(failed?.level, 40);
    assert.equal(failed?.code, 'E_DRIVER_FAILED');
    assert.equal(failed?.stderr, 'mock: injected stop failure');
  });

  it('passes results through unchanged and works as a RuntimeDriver for thousands of workloads', async () => {
    const { host } = setup();
    assert.equal(host.capabilities.name, 'mock');
    const handles = await Promise.all(
      Array.from({ length: 2000 }, async (_, i) => host.start(await host.create(spec(i), ok()), ok())),
    );
    assert.equal((await host.list(ok())).length, 2000);
    assert.equal((await host.inspect(handles[5] as (typeof handles)[number], ok())).pid, handles[5]?.data.pid);
  });
});

describe('runtime host helpers', () => {
  it('defaults live in one frozen table', () => {
    assert.ok(Object.isFrozen(DEFAULT_RUNTIME_TIMEOUTS));
    assert.equal(DEFAULT_RUNTIME_TIMEOUTS.create, 60_000);
    assert.equal(DEFAULT_RUNTIME_TIMEOUTS.start, 30_000);
  });

  it('trims stderr to its end', () => {
    assert.equal(trimStderr('  short \n'), 'short');
    const long = `${'x'.repeat(5000)}END`;
    const trimmed = trimStderr(long);
    assert.ok(trimmed.length <= 2001 && trimmed.endsWith('END') && trimmed.startsWith('…'));
  });

  it('finds the vmId in the handle or the one-<id> name', () => {
    assert.equal(vmIdOf({ driver: 'x', version: 1, name: 'whatever', data: { vmId: 5 } }), 5);
    assert.equal(vmIdOf({ driver: 'x', version: 1, name: 'one-17', data: {} }), 17);
    assert.equal(vmIdOf({ driver: 'x', version: 1, name: 'other', data: {} }), undefined);
  });
});
