/**
 * The OCI runtime spec (config.json) of one workload, built from a
 * WorkloadSpec. Pure: no file system access, so it is unit-tested alone.
 * Only the fields crun and runc need are written; both accept it.
 */
import type { WorkloadSpec } from './types.js';

export const OCI_VERSION = '1.0.2';
const MIB = 1024 * 1024;
/** CFS period, µs: the kernel default; quota = VCPU × period. */
export const CPU_PERIOD_US = 100_000;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default capability set: enough for init scripts and daemons, nothing that reaches the host. */
const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciNamespace {
  type: 'pid' | 'ipc' | 'uts' | 'mount' | 'network';
  path?: string;
}

export interface OciResources {
  devices: { allow: boolean; access: string }[];
  memory?: { limit: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  hugepageLimits?: { pageSize: string; limit: number }[];
}

export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: false;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    rootfsPropagation?: 'rslave';
    cgroupsPath: string;
    namespaces: OciNamespace[];
    resources: OciResources;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export interface OciSpecInput {
  spec: WorkloadSpec;
  /** argv of the main process, already resolved (command or default). */
  args: string[];
  /** Absolute path of the merged overlay. */
  rootPath: string;
  /** Absolute host path bind-mounted read-only at /context. */
  contextDir: string;
  cgroupsPath: string;
}

/** The environment: PATH and HOME, then CONTEXT variables, then spec.env (explicit env wins). */
export function buildEnv(spec: WorkloadSpec): string[] {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: '/root', ...spec.context, ...spec.env };
  return Object.entries(env)
    .filter(([key]) => key !== '' && !key.includes('='))
    .map(([key, value]) => `${key}=${value}`);
}

/**
 * CPU limits with OpenNebula's meaning: CPU is the physical share the VM is
 * guaranteed under contention (cpu.shares = CPU × 1024, as its KVM driver
 * writes `<shares>`), VCPU the number of cores it sees and may use at most
 * (CFS quota = VCPU × period). A VM with CPU = 0.1 is not throttled to 10 %
 * of a core on an idle host, just as a KVM guest is not.
 */
export function buildCpu(spec: WorkloadSpec): OciResources['cpu'] {
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (spec.cpu > 0) cpu.shares = Math.max(2, Math.round(spec.cpu * 1024));
  if (spec.vcpu > 0) {
    cpu.quota = Math.round(spec.vcpu * CPU_PERIOD_US);
    cpu.period = CPU_PERIOD_US;
  }
  if (spec.cpuSet && spec.cpuSet.length > 0) cpu.cpus = [...spec.cpuSet].sort((a, b) => a - b).join(',');
  if (spec.memoryNodes && spec.memoryNodes.length > 0) cpu.mems = [...spec.memoryNodes].sort((a, b) => a - b).join(',');
  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

/**
 * Hugepage reservations as hugetlb cgroup limits, one per page size
 * (OCI `pageSize` is written like the kernel's hugetlb.<size> files: 2MB, 1GB).
 */
export function buildHugepageLimits(spec: WorkloadSpec): OciResources['hugepageLimits'] {
  const limits = (spec.hugepages ?? [])
    .filter((h) => h.pages > 0)
    .map((h) => ({ pageSize: hugepageSizeName(h.sizeKb), limit: h.pages * h.sizeKb * 1024 }));
  return limits.length > 0 ? limits : undefined;
}

export function hugepageSizeName(sizeKb: number): string {
  if (sizeKb % (1024 * 1024) === 0) return `${sizeKb / (1024 * 1024)}GB`;
  if (sizeKb % 1024 === 0) return `${sizeKb / 1024}MB`;
  return `${sizeKb}KB`;
}

/** Joins spec.netns when it is a path; 'host' or undefined shares the host's network namespace. */
export function buildNamespaces(netns: string | undefined): OciNamespace[] {
  const namespaces: OciNamespace[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (netns !== undefined && netns !== 'host') namespaces.push({ type: 'network', path: netns });
  return namespaces;
}

export function buildOciConfig(input: OciSpecInput): OciConfig {
  const { spec } = input;
  const resources: OciResources = { devices: [{ allow: false, access: 'rwm' }] };
  if (spec.memoryMb > 0) resources.memory = { limit: Math.round(spec.memoryMb * MIB) };
  const cpu = buildCpu(spec);
  if (cpu) resources.cpu = cpu;
  const hugepages = buildHugepageLimits(spec);
  if (hugepages) resources.hugepageLimits = hugepages;
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: input.args,
      env: buildEnv(spec),
      cwd: '/',
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
      // No rlimits: the workload inherits the agent's (a fixed value above the host's hard limit fails).
      noNewPrivileges: true,
    },
    root: { path: input.rootPath, readonly: false },
    hostname: spec.name,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/context', type: 'bind', source: input.contextDir, options: ['rbind', 'ro', 'nosuid', 'nodev'] },
      ...(spec.mounts ?? []).map((m) => ({
        destination: m.destination,
        type: 'bind',
        source: m.source,
        options: ['rbind', m.readonly ? 'ro' : 'rw', 'nosuid', 'nodev', ...(m.propagation ? [m.propagation] : [])],
      })),
    ],
    linux: {
      // A slave mount only receives the host's mounts when the container's root is not private.
      ...((spec.mounts ?? []).some((m) => m.propagation) ? { rootfsPropagation: 'rslave' } : {}),
      cgroupsPath: input.cgroupsPath,
      namespaces: buildNamespaces(spec.netns),
      resources,
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
