/**
 * The crun/runc probe: root, the binary, the hybrid-cgroup fix (crun), and a
 * real tiny container (`busybox true`) run in the foreground and removed.
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBusyboxRootfs } from './busybox-rootfs.js';
import { ensureHybridCgroupFix } from './cgroup-fix.js';
import { readCgroupLayout, removeCgroupDirs } from './cgroups.js';
import { CommandError } from './exec.js';
import type { OciCli } from './oci-cli.js';
import { buildOciConfig } from './oci-spec.js';
import type { ProbeResult } from './types.js';

export interface OciProbeOptions {
  cli: OciCli;
  applyCgroupFix: boolean;
  /** Image for the probe container; built from `busybox` under the state root when absent. */
  rootfs?: string;
  busybox?: string;
  cgroupParent: string;
}

function describe(err: unknown): string {
  if (err instanceof CommandError) return err.stderr.split('\n').pop()?.trim() || err.message;
  return err instanceof Error ? err.message : String(err);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The probe image: built once per state root (temp + rename, so a crash mid-build is redone). */
async function probeRootfs(options: OciProbeOptions): Promise<string> {
  if (options.rootfs) return options.rootfs;
  const dir = join(probeDir(options.cli), 'rootfs');
  if (await exists(dir)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await buildBusyboxRootfs(tmp, options.busybox ? { busybox: options.busybox } : {});
  await rename(tmp, dir).catch(async (err: unknown) => {
    await rm(tmp, { recursive: true, force: true });
    if (!(await exists(dir))) throw err;
  });
  return dir;
}

let probeSeq = 0;

/** Beside the runtime's state root, never inside it: the runtime treats every directory there as a container. */
function probeDir(cli: OciCli): string {
  return `${cli.root}-probe`;
}

export async function probeOciRuntime(options: OciProbeOptions, signal: AbortSignal): Promise<ProbeResult> {
  const { cli } = options;
  if (process.getuid?.() !== 0) return { usable: false, reason: `${cli.flavour} containers need root` };
  let version: string;
  try {
    version = await cli.version(signal);
  } catch (err) {
    signal.throwIfAborted();
    return { usable: false, reason: `${cli.binary} not runnable: ${describe(err)}` };
  }
  if (options.applyCgroupFix) {
    const fix = await ensureHybridCgroupFix({ signal });
    if (fix.error) return { usable: false, version, reason: `hybrid cgroup fix failed: ${fix.error}` };
  }
  const id = `oneedge-probe-${process.pid}-${++probeSeq}`;
  const bundle = join(probeDir(cli), id);
  const cgroupsPath = `${options.cgroupParent}/${id}`;
  try {
    await mkdir(join(bundle, 'context'), { recursive: true });
    const config = buildOciConfig({
      spec: {
        vmId: 0,
        name: id,
        workDir: bundle,
        rootfs: '',
        cpu: 0,
        vcpu: 1,
        memoryMb: 0,
        env: {},
        context: {},
        logPath: '',
      },
      args: ['/bin/busybox', 'true'],
      rootPath: await probeRootfs(options),
      contextDir: join(bundle, 'context'),
      cgroupsPath,
    });
    config.root.readonly = true;
    config.linux.namespaces.push({ type: 'network' });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
    await cli.runForeground(id, bundle, signal);
    return { usable: true, version };
  } catch (err) {
    signal.throwIfAborted();
    return { usable: false, version, reason: `test container failed: ${describe(err)}` };
  } finally {
    const cleanup = AbortSignal.timeout(10_000);
    await cli.delete(id, cleanup).catch(() => undefined);
    await removeCgroupDirs(await readCgroupLayout(), cgroupsPath).catch(() => undefined);
    await rm(bundle, { recursive: true, force: true });
  }
}
