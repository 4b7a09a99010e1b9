/**
 * The runtime-driver conformance suite: what every RuntimeDriver must do, as
 * node:test cases. A driver's test file calls `runtimeConformance` once per
 * configuration; behaviour the driver does not declare (capabilities) or
 * cannot show (no real processes) is skipped with the reason written out.
 *
 *   runtimeConformance('crun', () => new CrunDriver({ stateRoot }), { rootfs, realProcesses: true, leftovers })
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { isOneError } from '../../core/errors.js';
import type { RuntimeDriver, WorkloadHandle, WorkloadSpec, WorkloadState } from './types.js';

const MIB = 1024 * 1024;

/** Limits as the host applied them (cgroup files for containers). */
export interface AppliedLimits {
  memoryLimitBytes?: number;
  cpuQuotaUs?: number;
  cpuPeriodUs?: number;
  cpus?: string;
}

export interface ConformanceOptions {
  /** Skip the whole suite, with this reason (e.g. 'needs root'). */
  skip?: string | undefined;
  /** The image every workload runs (a directory for containers); a function is awaited once in before(). */
  rootfs: string | (() => Promise<string>);
  /** Parent of work dirs and logs (default: a fresh temp dir, removed after the suite). */
  baseDir?: string;
  /** Workload names start with it; keep it unique per concurrently running suite (default `one-ct-<pid>`). */
  namePrefix?: string;
  /** Workloads run real processes: their output reaches logPath and their files persist in their root. */
  realProcesses: boolean;
  /** After destroy: what the workload left on the host (mounts, cgroups, runtime state), as readable strings. */
  leftovers?: (handle: WorkloadHandle, spec: WorkloadSpec) => Promise<string[]>;
  /** Reads the limits the host applied to a running workload. */
  readLimits?: (handle: WorkloadHandle) => Promise<AppliedLimits>;
  /** Makes the main process exit with `code` (drivers without real processes). */
  selfExit?: (handle: WorkloadHandle, code: number) => Promise<void>;
  /** Creates a network namespace for the netns test and returns its path and disposal. */
  makeNetns?: () => Promise<{ path: string; dispose: () => Promise<void> }>;
  /** Longest wait for a state or a log line, ms (default 5000). */
  waitMs?: number;
  /**
   * A hard reboot is a power cut (virtual machines): writes the guest had not
   * flushed yet may be lost, so after it the suite only checks that the
   * workload booted a third time, not that the second boot's write survived.
   */
  hardRebootIsPowerCut?: boolean;
  /** Memory of every workload the suite makes, MiB (default 64; a microVM's guest kernel needs more). */
  memoryMb?: number;
}

/** A signal for one driver call in the suite: generous, so a hung driver fails the test instead of the run. */
const op = (): AbortSignal => AbortSignal.timeout(30_000);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

/** A process that exists and is not a zombie (an exited init waits for its reaper, PID 1 on the host). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true or `ms` pass; returns the last answer. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A main process that counts its boots in its own root, prints the count, and stops on TERM at once. */
const BOOT_COUNTER = [
  '/bin/sh',
  '-c',
  'trap "exit 0" TERM; echo boot >> /var/boots; echo "boots=$(wc -l < /var/boots)"; ' +
    'while :; do sleep 1 & wait $!; done',
];

export function runtimeConformance(
  name: string,
  makeDriver: () => RuntimeDriver | Promise<RuntimeDriver>,
  options: ConformanceOptions,
): void {
  const waitMs = options.waitMs ?? 5000;
  const noProcesses = options.realProcesses ? false : `${name} runs no real processes`;

  describe(`runtime conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let driver: RuntimeDriver;
    let rootfs: string;
    let base: string;
    let ownBase = false;
    let seq = 0;
    const prefix = options.namePrefix ?? `one-ct-${process.pid}`;
    const live = new Map<string, WorkloadHandle>();

    before(async () => {
      driver = await makeDriver();
      rootfs = typeof options.rootfs === 'string' ? options.rootfs : await options.rootfs();
      if (options.baseDir) base = options.baseDir;
      else {
        base = await mkdtemp(join(tmpdir(), 'oneedge-conformance-'));
        ownBase = true;
      }
    });

    afterEach(async () => {
      for (const handle of live.values()) await driver.destroy(handle, op());
      live.clear();
    });

    after(async () => {
      if (ownBase && base) await rm(base, { recursive: true, force: true });
    });

    const caps = (): RuntimeDriver['capabilities'] => driver.capabilities;

    function newSpec(overrides: Partial<WorkloadSpec> = {}): WorkloadSpec {
      const wname = `${prefix}-${++seq}`;
      return {
        vmId: 9000 + seq,
        name: wname,
        workDir: join(base, wname),
        rootfs,
        cpu: 0.5,
        vcpu: 1,
        memoryMb: options.memoryMb ?? 64,
        env: {},
        context: {},
        logPath: join(base, 'logs', `${wname}.log`),
        ...overrides,
      };
    }

    async function create(spec: WorkloadSpec): Promise<WorkloadHandle> {
      const handle = await driver.create(spec, op());
      live.set(spec.name, handle);
      return handle;
    }

    async function started(spec: WorkloadSpec): Promise<WorkloadHandle> {
      const handle = await driver.start(await create(spec), op());
      live.set(spec.name, handle);
      return handle;
    }

    async function waitState(handle: WorkloadHandle, state: WorkloadState): Promise<void> {
      let last: WorkloadState = 'missing';
      const ok = await eventually(async () => {
        last = (await driver.inspect(handle, op())).state;
        return last === state;
      }, waitMs);
      assert.ok(ok, `${handle.name} should reach ${state}, is ${last}`);
    }

    async function waitLog(spec: WorkloadSpec, text: string): Promise<string> {
      let log = '';
      const ok = await eventually(async () => {
        log = await readText(spec.logPath);
        return log.includes(text);
      }, waitMs);
      assert.ok(ok, `log of ${spec.name} should contain ${JSON.stringify(text)}; it holds:\n${log}`);
      return log;
    }

    async function pidOf(handle: WorkloadHandle): Promise<number> {
      const status = await driver.inspect(handle, op());
      assert.equal(status.state, 'running');
      assert.ok(typeof status.pid === 'number' && status.pid > 0, 'a running workload has a pid');
      return status.pid;
    }

    it('probe reports the runtime usable', async () => {
      const result = await driver.probe(op());
      assert.equal(result.usable, true, `probe: ${result.reason ?? ''}`);
      assert.deepEqual(await driver.probe(op()), result, 'probe answers the same twice');
    });

    it('declares its capabilities as data', () => {
      const c = caps();
      assert.ok(c.name.length > 0);
      assert.ok(c.kind === 'container' || c.kind === 'microvm');
      for (const key of [
        'gracefulStop',
        'reboot',
        'suspend',
        'limits',
        'networkNamespace',
        'logs',
        'reattach',
      ] as const) {
        assert.equal(typeof c[key], 'boolean', key);
      }
    });

    it('create is idempotent by name and leaves the workload created', async () => {
      const spec = newSpec();
      const first = await create(spec);
      const again = await driver.create(spec, op());
      assert.deepEqual(again, first);
      assert.equal(first.driver, caps().name);
      assert.deepEqual(JSON.parse(JSON.stringify(first)), first, 'handles are plain JSON');
      assert.equal((await driver.inspect(first, op())).state, 'created');
    });

    it('start runs the workload with a pid, idempotently', async () => {
      const spec = newSpec();
      const handle = await started(spec);
      const pid = await pidOf(handle);
      const status = await driver.inspect(handle, op());
      assert.ok(status.startedAt === undefined || Number.isFinite(status.startedAt));
      assert.ok((await driver.list(op())).includes(spec.name), 'list shows a running workload');
      await driver.start(handle, op());
      assert.equal(await pidOf(handle), pid, 'a second start changes nothing');
    });

    it('stop is graceful within the timeout and idempotent', async () => {
      const spec = newSpec(options.realProcesses ? { command: BOOT_COUNTER } : {});
      const handle = await started(spec);
      // Its command sets its TERM handler first: a stop that lands before that (a loaded machine) would
      // find a PID 1 that ignores TERM and wait out the timeout — not what this measures.
      if (options.realProcesses) await waitLog(spec, 'boots=');
      const pid = await pidOf(handle);
      const t0 = Date.now();
      await driver.stop(handle, 10_000, op());
      const elapsed = Date.now() - t0;
      if (caps().gracefulStop) assert.ok(elapsed < 5000, `graceful stop took ${elapsed} ms`);
      const status = await driver.inspect(handle, op());
      assert.equal(status.state, 'stopped');
      assert.equal(status.pid, undefined);
      if (options.realProcesses) assert.equal(isAlive(pid), false, 'the process is gone');
      await driver.stop(handle, 1000, op());
    });

    it('start after stop keeps filesystem changes', { skip: noProcesses }, async () => {
      const spec = newSpec({ command: BOOT_COUNTER });
      const handle = await started(spec);
      await waitLog(spec, 'boots=1');
      await driver.stop(handle, 5000, op());
      live.set(spec.name, await driver.start(handle, op()));
      await waitLog(spec, 'boots=2');
    });

    it('reboot starts a new process and keeps the workload running', async (t) => {
      if (!caps().reboot) {
        t.skip(`${name} does not declare reboot`);
        return;
      }
      const spec = newSpec(options.realProcesses ? { command: BOOT_COUNTER } : {});
      let handle = await started(spec);
      const pid1 = await pidOf(handle);
      handle = await driver.reboot(handle, false, op());
      const pid2 = await pidOf(handle);
      assert.notEqual(pid2, pid1, 'soft reboot: new pid');
      const beforeHard = (await readText(spec.logPath)).length;
      handle = await driver.reboot(handle, true, op());
      const pid3 = await pidOf(handle);
      assert.notEqual(pid3, pid2, 'hard reboot: new pid');
      live.set(spec.name, handle);
      if (options.realProcesses && options.hardRebootIsPowerCut) {
        const ok = await eventually(
          async () => (await readText(spec.logPath)).slice(beforeHard).includes('boots='),
          waitMs,
        );
        assert.ok(
          ok,
          `${spec.name} should run its command again after the hard reboot:\n${await readText(spec.logPath)}`,
        );
      } else if (options.realProcesses) await waitLog(spec, 'boots=3');
    });

    it('kill stops at once and is idempotent', async () => {
      const handle = await started(newSpec());
      const pid = await pidOf(handle);
      await driver.kill(handle, op());
      assert.equal((await driver.inspect(handle, op())).state, 'stopped');
      if (options.realProcesses) assert.equal(isAlive(pid), false, 'the process is gone');
      await driver.kill(handle, op());
    });

    it('destroy is idempotent and leaves nothing behind', async () => {
      const spec = newSpec();
      const handle = await started(spec);
      const pid = await pidOf(handle);
      const createdOnly = newSpec();
      const idle = await create(createdOnly);
      for (const [s, h] of [
        [spec, handle],
        [createdOnly, idle],
      ] as const) {
        await driver.destroy(h, op());
        live.delete(s.name);
        assert.equal((await driver.inspect(h, op())).state, 'missing');
        assert.equal(await exists(s.workDir), false, 'work dir removed');
        assert.ok(!(await driver.list(op())).includes(s.name), 'list no longer shows it');
        if (options.leftovers) assert.deepEqual(await options.leftovers(h, s), [], 'nothing left on the host');
        await driver.destroy(h, op());
      }
      if (options.realProcesses) assert.equal(isAlive(pid), false, 'the process is gone');
    });

    it('a new driver instance re-attaches to a running workload', async (t) => {
      if (!caps().reattach) {
        t.skip(`${name} does not declare reattach`);
        return;
      }
      const handle = await started(newSpec());
      const pid = await pidOf(handle);
      const stored = JSON.parse(JSON.stringify(handle)) as WorkloadHandle;
      const fresh = await makeDriver();
      const recovered = await fresh.recover(stored, op());
      const status = await fresh.inspect(recovered, op());
      assert.equal(status.state, 'running');
      assert.equal(status.pid, pid, 'same process, not restarted');
      await fresh.stop(recovered, 5000, op());
      assert.equal((await driver.inspect(handle, op())).state, 'stopped');
    });

    const noSelfExit =
      options.realProcesses || options.selfExit ? false : `${name} runs no processes and has no selfExit hook`;
    it('a main process that exits by itself is seen as stopped', { skip: noSelfExit }, async () => {
      const spec = newSpec(options.selfExit ? {} : { command: ['/bin/sh', '-c', 'sleep 0.2; exit 3'] });
      const handle = await started(spec);
      if (options.selfExit) await options.selfExit(handle, 3);
      await waitState(handle, 'stopped');
      const status = await driver.inspect(handle, op());
      assert.equal(status.pid, undefined);
      if (status.exitCode !== undefined) assert.equal(status.exitCode, 3);
      // Starts again (a real command exits again soon after, so only "it started" is checked).
      const again = await driver.start(handle, op());
      live.set(spec.name, again);
      assert.ok(['running', 'stopped'].includes((await driver.inspect(again, op())).state));
    });

    it('delivers CONTEXT as /context/context.sh and as environment', { skip: noProcesses }, async () => {
      const tricky = `it's "quoted" $HOME \`x\` \\ end`;
      const spec = newSpec({
        context: { HELLO: tricky, NETWORK: 'YES' },
        env: { EXTRA: 'extra-value' },
        command: [
          '/bin/sh',
          '-c',
          'cat /context/context.sh; echo "env:$NETWORK:$EXTRA"; unset HELLO; . /context/context.sh; ' +
            'printf "sourced:%s\\n" "$HELLO"; echo done-context',
        ],
      });
      await started(spec);
      const log = await waitLog(spec, 'done-context');
      assert.ok(log.includes("NETWORK='YES'"), log);
      assert.ok(log.includes('env:YES:extra-value'), log);
      assert.ok(log.includes(`sourced:${tricky}\n`), log);
    });

    it('runs START_SCRIPT when there is no command, and stops gracefully', { skip: noProcesses }, async () => {
      const spec = newSpec({ context: { START_SCRIPT: 'echo "script-ran $NAME"; echo to-stderr >&2', NAME: 'vm' } });
      const handle = await started(spec);
      const log = await waitLog(spec, 'to-stderr');
      assert.ok(log.includes('script-ran vm'), log);
      await pidOf(handle);
      const t0 = Date.now();
      await driver.stop(handle, 10_000, op());
      assert.ok(Date.now() - t0 < 3000, 'the default init stops on TERM');
    });

    it('pause freezes and resume thaws the same process', async (t) => {
      if (!caps().suspend) {
        t.skip(`${name} does not declare suspend`);
        return;
      }
      const handle = await started(newSpec());
      const pid = await pidOf(handle);
      await driver.pause(handle, op());
      await driver.pause(handle, op());
      const paused = await driver.inspect(handle, op());
      assert.equal(paused.state, 'paused');
      await driver.resume(handle, op());
      assert.equal(await pidOf(handle), pid);
      await driver.pause(handle, op());
      await driver.stop(handle, 5000, op());
      assert.equal((await driver.inspect(handle, op())).state, 'stopped', 'a paused workload can be stopped');
    });

    it('applies memory and CPU limits', async (t) => {
      if (!caps().limits || !options.readLimits) {
        t.skip(caps().limits ? 'no readLimits hook given' : `${name} does not declare limits`);
        return;
      }
      const handle = await started(newSpec({ cpu: 0.5, vcpu: 2, memoryMb: 32, cpuSet: [0] }));
      const limits = await options.readLimits(handle);
      assert.equal(limits.memoryLimitBytes, 32 * MIB);
      assert.equal(limits.cpuQuotaUs, 200_000, 'VCPU caps the cores used');
      assert.equal(limits.cpuPeriodUs, 100_000);
      assert.equal(limits.cpus, '0');
    });

    it('kills a process that outgrows its memory limit', { skip: noProcesses }, async (t) => {
      if (!caps().limits) {
        t.skip(`${name} does not declare limits`);
        return;
      }
      const spec = newSpec({
        memoryMb: 32,
        command: ['/bin/sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd-rc=$?"'],
      });
      await started(spec);
      await waitLog(spec, 'dd-rc=137');
    });

    it('joins the given network namespace, or shares the host one', { skip: noProcesses }, async (t) => {
      if (!caps().networkNamespace || !options.makeNetns) {
        t.skip(caps().networkNamespace ? 'no makeNetns hook given' : `${name} does not declare networkNamespace`);
        return;
      }
      const netns = await options.makeNetns();
      try {
        const inNs = await started(newSpec({ netns: netns.path }));
        const onHost = await started(newSpec({ netns: 'host' }));
        const ino = async (path: string): Promise<number> => (await stat(path)).ino;
        assert.equal(await ino(`/proc/${await pidOf(inNs)}/ns/net`), await ino(netns.path));
        assert.equal(await ino(`/proc/${await pidOf(onHost)}/ns/net`), await ino('/proc/self/ns/net'));
        await driver.destroy(inNs, op());
        live.delete(inNs.name);
      } finally {
        await netns.dispose();
      }
    });

    it('reports usage of a running workload', async () => {
      const handle = await started(newSpec());
      const stats = await driver.stats(handle, op());
      assert.ok(Number.isFinite(stats.cpuSeconds) && stats.cpuSeconds >= 0);
      assert.ok(Number.isFinite(stats.memoryBytes) && stats.memoryBytes > 0, 'a running workload uses memory');
    });

    it('refuses undeclared actions with E_DRIVER_UNSUPPORTED', async (t) => {
      const c = caps();
      if (c.reboot && c.suspend) {
        t.skip(`${name} declares every optional action`);
        return;
      }
      const handle = await started(newSpec());
      const unsupported = (err: unknown): boolean => isOneError(err) && err.code === 'E_DRIVER_UNSUPPORTED';
      if (!c.reboot) await assert.rejects(driver.reboot(handle, false, op()), unsupported);
      if (!c.suspend) {
        await assert.rejects(driver.pause(handle, op()), unsupported);
        await assert.rejects(driver.resume(handle, op()), unsupported);
      }
    });

    it('honours an aborted signal', async () => {
      const spec = newSpec();
      const handle = await create(spec);
      await assert.rejects(driver.start(handle, AbortSignal.abort()));
      await assert.rejects(driver.inspect(handle, AbortSignal.abort()));
    });
  });
}
