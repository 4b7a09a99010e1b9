/**
 * Push monitoring records (OpenNebula 5.12+ monitord, reference §5): what an
 * agent's probes measure and push to the front-end over the agent channel.
 *
 * Each record is stamped with the agent's clock (`ts`, ms) when its probe ran.
 * The front-end keeps, per host and kind, the newest stamp it accepted and
 * drops anything not newer (OpenNebula: "messages older than the last of their
 * type for that host are dropped"). Records travel batched in one `monitor`
 * frame whose payload is gzip-compressed JSON (base64 text, since the channel
 * carries text frames).
 */
import type { HostFacts, WorkloadReport } from './agent-protocol.js';

export const MONITOR_KINDS = ['beacon', 'system', 'host', 'datastore', 'vm-state', 'vm-usage'] as const;
export type MonitorKind = (typeof MONITOR_KINDS)[number];

/**
 * Probe periods in seconds, OpenNebula's defaults (monitord.conf PROBES_PERIOD):
 * BEACON_HOST 30, SYSTEM_HOST 600, MONITOR_HOST 120, STATE_VM 5 (full sync every
 * SYNC_STATE_VM 180), MONITOR_VM 30. The system datastore is measured with the
 * host usage probes (120 s).
 */
export const PROBE_PERIOD_DEFAULTS_S = Object.freeze({
  beacon: 30,
  system: 600,
  host: 120,
  datastore: 120,
  'vm-state': 5,
  'vm-sync': 180,
  'vm-usage': 30,
});
export type ProbePeriodName = keyof typeof PROBE_PERIOD_DEFAULTS_S;
export type ProbePeriods = Record<ProbePeriodName, number>;

/** A VM seen missing this many VM-state runs in a row is reported missing (shipped monitord conf: 5). */
export const VM_MISSING_RUNS_DEFAULT = 5;

/**
 * Parses `beacon=30,host=120,vm-state=0.5` (seconds, fractions allowed) over the
 * defaults. Throws a message naming the bad entry.
 */
export function parseProbePeriods(text: string, base: ProbePeriods = { ...PROBE_PERIOD_DEFAULTS_S }): ProbePeriods {
  const out = { ...base };
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    if (!name || !Object.hasOwn(PROBE_PERIOD_DEFAULTS_S, name)) {
      throw new Error(
        `unknown probe period '${name ?? part}' (known: ${Object.keys(PROBE_PERIOD_DEFAULTS_S).join(', ')})`,
      );
    }
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n) || n < 0.05 || n > 86_400) {
      throw new Error(`probe period ${name} must be a number of seconds from 0.05 to 86400, got '${value ?? ''}'`);
    }
    out[name as ProbePeriodName] = n;
  }
  return out;
}

export interface PciDevice {
  /** Bus address, e.g. 0000:00:1f.2. */
  address: string;
  vendor: string;
  device: string;
  /** PCI class code, e.g. 0x010601. */
  class: string;
  /** The kernel driver bound to it, if any. */
  driver: string | null;
  numaNode: number | null;
}

/** SYSTEM_HOST: what the machine is (changes rarely). Extends the hello facts. */
export interface HostSystemInfo extends HostFacts {
  cpuModel: string;
  cpuMhz: number;
  kernel: string;
  /** Huge page pools of the whole machine by size. */
  hugepages: { sizeKb: number; total: number; free: number }[];
  pci: PciDevice[];
}

/** MONITOR_HOST: how busy the machine is. CPU in OpenNebula units (100 = one core). */
export interface HostUsage {
  totalCpu: number;
  usedCpu: number;
  freeCpu: number;
  totalMemoryKb: number;
  usedMemoryKb: number;
  freeMemoryKb: number;
  /** Cumulative bytes over every interface except loopback. */
  netRxBytes: number;
  netTxBytes: number;
  numa: { id: number; freeMemoryKb: number; usedMemoryKb: number; hugepages: { sizeKb: number; free: number }[] }[];
  /** Attributes printed by the operator's probe scripts (KEY=VALUE). */
  custom: Record<string, string>;
  /** Probe scripts that failed, with why. */
  probeErrors: { probe: string; error: string }[];
}

export interface DatastoreUsage {
  /** The agent's state directory (its system datastore). */
  path: string;
  totalMb: number;
  usedMb: number;
  freeMb: number;
}

export interface VmStateEntry {
  vmId: number;
  state: WorkloadReport['state'];
  /** Runtime name of the workload, e.g. one-42. */
  deployId: string;
  /**
   * Set while a vanished workload is still being counted (fewer runs than the
   * threshold): not a state change yet, only "do not take it for absent".
   */
  misses?: number;
}

/** A workload the runtime lists on the host that this agent does not manage. */
export interface ForeignWorkload {
  deployId: string;
  runtime: string;
}

export interface VmUsage {
  vmId: number;
  /** Percent of one core (OpenNebula CPU: 100 = one core busy). */
  cpu: number;
  memoryKb: number;
  netRxBytes: number;
  netTxBytes: number;
  diskReadBytes: number;
  diskWriteBytes: number;
}

export type MonitorRecord =
  | { k: 'beacon'; ts: number; periodMs: number }
  | { k: 'system'; ts: number; system: HostSystemInfo }
  | { k: 'host'; ts: number; usage: HostUsage }
  | { k: 'datastore'; ts: number; datastore: DatastoreUsage }
  /** full: every managed VM plus the foreign workloads (SYNC_STATE=yes); else changes only. */
  | { k: 'vm-state'; ts: number; full: boolean; vms: VmStateEntry[]; foreign?: ForeignWorkload[] }
  | { k: 'vm-usage'; ts: number; vms: VmUsage[] };

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** A VM sample's measured fields (every one a finite number). */
const VM_USAGE_FIELDS = ['cpu', 'memoryKb', 'netRxBytes', 'netTxBytes', 'diskReadBytes', 'diskWriteBytes'] as const;
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the shape of decoded records. Returns the valid ones and one reason per
 * dropped record; VM entries are checked here, host ownership by the front-end.
 */
export function checkMonitorRecords(value: unknown): { records: MonitorRecord[]; problems: string[] } {
  const records: MonitorRecord[] = [];
  const problems: string[] = [];
  if (!Array.isArray(value)) return { records, problems: ['the payload is not a list of records'] };
  for (let i = 0; i < value.length; i++) checkOne(value[i], i);
  return { records, problems };

  function checkOne(r: unknown, i: number): void {
    if (!isObj(r) || !isNum(r.ts) || !(MONITOR_KINDS as readonly unknown[]).includes(r.k)) {
      problems.push(`record ${i}: needs k (one of ${MONITOR_KINDS.join(', ')}) and a numeric ts`);
      return;
    }
    switch (r.k) {
      case 'beacon':
        if (!isNum(r.periodMs) || r.periodMs <= 0) return void problems.push(`record ${i}: beacon needs periodMs`);
        break;
      case 'system':
        if (!isObj(r.system) || !isNum(r.system.cpus) || !isNum(r.system.memoryMb))
          return void problems.push(`record ${i}: system needs cpus and memoryMb`);
        break;
      case 'host':
        if (!isObj(r.usage) || !isNum(r.usage.totalCpu) || !isNum(r.usage.usedMemoryKb))
          return void problems.push(`record ${i}: host needs usage.totalCpu and usage.usedMemoryKb`);
        break;
      case 'datastore':
        if (!isObj(r.datastore) || !isNum(r.datastore.totalMb))
          return void problems.push(`record ${i}: datastore needs totalMb`);
        break;
      case 'vm-state':
        if (
          typeof r.full !== 'boolean' ||
          !Array.isArray(r.vms) ||
          !r.vms.every((v) => isObj(v) && isId(v.vmId) && typeof v.state === 'string') ||
          (r.foreign !== undefined &&
            (!Array.isArray(r.foreign) || !r.foreign.every((f) => isObj(f) && typeof f.deployId === 'string')))
        )
          return void problems.push(`record ${i}: vm-state needs full and vms [{vmId, state}]`);
        break;
      case 'vm-usage':
        if (
          !Array.isArray(r.vms) ||
          !r.vms.every((v) => isObj(v) && isId(v.vmId) && VM_USAGE_FIELDS.every((f) => isNum(v[f])))
        )
          return void problems.push(
            `record ${i}: vm-usage needs vms [{vmId, ${VM_USAGE_FIELDS.join(', ')}}], all numbers`,
          );
        break;
    }
    records.push(r as unknown as MonitorRecord);
  }
}

/** Parses operator probe output: `KEY=VALUE` or `KEY="VALUE"` lines; other lines are ignored. */
export function parseProbeOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2] as string;
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replaceAll('\\"', '"');
    out[(m[1] as string).toUpperCase()] = v;
  }
  return out;
}
