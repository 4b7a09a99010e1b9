/**
 * VM state names and numbers, as OpenNebula defines them (`include/VirtualMachine.h`,
 * 5.12 – 6.10). A VM has a coarse `STATE` and a fine `LCM_STATE`; the LCM state only
 * means something while `STATE` is ACTIVE, otherwise it is LCM_INIT.
 *
 *   STATE:  INIT → PENDING ⇄ HOLD → ACTIVE(+LCM) → POWEROFF | SUSPENDED | STOPPED | UNDEPLOYED → … → DONE
 *
 * The numbers are stored in the database and shown by the API, so they must never
 * change. Retired numbers (STATE 7, LCM 13, 14, 58) are skipped, not reused.
 * The transitions between these states live in `vm-state-machine.ts`.
 */

export const VM_STATES = {
  INIT: 0,
  PENDING: 1,
  HOLD: 2,
  ACTIVE: 3,
  STOPPED: 4,
  SUSPENDED: 5,
  DONE: 6,
  // 7 (FAILED) retired
  POWEROFF: 8,
  UNDEPLOYED: 9,
  CLONING: 10,
  CLONING_FAILURE: 11,
} as const;

export type VmState = keyof typeof VM_STATES;
export type VmStateNumber = (typeof VM_STATES)[VmState];

export const LCM_STATES = {
  LCM_INIT: 0,
  PROLOG: 1,
  BOOT: 2,
  RUNNING: 3,
  MIGRATE: 4,
  SAVE_STOP: 5,
  SAVE_SUSPEND: 6,
  SAVE_MIGRATE: 7,
  PROLOG_MIGRATE: 8,
  PROLOG_RESUME: 9,
  EPILOG_STOP: 10,
  EPILOG: 11,
  SHUTDOWN: 12,
  // 13 (CANCEL), 14 (FAILURE) retired
  CLEANUP_RESUBMIT: 15,
  UNKNOWN: 16,
  HOTPLUG: 17,
  SHUTDOWN_POWEROFF: 18,
  BOOT_UNKNOWN: 19,
  BOOT_POWEROFF: 20,
  BOOT_SUSPENDED: 21,
  BOOT_STOPPED: 22,
  CLEANUP_DELETE: 23,
  HOTPLUG_SNAPSHOT: 24,
  HOTPLUG_NIC: 25,
  HOTPLUG_SAVEAS: 26,
  HOTPLUG_SAVEAS_POWEROFF: 27,
  HOTPLUG_SAVEAS_SUSPENDED: 28,
  SHUTDOWN_UNDEPLOY: 29,
  EPILOG_UNDEPLOY: 30,
  PROLOG_UNDEPLOY: 31,
  BOOT_UNDEPLOY: 32,
  HOTPLUG_PROLOG_POWEROFF: 33,
  HOTPLUG_EPILOG_POWEROFF: 34,
  BOOT_MIGRATE: 35,
  BOOT_FAILURE: 36,
  BOOT_MIGRATE_FAILURE: 37,
  PROLOG_MIGRATE_FAILURE: 38,
  PROLOG_FAILURE: 39,
  EPILOG_FAILURE: 40,
  EPILOG_STOP_FAILURE: 41,
  EPILOG_UNDEPLOY_FAILURE: 42,
  PROLOG_MIGRATE_POWEROFF: 43,
  PROLOG_MIGRATE_POWEROFF_FAILURE: 44,
  PROLOG_MIGRATE_SUSPEND: 45,
  PROLOG_MIGRATE_SUSPEND_FAILURE: 46,
  BOOT_UNDEPLOY_FAILURE: 47,
  BOOT_STOPPED_FAILURE: 48,
  PROLOG_RESUME_FAILURE: 49,
  PROLOG_UNDEPLOY_FAILURE: 50,
  DISK_SNAPSHOT_POWEROFF: 51,
  DISK_SNAPSHOT_REVERT_POWEROFF: 52,
  DISK_SNAPSHOT_DELETE_POWEROFF: 53,
  DISK_SNAPSHOT_SUSPENDED: 54,
  DISK_SNAPSHOT_REVERT_SUSPENDED: 55,
  DISK_SNAPSHOT_DELETE_SUSPENDED: 56,
  DISK_SNAPSHOT: 57,
  // 58 (DISK_SNAPSHOT_REVERT) retired
  DISK_SNAPSHOT_DELETE: 59,
  PROLOG_MIGRATE_UNKNOWN: 60,
  PROLOG_MIGRATE_UNKNOWN_FAILURE: 61,
  DISK_RESIZE: 62,
  DISK_RESIZE_POWEROFF: 63,
  DISK_RESIZE_UNDEPLOYED: 64,
  HOTPLUG_NIC_POWEROFF: 65,
  HOTPLUG_RESIZE: 66,
  HOTPLUG_SAVEAS_UNDEPLOYED: 67,
  HOTPLUG_SAVEAS_STOPPED: 68,
  // 6.6+
  BACKUP: 69,
  BACKUP_POWEROFF: 70,
  RESTORE: 71,
} as const;

export type LcmState = keyof typeof LCM_STATES;
export type LcmStateNumber = (typeof LCM_STATES)[LcmState];

/** Every STATE name, in number order. */
export const VM_STATE_LIST = Object.keys(VM_STATES) as readonly VmState[];
/** Every LCM_STATE name, in number order. */
export const LCM_STATE_LIST = Object.keys(LCM_STATES) as readonly LcmState[];

function reverse<K extends string>(map: Readonly<Record<K, number>>): Readonly<Record<number, K>> {
  const out: Record<number, K> = {};
  for (const [name, num] of Object.entries(map) as [K, number][]) out[num] = name;
  return Object.freeze(out);
}

/** STATE number → name (retired numbers are absent). */
export const VM_STATE_NAMES: Readonly<Record<number, VmState>> = reverse(VM_STATES);
/** LCM_STATE number → name (retired numbers are absent). */
export const LCM_STATE_NAMES: Readonly<Record<number, LcmState>> = reverse(LCM_STATES);

export function isVmState(value: unknown): value is VmState {
  return typeof value === 'string' && Object.hasOwn(VM_STATES, value);
}

export function isLcmState(value: unknown): value is LcmState {
  return typeof value === 'string' && Object.hasOwn(LCM_STATES, value);
}

/**
 * Short names of `onevm list` (`SHORT_VM_STATES` / `SHORT_LCM_STATES` in OpenNebula's
 * Ruby OCA, 6.x). Upstream spells the disk-resize name `drsz`.
 */
const SHORT_VM: Readonly<Record<VmState, string>> = {
  INIT: 'init',
  PENDING: 'pend',
  HOLD: 'hold',
  ACTIVE: 'actv',
  STOPPED: 'stop',
  SUSPENDED: 'susp',
  DONE: 'done',
  POWEROFF: 'poff',
  UNDEPLOYED: 'unde',
  CLONING: 'clon',
  CLONING_FAILURE: 'fail',
};

const SHORT_LCM: Readonly<Record<LcmState, string>> = {
  LCM_INIT: 'actv', // not a real ACTIVE sub-state; upstream has no short name for it
  PROLOG: 'prol',
  BOOT: 'boot',
  RUNNING: 'runn',
  MIGRATE: 'migr',
  SAVE_STOP: 'save',
  SAVE_SUSPEND: 'save',
  SAVE_MIGRATE: 'save',
  PROLOG_MIGRATE: 'migr',
  PROLOG_RESUME: 'prol',
  EPILOG_STOP: 'epil',
  EPILOG: 'epil',
  SHUTDOWN: 'shut',
  CLEANUP_RESUBMIT: 'clea',
  UNKNOWN: 'unkn',
  HOTPLUG: 'hotp',
  SHUTDOWN_POWEROFF: 'shut',
  BOOT_UNKNOWN: 'boot',
  BOOT_POWEROFF: 'boot',
  BOOT_SUSPENDED: 'boot',
  BOOT_STOPPED: 'boot',
  CLEANUP_DELETE: 'clea',
  HOTPLUG_SNAPSHOT: 'snap',
  HOTPLUG_NIC: 'hotp',
  HOTPLUG_SAVEAS: 'hotp',
  HOTPLUG_SAVEAS_POWEROFF: 'hotp',
  HOTPLUG_SAVEAS_SUSPENDED: 'hotp',
  SHUTDOWN_UNDEPLOY: 'shut',
  EPILOG_UNDEPLOY: 'epil',
  PROLOG_UNDEPLOY: 'prol',
  BOOT_UNDEPLOY: 'boot',
  HOTPLUG_PROLOG_POWEROFF: 'hotp',
  HOTPLUG_EPILOG_POWEROFF: 'hotp',
  BOOT_MIGRATE: 'boot',
  BOOT_FAILURE: 'fail',
  BOOT_MIGRATE_FAILURE: 'fail',
  PROLOG_MIGRATE_FAILURE: 'fail',
  PROLOG_FAILURE: 'fail',
  EPILOG_FAILURE: 'fail',
  EPILOG_STOP_FAILURE: 'fail',
  EPILOG_UNDEPLOY_FAILURE: 'fail',
  PROLOG_MIGRATE_POWEROFF: 'migr',
  PROLOG_MIGRATE_POWEROFF_FAILURE: 'fail',
  PROLOG_MIGRATE_SUSPEND: 'migr',
  PROLOG_MIGRATE_SUSPEND_FAILURE: 'fail',
  BOOT_UNDEPLOY_FAILURE: 'fail',
  BOOT_STOPPED_FAILURE: 'fail',
  PROLOG_RESUME_FAILURE: 'fail',
  PROLOG_UNDEPLOY_FAILURE: 'fail',
  DISK_SNAPSHOT_POWEROFF: 'snap',
  DISK_SNAPSHOT_REVERT_POWEROFF: 'snap',
  DISK_SNAPSHOT_DELETE_POWEROFF: 'snap',
  DISK_SNAPSHOT_SUSPENDED: 'snap',
  DISK_SNAPSHOT_REVERT_SUSPENDED: 'snap',
  DISK_SNAPSHOT_DELETE_SUSPENDED: 'snap',
  DISK_SNAPSHOT: 'snap',
  DISK_SNAPSHOT_DELETE: 'snap',
  PROLOG_MIGRATE_UNKNOWN: 'migr',
  PROLOG_MIGRATE_UNKNOWN_FAILURE: 'fail',
  DISK_RESIZE: 'drsz',
  DISK_RESIZE_POWEROFF: 'drsz',
  DISK_RESIZE_UNDEPLOYED: 'drsz',
  HOTPLUG_NIC_POWEROFF: 'hotp',
  HOTPLUG_RESIZE: 'hotp',
  HOTPLUG_SAVEAS_UNDEPLOYED: 'hotp',
  HOTPLUG_SAVEAS_STOPPED: 'hotp',
  BACKUP: 'back',
  BACKUP_POWEROFF: 'back',
  RESTORE: 'rest',
};

/** The four-letter name `oneedge vm list` shows: the LCM short name while ACTIVE, else the STATE's. */
export function shortStateName(state: VmState, lcm: LcmState): string {
  return state === 'ACTIVE' ? SHORT_LCM[lcm] : SHORT_VM[state];
}

/** True for the fourteen `*_FAILURE` LCM states, which wait for an operator (recover, terminate). */
export function isFailureState(lcm: LcmState): boolean {
  return lcm.endsWith('_FAILURE');
}

/**
 * True while a driver operation is in flight and the VM waits for its result:
 * every ACTIVE sub-state except RUNNING, UNKNOWN and the `*_FAILURE` states.
 */
export function isTransient(lcm: LcmState): boolean {
  return lcm !== 'LCM_INIT' && lcm !== 'RUNNING' && lcm !== 'UNKNOWN' && !isFailureState(lcm);
}

/**
 * Each `*_FAILURE` state and the transient state whose operation failed into it
 * (`recover --retry` goes back to the twin and re-runs its operation).
 */
export const FAILURE_TWINS = {
  BOOT_FAILURE: 'BOOT',
  BOOT_MIGRATE_FAILURE: 'BOOT_MIGRATE',
  BOOT_UNDEPLOY_FAILURE: 'BOOT_UNDEPLOY',
  BOOT_STOPPED_FAILURE: 'BOOT_STOPPED',
  PROLOG_FAILURE: 'PROLOG',
  PROLOG_MIGRATE_FAILURE: 'PROLOG_MIGRATE',
  PROLOG_MIGRATE_POWEROFF_FAILURE: 'PROLOG_MIGRATE_POWEROFF',
  PROLOG_MIGRATE_SUSPEND_FAILURE: 'PROLOG_MIGRATE_SUSPEND',
  PROLOG_MIGRATE_UNKNOWN_FAILURE: 'PROLOG_MIGRATE_UNKNOWN',
  PROLOG_RESUME_FAILURE: 'PROLOG_RESUME',
  PROLOG_UNDEPLOY_FAILURE: 'PROLOG_UNDEPLOY',
  EPILOG_FAILURE: 'EPILOG',
  EPILOG_STOP_FAILURE: 'EPILOG_STOP',
  EPILOG_UNDEPLOY_FAILURE: 'EPILOG_UNDEPLOY',
} as const satisfies Partial<Record<LcmState, LcmState>>;

export type FailureState = keyof typeof FAILURE_TWINS;

export const FAILURE_STATE_LIST = Object.keys(FAILURE_TWINS) as readonly FailureState[];
