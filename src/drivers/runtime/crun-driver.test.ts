/**
 * The crun and runc drivers against the real runtimes: the shared
 * conformance suite plus what only an OCI driver shows (bundle layout,
 * copy-on-write roots, logs outliving the agent, start latency).
 * Needs root, the runtime binary and busybox-static; skipped with a reason
 * otherwise, except under CI=true where a missing runtime must fail.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildBusyboxRootfs, isStaticElf, packRootfs, unpackRootfs } from './busybox-rootfs.js';
import { ensureHybridCgroupFix } from './cgroup-fix.js';
import { existingCgroupDirs, readCgroupLayout, v1MountFor } from './cgroups.js';
import { type AppliedLimits, runtimeConformance } from './conformance.js';
import { CrunDriver, type CrunDriverOptions } from './crun-driver.js';
import { runCommand } from './exec.js';
import type { OciFlavour } from './oci-cli.js';
import { mountsUnder } from './overlay.js';
import type { WorkloadHandle, WorkloadSpec } from './types.js';

const execFileAsync = promisify(execFile);
const CI = process.env.CI === 'true';
const signal = (): AbortSignal => AbortSignal.timeout(30_000);

function onPath(binary: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** Why the suite cannot run here, or undefined. Under CI nothing is skipped: a missing runtime fails. */
function skipReason(flavour: OciFlavour): string | undefined {
  if (CI) return undefined;
  if (process.getuid?.() !== 0) return `${flavour} containers need root`;
  if (!onPath(flavour)) return `${flavour} is not installed (apt-get install ${flavour})`;
  try {
    accessSync('/bin/busybox', constants.X_OK);
  } catch {
    return 'busybox-static is not installed (apt-get install busybox-static)';
  }
  return undefined;
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    return Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
  } catch {
    return undefined;
  }
}

async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

function ociSuite(flavour: OciFlavour): void {
  const skip = skipReason(flavour);
  const base = join(tmpdir(), `oneedge-${flavour}-${process.pid}`);
  const cgroupParent = `/oneedge-test/${flavour}-${process.pid}`;
  const options: CrunDriverOptions = {
    flavour,
    stateRoot: join(base, 'state'),
    cgroupParent,
    pollIntervalMs: 20,
    rebootGraceMs: 5000,
  };
  const makeDriver = (): CrunDriver => new CrunDriver(options);
  const netnsName = `oe-ct-${flavour}-${process.pid}`;
  let image: Promise<string> | undefined;

  /** The default image the way the agent gets it: built, packed to a tarball, unpacked into a cache. */
  const rootfs = (): Promise<string> => {
    image ??= (async () => {
      await mkdir(base, { recursive: true });
      await buildBusyboxRootfs(join(base, 'build'));
      await packRootfs(join(base, 'build'), join(base, 'busybox.tar.gz'));
      await unpackRootfs(join(base, 'busybox.tar.gz'), join(base, 'image'));
      return join(base, 'image');
    })();
    return image;
  };

  async function leftovers(handle: WorkloadHandle, spec: WorkloadSpec): Promise<string[]> {
    const found: string[] = [];
    try {
      await runCommand([flavour, '--root', options.stateRoot as string, 'state', handle.name], signal());
      found.push(`${flavour} still knows ${handle.name}`);
    } catch {
      // gone: good
    }
    for (const m of await mountsUnder(spec.workDir)) found.push(`mount ${m}`);
    for (const dir of await existingCgroupDirs(await readCgroupLayout(), `${cgroupParent}/${handle.name}`)) {
      found.push(`cgroup ${dir}`);
    }
    return found;
  }

  async function readLimits(handle: WorkloadHandle): Promise<AppliedLimits> {
    const layout = await readCgroupLayout();
    const path = `${cgroupParent}/${handle.name}`;
    const at = (controller: string, file: string): string =>
      join(v1MountFor(layout, controller) ?? '/nonexistent', path, file);
    const limits: AppliedLimits = {};
    const memory = await readNumber(at('memory', 'memory.limit_in_bytes'));
    if (memory !== undefined) limits.memoryLimitBytes = memory;
    const quota = await readNumber(at('cpu', 'cpu.cfs_quota_us'));
    if (quota !== undefined) limits.cpuQuotaUs = quota;
    const period = await readNumber(at('cpu', 'cpu.cfs_period_us'));
    if (period !== undefined) limits.cpuPeriodUs = period;
    const cpus = await readFile(at('cpuset', 'cpuset.cpus'), 'utf8').catch(() => undefined);
    if (cpus !== undefined) limits.cpus = cpus.trim();
    return limits;
  }

  async function makeNetns(): Promise<{ path: string; dispose: () => Promise<void> }> {
    await runCommand(['ip', 'netns', 'add', netnsName], signal());
    return {
      path: `/var/run/netns/${netnsName}`,
      dispose: async () => {
        await runCommand(['ip', 'netns', 'del', netnsName], signal()).catch(() => undefined);
      },
    };
  }

  /** Whatever a failed test left: containers, mounts, cgroups, the netns, files. */
  async function cleanUp(): Promise<void> {
    const cleanup = AbortSignal.timeout(30_000);
    const driver = makeDriver();
    const names = await driver.list(cleanup).catch(() => [] as string[]);
    for (const name of names) {
      await runCommand([flavour, '--root', options.stateRoot as string, 'delete', '--force', name], cleanup).catch(
        () => undefined,
      );
    }
    for (const m of await mountsUnder(base)) await runCommand(['umount', '-l', m], cleanup).catch(() => undefined);
    const layout = await readCgroupLayout();
    for (const dir of await existingCgroupDirs(layout, cgroupParent)) {
      for (const child of await readdir(dir, { withFileTypes: true })) {
        if (child.isDirectory()) await rmdir(join(dir, child.name)).catch(() => undefined);
      }
      await rmdir(dir).catch(() => undefined);
      // The shared /oneedge-test parent goes too once no concurrent run uses it (rmdir refuses otherwise).
      await rmdir(dirname(dir)).catch(() => undefined);
    }
    await runCommand(['ip', 'netns', 'del', netnsName], cleanup).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  }

  describe(`${flavour} driver`, { skip: skip ?? false }, () => {
    after(cleanUp);

    runtimeConformance(flavour, makeDriver, {
      rootfs,
      baseDir: join(base, 'conformance'),
      namePrefix: `one-ct-${flavour}-${process.pid}`,
      realProcesses: true,
      leftovers,
      readLimits,
      makeNetns,
    });

    describe(`${flavour} specifics`, () => {
      const driver = makeDriver();
      const dir = join(base, 'specifics');
      const handles: WorkloadHandle[] = [];
      let seq = 0;

      before(async () => {
        await mkdir(dir, { recursive: true });
        assert.equal((await driver.probe(signal())).usable, true);
      });

      after(async () => {
        await Promise.all(handles.map((h) => driver.destroy(h, signal())));
      });

      async function spec(overrides: Partial<WorkloadSpec> = {}): Promise<WorkloadSpec> {
        const name = `one-sp-${flavour}-${process.pid}-${++seq}`;
        return {
          vmId: 7000 + seq,
          name,
          workDir: join(dir, name),
          rootfs: await rootfs(),
          cpu: 0.5,
          vcpu: 1,
          memoryMb: 64,
          env: {},
          context: {},
          logPath: join(dir, `${name}.log`),
          ...overrides,
        };
      }

      it('writes the bundle: config.json, context, overlay root, cgroups path', async () => {
        const s = await spec({ context: { A: 'b' } });
        const handle = await driver.create(s, signal());
        handles.push(handle);
        const config = JSON.parse(await readFile(join(s.workDir, 'config.json'), 'utf8'));
        assert.equal(config.process.terminal, false);
        assert.equal(config.root.path, join(s.workDir, 'rootfs-merged'));
        assert.equal(config.hostname, s.name);
        assert.equal(config.linux.cgroupsPath, `${cgroupParent}/${s.name}`);
        assert.ok(!config.linux.namespaces.some((n: { type: string }) => n.type === 'network'), 'host network');
        const ctx = config.mounts.find((m: { destination: string }) => m.destination === '/context');
        assert.deepEqual([ctx.source, ctx.options.includes('ro')], [join(s.workDir, 'context'), true]);
        assert.equal(
          await readFile(join(s.workDir, 'context', 'context.sh'), 'utf8'),
          "# Context variables generated by ONEedge\nA='b'\n",
        );
        assert.ok(config.process.env.includes('A=b'));
      });

      it('roots share one image copy-on-write', async () => {
        const lower = await rootfs();
        const specs = await Promise.all(
          [1, 2, 3].map(() => spec({ command: ['/bin/sh', '-c', 'hostname > /mine; echo wrote'] })),
        );
        for (const s of specs) {
          const handle = await driver.start(await driver.create(s, signal()), signal());
          handles.push(handle);
        }
        for (const s of specs) {
          assert.ok(
            await eventually(async () => (await readFile(s.logPath, 'utf8').catch(() => '')).includes('wrote'), 5000),
          );
          assert.equal(await readFile(join(s.workDir, 'overlay', 'upper', 'mine'), 'utf8'), `${s.name}\n`);
        }
        await assert.rejects(stat(join(lower, 'mine')), 'the image itself is untouched');
      });

      it('the workload keeps logging after the process that started it is gone', async () => {
        const s = await spec({
          command: ['/bin/sh', '-c', 'trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.1; done'],
        });
        const driverUrl = new URL('./crun-driver.js', import.meta.url).href;
        const script = `
          const { CrunDriver } = await import(${JSON.stringify(driverUrl)});
          const input = JSON.parse(process.env.ONEEDGE_TEST_INPUT);
          const d = new CrunDriver(input.options);
          const s = AbortSignal.timeout(20000);
          const h = await d.start(await d.create(input.spec, s), s);
          process.stdout.write(JSON.stringify(h));
          process.exit(0);`;
        const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...process.env, ONEEDGE_TEST_INPUT: JSON.stringify({ options, spec: s }) },
        });
        const handle = JSON.parse(stdout) as WorkloadHandle;
        handles.push(handle);
        const ticks = async (): Promise<number> =>
          (await readFile(s.logPath, 'utf8')).split('\n').filter((l) => l.startsWith('tick-')).length;
        const before = await ticks();
        assert.ok(await eventually(async () => (await ticks()) >= before + 3, 5000), 'ticks keep coming');
        const status = await driver.inspect(handle, signal());
        assert.equal(status.state, 'running');
      });

      it('measures create → running latency', async (t) => {
        const samples: number[] = [];
        for (let i = 0; i < 8; i++) {
          const s = await spec();
          const t0 = performance.now();
          const handle = await driver.start(await driver.create(s, signal()), signal());
          samples.push(performance.now() - t0);
          handles.push(handle);
          assert.equal((await driver.inspect(handle, signal())).state, 'running');
        }
        samples.sort((a, b) => a - b);
        const median = samples[Math.floor(samples.length / 2)] as number;
        t.diagnostic(
          `${flavour} create+start → running, n=${samples.length}: median ${median.toFixed(1)} ms, min ${(samples[0] as number).toFixed(1)}, max ${(samples[samples.length - 1] as number).toFixed(1)}`,
        );
        assert.ok(median < 1000, `median ${median} ms`);
      });

      it('destroys a paused workload', async () => {
        const s = await spec();
        const handle = await driver.start(await driver.create(s, signal()), signal());
        await driver.pause(handle, signal());
        await driver.destroy(handle, signal());
        assert.deepEqual(await leftovers(handle, s), []);
        assert.equal((await driver.inspect(handle, signal())).state, 'missing');
      });

      it('reports a failed start with the runtime error and leaves no mount', async () => {
        const s = await spec({ command: ['/does/not/exist'] });
        const handle = await driver.create(s, signal());
        handles.push(handle);
        await assert.rejects(driver.start(handle, signal()), (err: unknown) => {
          const stderr = (err as { stderr?: string }).stderr ?? '';
          return /does\/not\/exist|no such file/i.test(stderr);
        });
        assert.deepEqual(await mountsUnder(s.workDir), []);
      });

      it('reads CPU and memory usage from the cgroup', async () => {
        const s = await spec({
          command: ['/bin/sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 60'],
        });
        const handle = await driver.start(await driver.create(s, signal()), signal());
        handles.push(handle);
        assert.ok(await eventually(async () => (await driver.stats(handle, signal())).cpuSeconds > 0.05, 5000));
        assert.ok((await driver.stats(handle, signal())).memoryBytes > 0);
      });
    });
  });
}

describe('hybrid cgroup fix on this host', { skip: process.getuid?.() === 0 ? false : 'needs root' }, () => {
  it('leaves no controller on cgroup v2 where v1 hierarchies exist, and is idempotent', async () => {
    const first = await ensureHybridCgroupFix({ signal: signal() });
    assert.equal(first.error, undefined);
    const second = await ensureHybridCgroupFix({ signal: signal() });
    assert.deepEqual(second, { needed: false, moved: [] });
  });
});

describe('host busybox', { skip: CI ? false : onPath('busybox') ? false : 'busybox-static is not installed' }, () => {
  it('is static, so it runs inside an image without /lib', async () => {
    assert.equal(await isStaticElf('/bin/busybox'), true);
    assert.equal(await isStaticElf(process.execPath), false);
  });
});

ociSuite('crun');
ociSuite('runc');
