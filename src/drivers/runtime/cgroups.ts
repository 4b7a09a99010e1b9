/**
 * Where cgroups live on this host, read from /proc/self/mountinfo: every v1
 * hierarchy with its controllers, and the v2 (unified) mount if any. Used to
 * read a workload's usage, to check that destroy left no cgroup behind, and by
 * the hybrid-mode fix. Parsing is pure; reading files is at the edges.
 */
import { readFile, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupMount {
  mountPoint: string;
  /** v1 controllers of this hierarchy (`name=systemd` included as written); empty for v2. */
  controllers: string[];
  version: 1 | 2;
}

export interface CgroupLayout {
  v1: CgroupMount[];
  v2?: CgroupMount;
}

/** Undoes the octal escapes mountinfo uses for spaces, tabs, newlines and backslashes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export interface MountInfoEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string[];
}

/** Parses /proc/<pid>/mountinfo (see proc(5)): fields, then ` - `, then fstype, source, super options. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    const fsType = right[0];
    if (mountPoint === undefined || fsType === undefined) continue;
    entries.push({
      mountPoint: unescapeMountPath(mountPoint),
      fsType,
      source: right[1] ?? '',
      superOptions: (right[2] ?? '').split(','),
    });
  }
  return entries;
}

const NOT_CONTROLLERS = new Set(['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'clone_children']);

export function layoutFromMountInfo(text: string): CgroupLayout {
  const layout: CgroupLayout = { v1: [] };
  for (const entry of parseMountInfo(text)) {
    if (entry.fsType === 'cgroup2') {
      layout.v2 ??= { mountPoint: entry.mountPoint, controllers: [], version: 2 };
    } else if (entry.fsType === 'cgroup') {
      const controllers = entry.superOptions.filter((o) => !NOT_CONTROLLERS.has(o) && !o.startsWith('release_agent='));
      layout.v1.push({ mountPoint: entry.mountPoint, controllers, version: 1 });
    }
  }
  return layout;
}

export async function readCgroupLayout(mountInfoPath = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  return layoutFromMountInfo(await readFile(mountInfoPath, 'utf8'));
}

/** The v1 hierarchy that carries `controller`, if any. */
export function v1MountFor(layout: CgroupLayout, controller: string): string | undefined {
  return layout.v1.find((m) => m.controllers.includes(controller))?.mountPoint;
}

/** Every directory a cgroup at `cgroupsPath` would occupy: one per hierarchy, v2 included. */
export function cgroupDirs(layout: CgroupLayout, cgroupsPath: string): string[] {
  const mounts = [...layout.v1, ...(layout.v2 ? [layout.v2] : [])];
  return mounts.map((m) => join(m.mountPoint, cgroupsPath));
}

export interface CgroupUsage {
  cpuSeconds: number;
  memoryBytes: number;
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const value = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function readV2CpuSeconds(dir: string): Promise<number | undefined> {
  try {
    const text = await readFile(join(dir, 'cpu.stat'), 'utf8');
    const match = /^usage_usec (\d+)$/m.exec(text);
    return match?.[1] ? Number(match[1]) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time and memory of the cgroup at `cgroupsPath`: cgroup v1 cpuacct.usage
 * and memory.usage_in_bytes where those controllers are on v1, else the v2
 * files. Zero when the cgroup does not exist (the workload is not running).
 */
export async function readCgroupUsage(layout: CgroupLayout, cgroupsPath: string): Promise<CgroupUsage> {
  const cpuacct = v1MountFor(layout, 'cpuacct');
  const memory = v1MountFor(layout, 'memory');
  const v2 = layout.v2 ? join(layout.v2.mountPoint, cgroupsPath) : undefined;
  const cpuNs = cpuacct ? await readNumber(join(cpuacct, cgroupsPath, 'cpuacct.usage')) : undefined;
  const cpuSeconds = cpuNs !== undefined ? cpuNs / 1e9 : v2 ? await readV2CpuSeconds(v2) : undefined;
  const memoryBytes = memory
    ? await readNumber(join(memory, cgroupsPath, 'memory.usage_in_bytes'))
    : v2
      ? await readNumber(join(v2, 'memory.current'))
      : undefined;
  return { cpuSeconds: cpuSeconds ?? 0, memoryBytes: memoryBytes ?? 0 };
}

/** Cgroup directories of `cgroupsPath` that still exist. */
export async function existingCgroupDirs(layout: CgroupLayout, cgroupsPath: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of cgroupDirs(layout, cgroupsPath)) {
    try {
      if ((await stat(dir)).isDirectory()) found.push(dir);
    } catch {
      // absent: what we want
    }
  }
  return found;
}

/**
 * Removes the (empty) cgroup directories of `cgroupsPath` that the runtime
 * left behind; a cgroup with processes cannot be removed and is returned.
 */
export async function removeCgroupDirs(layout: CgroupLayout, cgroupsPath: string): Promise<string[]> {
  const stuck: string[] = [];
  for (const dir of await existingCgroupDirs(layout, cgroupsPath)) {
    try {
      await rmdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') stuck.push(dir);
    }
  }
  return stuck;
}
