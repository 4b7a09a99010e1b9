/**
 * The copy-on-write root of a container: overlayfs with the shared image as
 * the read-only lower layer and the workload's own upper/work directories, so
 * many workloads share one extracted image and each keeps its changes across
 * stop/start until destroy. Mounting goes through `mount(8)` with an argv.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OneError } from '../../core/errors.js';
import { parseMountInfo } from './cgroups.js';
import { runCommand } from './exec.js';

export interface OverlayPaths {
  lower: string;
  upper: string;
  work: string;
  merged: string;
}

export function overlayPaths(workDir: string, lower: string): OverlayPaths {
  return {
    lower,
    upper: join(workDir, 'overlay', 'upper'),
    work: join(workDir, 'overlay', 'work'),
    merged: join(workDir, 'rootfs-merged'),
  };
}

/** overlayfs splits its options on `,` and lower layers on `:`; such paths cannot be mounted safely. */
export function assertMountablePath(path: string, what: string): void {
  if (!path.startsWith('/') || /[,:\n\\]/.test(path)) {
    throw new OneError('E_VALIDATION', `${what} ${JSON.stringify(path)} must be absolute, without , : \\ or newlines`, {
      path,
    });
  }
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const entries = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return entries
    .map((e) => e.mountPoint)
    .filter((m) => m === dir || m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountsUnder(path)).includes(path);
}

/** Mounts the overlay unless it already is (idempotent). */
export async function mountOverlay(paths: OverlayPaths, signal: AbortSignal): Promise<void> {
  if (await isMounted(paths.merged)) return;
  for (const p of [paths.lower, paths.upper, paths.work, paths.merged]) assertMountablePath(p, 'overlay path');
  await mkdir(paths.upper, { recursive: true });
  await mkdir(paths.work, { recursive: true });
  await mkdir(paths.merged, { recursive: true });
  const options = `lowerdir=${paths.lower},upperdir=${paths.upper},workdir=${paths.work}`;
  await runCommand(['mount', '-t', 'overlay', 'overlay', '-o', options, paths.merged], signal);
}

/**
 * Unmounts everything at or below `dir` (the overlay and anything a runtime
 * left under it), falling back to a lazy unmount when a mount is busy.
 */
export async function unmountAll(dir: string, signal: AbortSignal): Promise<void> {
  for (const mountPoint of await mountsUnder(dir)) {
    try {
      await runCommand(['umount', mountPoint], signal);
    } catch (err) {
      if (signal.aborted) throw err;
      if (!(await isMounted(mountPoint))) continue;
      await runCommand(['umount', '-l', mountPoint], signal);
    }
  }
}
