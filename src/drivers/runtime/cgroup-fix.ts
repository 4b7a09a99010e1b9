/**
 * crun 1.8 refuses to run on a hybrid cgroup host when the v2 (unified)
 * hierarchy still owns a controller: "cgroups in hybrid mode not supported,
 * drop all controllers from cgroupv2". On the edge hosts every controller is
 * on v1 except `hugetlb`, which sits on v2 because nothing mounted it.
 *
 * The fix is to mount each such controller as its own v1 hierarchy
 * (`mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb`). No unmount
 * from v2 is needed: the kernel rebinds a controller that no v2 cgroup has
 * enabled in cgroup.subtree_control, so after the mount cgroup.controllers
 * of the unified mount is empty (measured on the 6.18 edge kernel). The
 * rebind is kernel-wide and survives until reboot; an unmounted v1 hierarchy
 * lingers, so the controller does not silently return to v2.
 *
 * Idempotent (measure, act, verify); root only; never unmounts anything.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CgroupLayout, readCgroupLayout } from './cgroups.js';
import { runCommand } from './exec.js';

export interface CgroupFixResult {
  /** The host is hybrid with controllers on v2 (before this call). */
  needed: boolean;
  /** Controllers this call moved to a v1 mount. */
  moved: string[];
  /** Why the host still has controllers on v2, when it does. */
  error?: string;
}

export interface CgroupFixOptions {
  signal: AbortSignal;
  /** Where new v1 hierarchies are mounted: `<cgroupRoot>/<controller>`. */
  cgroupRoot?: string;
  mountInfoPath?: string;
  /** Runs `mount`; replaceable in tests. */
  run?: (argv: readonly string[], signal: AbortSignal) => Promise<unknown>;
  isRoot?: boolean;
}

/** Controllers the unified hierarchy offers, from its cgroup.controllers. */
export async function readV2Controllers(layout: CgroupLayout): Promise<string[]> {
  if (!layout.v2) return [];
  try {
    const text = await readFile(join(layout.v2.mountPoint, 'cgroup.controllers'), 'utf8');
    return text.split(/\s+/).filter((c) => c !== '');
  } catch {
    return [];
  }
}

/** Hybrid = v1 hierarchies and a v2 mount at once; the fix is needed when v2 also owns controllers. */
export function isHybrid(layout: CgroupLayout): boolean {
  return layout.v1.length > 0 && layout.v2 !== undefined;
}

export interface FixStep {
  controller: string;
  target: string;
  argv: string[];
}

/** The mounts that move each v2 controller to its own v1 hierarchy. Pure. */
export function planHybridFix(layout: CgroupLayout, v2Controllers: string[], cgroupRoot: string): FixStep[] {
  if (!isHybrid(layout)) return [];
  return v2Controllers.map((controller) => {
    const target = join(cgroupRoot, controller);
    return { controller, target, argv: ['mount', '-t', 'cgroup', '-o', controller, 'cgroup', target] };
  });
}

/**
 * Makes a hybrid host acceptable to crun by moving every controller off the
 * unified hierarchy. Returns what it found and did; never throws for host
 * conditions (the probe turns `error` into its reason).
 */
export async function ensureHybridCgroupFix(options: CgroupFixOptions): Promise<CgroupFixResult> {
  const cgroupRoot = options.cgroupRoot ?? '/sys/fs/cgroup';
  const run = options.run ?? runCommand;
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const layout = await readCgroupLayout(options.mountInfoPath);
  const steps = planHybridFix(layout, await readV2Controllers(layout), cgroupRoot);
  if (steps.length === 0) return { needed: false, moved: [] };
  const controllers = steps.map((s) => s.controller);
  if (!isRoot) {
    return {
      needed: true,
      moved: [],
      error: `cgroup v2 owns ${controllers.join(',')} and only root can move it to v1`,
    };
  }
  const moved: string[] = [];
  const failures: string[] = [];
  for (const step of steps) {
    try {
      await mkdir(step.target, { recursive: true });
      await run(step.argv, options.signal);
      moved.push(step.controller);
    } catch (err) {
      // Another agent may have won the race; the verification below decides.
      failures.push(`${step.controller}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const left = await readV2Controllers(await readCgroupLayout(options.mountInfoPath));
  if (left.length > 0) {
    return {
      needed: true,
      moved,
      error: `cgroup v2 still owns ${left.join(',')} after mounting it as v1${failures.length ? ` (${failures.join('; ')})` : ''}`,
    };
  }
  return { needed: true, moved };
}
