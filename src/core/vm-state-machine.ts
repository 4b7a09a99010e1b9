/**
 * The VM lifecycle as data (OpenNebula 5.12 – 6.x: DispatchManagerActions.cc,
 * LifeCycleActions.cc, LifeCycleStates.cc). Three tables, three pure functions:
 *
 *   ACTION_TABLE    user/scheduler action → applyAction(phase, action, ctx)
 *   DRIVER_RESULTS  driver op finished    → applyDriverResult(phase, 'success'|'failure', ctx)
 *   OBSERVED_TABLE  monitor saw the VM    → applyObserved(phase, observed), applyHostError(phase)
 *
 *   INIT ─► PENDING ⇄ HOLD            (hold / release)
 *             │ deploy          ┌──────────── resume: STOPPED, UNDEPLOYED ─► PENDING
 *             ▼                 │
 *   ACTIVE: PROLOG ─► BOOT ─► RUNNING ─ terminate ─► SHUTDOWN ─► EPILOG ─► DONE
 *             │fail     │fail     ├─ poweroff ─► SHUTDOWN_POWEROFF ─► POWEROFF
 *             ▼         ▼         ├─ suspend ──► SAVE_SUSPEND ──────► SUSPENDED
 *      PROLOG_FAILURE BOOT_FAILURE├─ stop ─────► SAVE_STOP ─► EPILOG_STOP ─► STOPPED
 *                                 ├─ undeploy ─► SHUTDOWN_UNDEPLOY ─► EPILOG_UNDEPLOY ─► UNDEPLOYED
 *                                 ├─ migrate ──► SAVE_MIGRATE ─► PROLOG_MIGRATE ─► BOOT_MIGRATE ─► RUNNING
 *                                 └─ host ERROR / monitor FAILURE ─► UNKNOWN
 *   POWEROFF, SUSPENDED, UNKNOWN ─ resume ─► BOOT_POWEROFF, BOOT_SUSPENDED, BOOT_UNKNOWN ─► RUNNING
 *   POWEROFF, SUSPENDED, STOPPED, UNDEPLOYED ─ terminate ─► EPILOG ─► DONE
 *   *_FAILURE waits for an operator: recover --success|--failure|--retry|--delete|--recreate, terminate.
 *
 * A transient LCM state means "a driver op is in flight"; every transition into one
 * names the DriverOp the lifecycle controller must run next (`Transition.op`), and
 * lists side effects as data (`Transition.effects`). Controllers never assign a state.
 */
import { OneError } from './errors.js';
import {
  FAILURE_STATE_LIST,
  FAILURE_TWINS,
  isTransient,
  LCM_STATE_LIST,
  type LcmState,
  VM_STATE_LIST,
  type VmState,
} from './vm-states.js';

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

/** Where a VM is: `lcm` is LCM_INIT unless `state` is ACTIVE. */
export interface VmPhase {
  readonly state: VmState;
  readonly lcm: LcmState;
}

/** A STATE other than ACTIVE, or an LCM state: each names exactly one phase. */
export type PhaseName = Exclude<VmState, 'ACTIVE'> | LcmState;

export interface VmActionInfo {
  /** The caller must name a target host (E_HOST_REQUIRED otherwise). */
  readonly needsHost: boolean;
  /**
   * In OpenNebula's default VM_ADMIN_OPERATIONS ("migrate, delete, recover, retry, deploy,
   * resched"): migrate covers every migrate flavour, resched covers unresched, recover covers
   * --success/--failure/--recreate, delete is recover --delete, retry is recover --retry.
   */
  readonly adminOnly: boolean;
  /** The action becomes the VM's `lastAction` (OpenNebula's history ACTION), see VmContext. */
  readonly records: boolean;
  readonly description: string;
}

// metadata presets: [needsHost, adminOnly, records]
const USER = { needsHost: false, adminOnly: false, records: true } as const;
const USER_NOREC = { needsHost: false, adminOnly: false, records: false } as const;
const ADMIN = { needsHost: false, adminOnly: true, records: true } as const;
const ADMIN_NOREC = { needsHost: false, adminOnly: true, records: false } as const;
const ADMIN_HOST = { needsHost: true, adminOnly: true, records: true } as const;

export const VM_ACTIONS = {
  deploy: { ...ADMIN_HOST, description: 'place a PENDING/HOLD/STOPPED/UNDEPLOYED VM on a host and start it' },
  terminate: { ...USER, description: 'shut down (ACPI) and delete the VM' },
  'terminate-hard': { ...USER, description: 'destroy and delete the VM; also overrides a stuck ACPI shutdown' },
  poweroff: { ...USER, description: 'power off (ACPI); files and host capacity are kept' },
  'poweroff-hard': { ...USER, description: 'power off by destroying the VM' },
  undeploy: { ...USER, description: 'shut down (ACPI), move disks to the system datastore, free the host' },
  'undeploy-hard': { ...USER, description: 'undeploy, destroying the VM' },
  suspend: { ...USER, description: 'save memory to a checkpoint on the host' },
  stop: { ...USER, description: 'save memory, move disks + checkpoint to the system datastore, free the host' },
  resume: { ...USER, description: 'restart a SUSPENDED/POWEROFF/UNKNOWN VM; re-queue a STOPPED/UNDEPLOYED one' },
  reboot: { ...USER_NOREC, description: 'ACPI reboot' },
  'reboot-hard': { ...USER_NOREC, description: 'hard reset' },
  hold: { ...USER_NOREC, description: 'keep a PENDING VM away from the scheduler' },
  release: { ...USER_NOREC, description: 'return a HOLD VM to PENDING' },
  migrate: { ...ADMIN_HOST, description: 'cold migration: save, move files, restore on the target host' },
  'migrate-poweroff': { ...ADMIN_HOST, description: 'cold migration with ACPI shutdown; boots fresh on the target' },
  'migrate-poweroff-hard': {
    ...ADMIN_HOST,
    description: 'cold migration destroying the VM; boots fresh on the target',
  },
  'live-migrate': { ...ADMIN_HOST, description: 'move a RUNNING VM without stopping it' },
  resched: { ...ADMIN_NOREC, description: 'set RESCHED=1: the scheduler moves the VM to a better host' },
  unresched: { ...ADMIN_NOREC, description: 'clear RESCHED' },
  'recover-success': { ...ADMIN_NOREC, description: 'pretend the pending driver op succeeded and continue' },
  'recover-failure': { ...ADMIN_NOREC, description: 'pretend the pending driver op failed' },
  'recover-retry': { ...ADMIN_NOREC, description: 'from *_FAILURE back to its twin, running its op again' },
  'recover-delete': { ...ADMIN, description: 'clean up whatever is left and delete the VM, from any state' },
  'recover-recreate': {
    ...ADMIN,
    description: 'clean up and re-queue the VM (same id) with fresh non-persistent disks',
  },
} as const satisfies Record<string, VmActionInfo>;

export type VmAction = keyof typeof VM_ACTIONS;
export const VM_ACTION_LIST = Object.keys(VM_ACTIONS) as readonly VmAction[];

/** The host operations the lifecycle controller runs (via the agent) in transient states. */
export const DRIVER_OPS = {
  prolog: 'stage disks and context on the host from the image datastores',
  'prolog-resume': 'bring disks and the memory checkpoint back from the system datastore (after stop)',
  'prolog-undeploy': 'bring disks back from the system datastore (after undeploy)',
  'prolog-migrate': 'move disks (and checkpoint, if any) from the source host to the target host',
  boot: 'create and start the VM from its disks',
  restore: 'start the VM from its memory checkpoint',
  shutdown: 'ACPI shutdown; a guest that ignores it times out as a failure',
  cancel: 'destroy the VM at once (hard power-off)',
  save: 'checkpoint the memory to a file on the host and stop the VM',
  reboot: 'ACPI reboot',
  reset: 'hard reset',
  'migrate-live': 'live-migrate the running VM to the target host',
  epilog: 'delete the VM files (host or system datastore), copying persistent disks back',
  'epilog-stop': 'move disks and the memory checkpoint to the system datastore',
  'epilog-undeploy': 'move disks to the system datastore',
  cleanup: 'best effort: destroy the VM if it runs and delete its files wherever they are',
  'attach-nic': 'hot-plug a NIC into the running workload (HOTPLUG_NIC)',
  'detach-nic': 'hot-unplug a NIC from the running workload (HOTPLUG_NIC)',
  'attach-disk': 'stage a disk and make it visible in the workload (HOTPLUG, HOTPLUG_PROLOG_POWEROFF)',
  'detach-disk': 'unmount a disk, copy it back if persistent, delete it (HOTPLUG, HOTPLUG_EPILOG_POWEROFF)',
} as const;

export type DriverOp = keyof typeof DRIVER_OPS;

/** Side effects the lifecycle controller applies when it commits a transition. */
export const EFFECT_FLAGS = {
  chargeCapacity: "charge the VM's CPU/memory on its (new) host",
  releaseCapacity: "release the VM's capacity on its current host; idempotent",
  releasePreviousHost: 'migration committed: release the capacity held on the source host',
  revertMigration: 'migration failed: release the target host, the VM stays on the source (new history record)',
  newHistory: 'open a new history record (placement, migration, restart after POWEROFF/SUSPENDED)',
  setResched: 'set RESCHED=1',
  clearResched: 'clear RESCHED',
  clearHost: 'the VM is no longer bound to a host; the scheduler may pick any',
  abortInFlight: 'abort the driver op in flight for this VM, if any',
  resetNonPersistentDisks: 'drop non-persistent disks and their snapshots; the next prolog stages them fresh',
  recomputeRequirements: 'recompute the automatic scheduling requirements',
  finalize: 'the VM reached DONE: release leases, image locks and quotas',
} as const;

export type EffectFlag = keyof typeof EFFECT_FLAGS;
export type Effects = Readonly<Partial<Record<EffectFlag, true>>>;

/**
 * What the controller keeps between steps and passes back. `lastAction` is the last
 * recording action (VmActionInfo.records); it picks between rows guarded with `when`:
 * deploy after stop → PROLOG_RESUME, PROLOG_MIGRATE after migrate-poweroff → BOOT, and
 * the op to retry in SHUTDOWN_* and SAVE_MIGRATE. Persist `Transition.context` as returned.
 */
export interface VmContext {
  readonly lastAction?: VmAction;
}

export type DriverResult = 'success' | 'failure';
export type ObservedVmState = 'RUNNING' | 'POWEROFF' | 'SUSPENDED' | 'FAILURE' | 'MISSING';

export type TransitionCause =
  | { readonly kind: 'action'; readonly action: VmAction }
  | { readonly kind: 'driver'; readonly result: DriverResult }
  | { readonly kind: 'observed'; readonly observed: ObservedVmState }
  | { readonly kind: 'host-error' };

export interface Transition {
  readonly cause: TransitionCause;
  readonly from: VmPhase;
  readonly to: VmPhase;
  /** The driver op to run now; absent when the new phase waits for nothing. */
  readonly op?: DriverOp;
  readonly effects: Effects;
  /** Store this with the VM and pass it back on the next call. */
  readonly context: VmContext;
}

/** A set of phases: one coarse state, or ACTIVE with any of the listed LCM states. */
export type PhasePattern =
  | { readonly state: Exclude<VmState, 'ACTIVE'> }
  | { readonly state: 'ACTIVE'; readonly lcm: readonly LcmState[] };

/** One outcome: where the VM goes, what runs next. `when` guards on ctx.lastAction. */
export interface Outcome {
  readonly when?: readonly VmAction[];
  readonly to: VmPhase;
  readonly op?: DriverOp;
  readonly effects?: Effects;
}

export interface TransitionRow extends Outcome {
  readonly from: PhasePattern;
  /** The row keeps the previous lastAction even though the action records (resume → PENDING). */
  readonly keepsLastAction?: true;
}

export interface DriverResultRow {
  readonly success: readonly Outcome[];
  readonly failure: readonly Outcome[];
}

// ---------------------------------------------------------------------------------------------
// Table helpers (tiny constructors so the tables read like the reference)
// ---------------------------------------------------------------------------------------------

type Coarse = Exclude<VmState, 'ACTIVE'>;

const A = (lcm: LcmState): VmPhase => ({ state: 'ACTIVE', lcm });
const S = (state: Coarse): VmPhase => ({ state, lcm: 'LCM_INIT' });
const inLcm = (...lcm: LcmState[]): PhasePattern => ({ state: 'ACTIVE', lcm });
const inState = (state: Coarse): PhasePattern => ({ state });
/** The same outcome from several coarse states. */
const fromStates = (states: readonly Coarse[], outcome: Outcome): TransitionRow[] =>
  states.map((state) => ({ from: inState(state), ...outcome }));
/** Same-phase rows (reboot, resched …): each listed phase stays where it is. */
const stay = (names: readonly PhaseName[], rest: Omit<Outcome, 'to'>): TransitionRow[] =>
  names.map((name) => {
    const to = phaseFromName(name);
    return { from: to.state === 'ACTIVE' ? inLcm(to.lcm) : inState(to.state as Coarse), to, ...rest };
  });

const ACTIVE_LCM = LCM_STATE_LIST.filter((l) => l !== 'LCM_INIT');
const NEVER_HOSTED: readonly Coarse[] = ['INIT', 'PENDING', 'HOLD', 'CLONING', 'CLONING_FAILURE'];
const PARKED: readonly Coarse[] = ['SUSPENDED', 'POWEROFF', 'STOPPED', 'UNDEPLOYED'];
const HARD_STOPS: readonly VmAction[] = ['terminate-hard', 'poweroff-hard', 'undeploy-hard'];
const POWEROFF_MIGRATIONS: readonly VmAction[] = ['migrate-poweroff', 'migrate-poweroff-hard'];
/** Both hosts hold capacity while these run. */
const TWO_HOSTS: readonly LcmState[] = ['SAVE_MIGRATE', 'MIGRATE'];
const CLEANUP_STATES: readonly LcmState[] = ['CLEANUP_DELETE', 'CLEANUP_RESUBMIT'];
const CLEANUP: Effects = { releaseCapacity: true, abortInFlight: true, clearResched: true };
const NO_EFFECTS: Effects = Object.freeze({});

// ---------------------------------------------------------------------------------------------
// Driver results: for every transient state, where success and failure lead
// ---------------------------------------------------------------------------------------------

const ok = (to: VmPhase, op?: DriverOp, effects?: Effects): Outcome[] => [
  { to, ...(op ? { op } : {}), ...(effects ? { effects } : {}) },
];
/** Hotplug, disk snapshot/resize, backup and restore: back to the origin either way. */
const back = (to: VmPhase): DriverResultRow => ({ success: ok(to), failure: ok(to) });

export const DRIVER_RESULTS: Readonly<Partial<Record<PhaseName, DriverResultRow>>> = {
  PROLOG: { success: ok(A('BOOT'), 'boot'), failure: ok(A('PROLOG_FAILURE')) },
  PROLOG_RESUME: { success: ok(A('BOOT_STOPPED'), 'restore'), failure: ok(A('PROLOG_RESUME_FAILURE')) },
  PROLOG_UNDEPLOY: { success: ok(A('BOOT_UNDEPLOY'), 'boot'), failure: ok(A('PROLOG_UNDEPLOY_FAILURE')) },
  PROLOG_MIGRATE: {
    success: [
      { when: POWEROFF_MIGRATIONS, to: A('BOOT'), op: 'boot' },
      { to: A('BOOT_MIGRATE'), op: 'restore' },
    ],
    failure: ok(A('PROLOG_MIGRATE_FAILURE')),
  },
  PROLOG_MIGRATE_POWEROFF: { success: ok(S('POWEROFF')), failure: ok(A('PROLOG_MIGRATE_POWEROFF_FAILURE')) },
  PROLOG_MIGRATE_SUSPEND: { success: ok(S('SUSPENDED')), failure: ok(A('PROLOG_MIGRATE_SUSPEND_FAILURE')) },
  PROLOG_MIGRATE_UNKNOWN: { success: ok(A('BOOT'), 'boot'), failure: ok(A('PROLOG_MIGRATE_UNKNOWN_FAILURE')) },
  BOOT: { success: ok(A('RUNNING')), failure: ok(A('BOOT_FAILURE')) },
  BOOT_MIGRATE: { success: ok(A('RUNNING')), failure: ok(A('BOOT_MIGRATE_FAILURE')) },
  BOOT_STOPPED: { success: ok(A('RUNNING')), failure: ok(A('BOOT_STOPPED_FAILURE')) },
  BOOT_UNDEPLOY: { success: ok(A('RUNNING')), failure: ok(A('BOOT_UNDEPLOY_FAILURE')) },
  BOOT_POWEROFF: { success: ok(A('RUNNING')), failure: ok(S('POWEROFF')) },
  BOOT_SUSPENDED: { success: ok(A('RUNNING')), failure: ok(S('SUSPENDED')) },
  BOOT_UNKNOWN: { success: ok(A('RUNNING')), failure: ok(A('UNKNOWN')) },
  MIGRATE: {
    success: ok(A('RUNNING'), undefined, { releasePreviousHost: true }),
    failure: ok(A('RUNNING'), undefined, { revertMigration: true }),
  },
  SAVE_MIGRATE: {
    success: ok(A('PROLOG_MIGRATE'), 'prolog-migrate', { releasePreviousHost: true }),
    failure: ok(A('RUNNING'), undefined, { revertMigration: true }),
  },
  SAVE_STOP: { success: ok(A('EPILOG_STOP'), 'epilog-stop'), failure: ok(A('RUNNING')) },
  SAVE_SUSPEND: { success: ok(S('SUSPENDED')), failure: ok(A('RUNNING')) },
  SHUTDOWN: { success: ok(A('EPILOG'), 'epilog'), failure: ok(A('RUNNING')) },
  SHUTDOWN_POWEROFF: { success: ok(S('POWEROFF')), failure: ok(A('RUNNING')) },
  SHUTDOWN_UNDEPLOY: { success: ok(A('EPILOG_UNDEPLOY'), 'epilog-undeploy'), failure: ok(A('RUNNING')) },
  EPILOG: {
    success: ok(S('DONE'), undefined, { releaseCapacity: true, finalize: true }),
    failure: ok(A('EPILOG_FAILURE')),
  },
  EPILOG_STOP: {
    success: ok(S('STOPPED'), undefined, { releaseCapacity: true }),
    failure: ok(A('EPILOG_STOP_FAILURE')),
  },
  EPILOG_UNDEPLOY: {
    success: ok(S('UNDEPLOYED'), undefined, { releaseCapacity: true }),
    failure: ok(A('EPILOG_UNDEPLOY_FAILURE')),
  },
  // cleanup is best effort: the VM moves on whatever the driver says
  CLEANUP_RESUBMIT: {
    success: ok(S('PENDING'), undefined, { clearHost: true }),
    failure: ok(S('PENDING'), undefined, { clearHost: true }),
  },
  CLEANUP_DELETE: {
    success: ok(S('DONE'), undefined, { finalize: true }),
    failure: ok(S('DONE'), undefined, { finalize: true }),
  },
  HOTPLUG: back(A('RUNNING')),
  HOTPLUG_SNAPSHOT: back(A('RUNNING')),
  HOTPLUG_NIC: back(A('RUNNING')),
  HOTPLUG_SAVEAS: back(A('RUNNING')),
  HOTPLUG_RESIZE: back(A('RUNNING')),
  HOTPLUG_SAVEAS_POWEROFF: back(S('POWEROFF')),
  HOTPLUG_SAVEAS_SUSPENDED: back(S('SUSPENDED')),
  HOTPLUG_SAVEAS_UNDEPLOYED: back(S('UNDEPLOYED')),
  HOTPLUG_SAVEAS_STOPPED: back(S('STOPPED')),
  HOTPLUG_PROLOG_POWEROFF: back(S('POWEROFF')),
  HOTPLUG_EPILOG_POWEROFF: back(S('POWEROFF')),
  HOTPLUG_NIC_POWEROFF: back(S('POWEROFF')),
  DISK_SNAPSHOT: back(A('RUNNING')),
  DISK_SNAPSHOT_DELETE: back(A('RUNNING')),
  DISK_SNAPSHOT_POWEROFF: back(S('POWEROFF')),
  DISK_SNAPSHOT_REVERT_POWEROFF: back(S('POWEROFF')),
  DISK_SNAPSHOT_DELETE_POWEROFF: back(S('POWEROFF')),
  DISK_SNAPSHOT_SUSPENDED: back(S('SUSPENDED')),
  DISK_SNAPSHOT_REVERT_SUSPENDED: back(S('SUSPENDED')),
  DISK_SNAPSHOT_DELETE_SUSPENDED: back(S('SUSPENDED')),
  DISK_RESIZE: back(A('RUNNING')),
  DISK_RESIZE_POWEROFF: back(S('POWEROFF')),
  DISK_RESIZE_UNDEPLOYED: back(S('UNDEPLOYED')),
  BACKUP: back(A('RUNNING')),
  BACKUP_POWEROFF: back(S('POWEROFF')),
  RESTORE: back(S('POWEROFF')),
  // image cloning (a coarse state, not an LCM one)
  CLONING: { success: ok(S('PENDING')), failure: ok(S('CLONING_FAILURE')) },
};

/**
 * The op that runs while the VM sits in a transient lifecycle state, i.e. what
 * `recover --retry` runs again. Hotplug/snapshot/backup ops and cleanup are not retried.
 */
export const STATE_OPS: Readonly<Partial<Record<LcmState, readonly { when?: readonly VmAction[]; op: DriverOp }[]>>> = {
  PROLOG: [{ op: 'prolog' }],
  PROLOG_RESUME: [{ op: 'prolog-resume' }],
  PROLOG_UNDEPLOY: [{ op: 'prolog-undeploy' }],
  PROLOG_MIGRATE: [{ op: 'prolog-migrate' }],
  PROLOG_MIGRATE_POWEROFF: [{ op: 'prolog-migrate' }],
  PROLOG_MIGRATE_SUSPEND: [{ op: 'prolog-migrate' }],
  PROLOG_MIGRATE_UNKNOWN: [{ op: 'prolog-migrate' }],
  BOOT: [{ op: 'boot' }],
  BOOT_POWEROFF: [{ op: 'boot' }],
  BOOT_UNKNOWN: [{ op: 'boot' }],
  BOOT_UNDEPLOY: [{ op: 'boot' }],
  BOOT_MIGRATE: [{ op: 'restore' }],
  BOOT_SUSPENDED: [{ op: 'restore' }],
  BOOT_STOPPED: [{ op: 'restore' }],
  MIGRATE: [{ op: 'migrate-live' }],
  SAVE_STOP: [{ op: 'save' }],
  SAVE_SUSPEND: [{ op: 'save' }],
  SAVE_MIGRATE: [
    { when: ['migrate-poweroff'], op: 'shutdown' },
    { when: ['migrate-poweroff-hard'], op: 'cancel' },
    { op: 'save' },
  ],
  SHUTDOWN: [{ when: HARD_STOPS, op: 'cancel' }, { op: 'shutdown' }],
  SHUTDOWN_POWEROFF: [{ when: HARD_STOPS, op: 'cancel' }, { op: 'shutdown' }],
  SHUTDOWN_UNDEPLOY: [{ when: HARD_STOPS, op: 'cancel' }, { op: 'shutdown' }],
  EPILOG: [{ op: 'epilog' }],
  EPILOG_STOP: [{ op: 'epilog-stop' }],
  EPILOG_UNDEPLOY: [{ op: 'epilog-undeploy' }],
};

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

const TERMINATE_PARKED_AND_FAILED: readonly TransitionRow[] = [
  // hard has no effect here: the VM is not running
  ...fromStates(PARKED, { to: A('EPILOG'), op: 'epilog' }),
  ...fromStates(NEVER_HOSTED, { to: S('DONE'), effects: { finalize: true } }),
  { from: inLcm(...FAILURE_STATE_LIST), to: A('CLEANUP_DELETE'), op: 'cleanup', effects: CLEANUP },
];

const MIGRATE_PARKED: readonly TransitionRow[] = (() => {
  const effects: Effects = { chargeCapacity: true, releasePreviousHost: true, newHistory: true, clearResched: true };
  return [
    { from: inState('POWEROFF'), to: A('PROLOG_MIGRATE_POWEROFF'), op: 'prolog-migrate', effects },
    { from: inState('SUSPENDED'), to: A('PROLOG_MIGRATE_SUSPEND'), op: 'prolog-migrate', effects },
    { from: inLcm('UNKNOWN'), to: A('PROLOG_MIGRATE_UNKNOWN'), op: 'prolog-migrate', effects },
  ];
})();

const migrateRunning = (op: DriverOp): TransitionRow => ({
  from: inLcm('RUNNING'),
  to: A('SAVE_MIGRATE'),
  op,
  effects: { chargeCapacity: true, newHistory: true, clearResched: true },
});

const PLACE: Effects = { chargeCapacity: true, newHistory: true };
const QUEUED: readonly Coarse[] = ['PENDING', 'HOLD'];
const OTHER_ACTIVE = ACTIVE_LCM.filter((l) => !TWO_HOSTS.includes(l) && !CLEANUP_STATES.includes(l));

const BASE_ACTIONS: Readonly<Record<Exclude<VmAction, `recover-${'success' | 'failure' | 'retry'}`>, TransitionRow[]>> =
  {
    deploy: [
      // a VM resumed from STOPPED/UNDEPLOYED is PENDING with its files in the system datastore
      ...fromStates(QUEUED, { when: ['stop'], to: A('PROLOG_RESUME'), op: 'prolog-resume', effects: PLACE }),
      ...fromStates(QUEUED, {
        when: ['undeploy', 'undeploy-hard'],
        to: A('PROLOG_UNDEPLOY'),
        op: 'prolog-undeploy',
        effects: PLACE,
      }),
      ...fromStates(QUEUED, { to: A('PROLOG'), op: 'prolog', effects: PLACE }),
      { from: inState('STOPPED'), to: A('PROLOG_RESUME'), op: 'prolog-resume', effects: PLACE },
      { from: inState('UNDEPLOYED'), to: A('PROLOG_UNDEPLOY'), op: 'prolog-undeploy', effects: PLACE },
    ],
    terminate: [
      { from: inLcm('RUNNING', 'UNKNOWN'), to: A('SHUTDOWN'), op: 'shutdown', effects: { clearResched: true } },
      ...TERMINATE_PARKED_AND_FAILED,
    ],
    'terminate-hard': [
      { from: inLcm('RUNNING', 'UNKNOWN'), to: A('SHUTDOWN'), op: 'cancel', effects: { clearResched: true } },
      { from: inLcm('SHUTDOWN'), to: A('SHUTDOWN'), op: 'cancel', effects: { abortInFlight: true } },
      ...TERMINATE_PARKED_AND_FAILED,
    ],
    poweroff: [
      {
        from: inLcm('RUNNING', 'UNKNOWN'),
        to: A('SHUTDOWN_POWEROFF'),
        op: 'shutdown',
        effects: { clearResched: true },
      },
    ],
    'poweroff-hard': [
      { from: inLcm('RUNNING', 'UNKNOWN'), to: A('SHUTDOWN_POWEROFF'), op: 'cancel', effects: { clearResched: true } },
      { from: inLcm('SHUTDOWN_POWEROFF'), to: A('SHUTDOWN_POWEROFF'), op: 'cancel', effects: { abortInFlight: true } },
    ],
    undeploy: [
      {
        from: inLcm('RUNNING', 'UNKNOWN'),
        to: A('SHUTDOWN_UNDEPLOY'),
        op: 'shutdown',
        effects: { clearResched: true },
      },
      { from: inState('POWEROFF'), to: A('EPILOG_UNDEPLOY'), op: 'epilog-undeploy' },
    ],
    'undeploy-hard': [
      { from: inLcm('RUNNING', 'UNKNOWN'), to: A('SHUTDOWN_UNDEPLOY'), op: 'cancel', effects: { clearResched: true } },
      { from: inLcm('SHUTDOWN_UNDEPLOY'), to: A('SHUTDOWN_UNDEPLOY'), op: 'cancel', effects: { abortInFlight: true } },
      { from: inState('POWEROFF'), to: A('EPILOG_UNDEPLOY'), op: 'epilog-undeploy' },
    ],
    suspend: [{ from: inLcm('RUNNING'), to: A('SAVE_SUSPEND'), op: 'save', effects: { clearResched: true } }],
    stop: [
      { from: inLcm('RUNNING'), to: A('SAVE_STOP'), op: 'save', effects: { clearResched: true } },
      { from: inState('SUSPENDED'), to: A('EPILOG_STOP'), op: 'epilog-stop' },
    ],
    resume: [
      ...fromStates(['STOPPED', 'UNDEPLOYED'], {
        to: S('PENDING'),
        effects: { clearHost: true, recomputeRequirements: true },
      }).map((row) => ({ ...row, keepsLastAction: true as const })),
      { from: inState('SUSPENDED'), to: A('BOOT_SUSPENDED'), op: 'restore', effects: { newHistory: true } },
      { from: inState('POWEROFF'), to: A('BOOT_POWEROFF'), op: 'boot', effects: { newHistory: true } },
      { from: inLcm('UNKNOWN'), to: A('BOOT_UNKNOWN'), op: 'boot' },
    ],
    reboot: stay(['RUNNING'], { op: 'reboot', effects: { clearResched: true } }),
    'reboot-hard': stay(['RUNNING'], { op: 'reset', effects: { clearResched: true } }),
    hold: [{ from: inState('PENDING'), to: S('HOLD') }],
    release: [{ from: inState('HOLD'), to: S('PENDING'), effects: { recomputeRequirements: true } }],
    migrate: [migrateRunning('save'), ...MIGRATE_PARKED],
    'migrate-poweroff': [migrateRunning('shutdown'), ...MIGRATE_PARKED],
    'migrate-poweroff-hard': [migrateRunning('cancel'), ...MIGRATE_PARKED],
    'live-migrate': [
      {
        from: inLcm('RUNNING'),
        to: A('MIGRATE'),
        op: 'migrate-live',
        effects: { chargeCapacity: true, newHistory: true, clearResched: true },
      },
    ],
    resched: stay(['RUNNING', 'UNKNOWN', 'POWEROFF'], { effects: { setResched: true, recomputeRequirements: true } }),
    unresched: stay(['RUNNING', 'UNKNOWN', 'POWEROFF'], { effects: { clearResched: true } }),
    'recover-delete': [
      {
        from: inLcm(...TWO_HOSTS),
        to: A('CLEANUP_DELETE'),
        op: 'cleanup',
        effects: { ...CLEANUP, releasePreviousHost: true },
      },
      { from: inLcm(...OTHER_ACTIVE), to: A('CLEANUP_DELETE'), op: 'cleanup', effects: CLEANUP },
      // the cleanup already in flight finishes the job
      { from: inLcm('CLEANUP_RESUBMIT'), to: A('CLEANUP_DELETE') },
      // a cleanup whose result never came: finish now, a late result is ignored
      { from: inLcm('CLEANUP_DELETE'), to: S('DONE'), effects: { finalize: true } },
      ...fromStates(PARKED, { to: A('CLEANUP_DELETE'), op: 'cleanup', effects: CLEANUP }),
      ...fromStates(NEVER_HOSTED, { to: S('DONE'), effects: { finalize: true } }),
    ],
    'recover-recreate': [
      {
        from: inLcm(...TWO_HOSTS),
        to: A('CLEANUP_RESUBMIT'),
        op: 'cleanup',
        effects: { ...CLEANUP, releasePreviousHost: true, resetNonPersistentDisks: true },
      },
      {
        from: inLcm(...OTHER_ACTIVE),
        to: A('CLEANUP_RESUBMIT'),
        op: 'cleanup',
        effects: { ...CLEANUP, resetNonPersistentDisks: true },
      },
      { from: inLcm('CLEANUP_RESUBMIT'), to: S('PENDING'), effects: { clearHost: true } },
      ...fromStates(['PENDING', 'HOLD', 'STOPPED', 'UNDEPLOYED'], {
        to: S('PENDING'),
        effects: { resetNonPersistentDisks: true, clearHost: true },
      }),
    ],
  };

/** recover --success / --failure: the pending driver result, simulated (DispatchManager::recover). */
function recoverRows(result: DriverResult): TransitionRow[] {
  const rows: TransitionRow[] = [];
  for (const lcm of ACTIVE_LCM) {
    const row = DRIVER_RESULTS[lcm];
    if (row && isTransient(lcm)) for (const o of row[result]) rows.push({ from: inLcm(lcm), ...o });
  }
  for (const failed of FAILURE_STATE_LIST) {
    if (result === 'failure') {
      rows.push({ from: inLcm(failed), to: A(failed) }); // the op failed again: still failed
      continue;
    }
    // continue as if the failed op had succeeded
    for (const o of DRIVER_RESULTS[FAILURE_TWINS[failed]]?.success ?? []) rows.push({ from: inLcm(failed), ...o });
  }
  // UNKNOWN has no op pending: recover asserts the VM runs (upstream does so for both flags)
  rows.push({ from: inLcm('UNKNOWN'), to: A('RUNNING') });
  rows.push({ from: inState('CLONING_FAILURE'), to: S(result === 'success' ? 'PENDING' : 'CLONING_FAILURE') });
  return rows;
}

/** recover --retry: a failure goes back to its twin; a transient state re-runs its op. */
function retryRows(): TransitionRow[] {
  const rows: TransitionRow[] = [];
  for (const failed of FAILURE_STATE_LIST) {
    const twin = FAILURE_TWINS[failed];
    for (const s of STATE_OPS[twin] ?? []) rows.push({ from: inLcm(failed), to: A(twin), ...s });
  }
  for (const lcm of ACTIVE_LCM) {
    for (const s of STATE_OPS[lcm] ?? []) rows.push({ from: inLcm(lcm), to: A(lcm), ...s });
  }
  return rows;
}

/** action → rows, first match wins (a row matches when its `from` and its `when` guard do). */
export const ACTION_TABLE: Readonly<Record<VmAction, readonly TransitionRow[]>> = {
  ...BASE_ACTIONS,
  'recover-success': recoverRows('success'),
  'recover-failure': recoverRows('failure'),
  'recover-retry': retryRows(),
};

// ---------------------------------------------------------------------------------------------
// Monitor-observed transitions (reference §1.3, §5.4)
// ---------------------------------------------------------------------------------------------

const BOOTING: readonly LcmState[] = [
  'BOOT',
  'BOOT_POWEROFF',
  'BOOT_UNKNOWN',
  'BOOT_SUSPENDED',
  'BOOT_STOPPED',
  'BOOT_UNDEPLOY',
  'BOOT_MIGRATE',
  'BOOT_FAILURE',
  'BOOT_MIGRATE_FAILURE',
  'BOOT_STOPPED_FAILURE',
  'BOOT_UNDEPLOY_FAILURE',
];

const SEEN_OFF: readonly TransitionRow[] = [
  // the guest shut itself down
  { from: inLcm('RUNNING', 'UNKNOWN'), to: S('POWEROFF'), effects: { clearResched: true } },
  // a shutdown we asked for has finished: same as the driver's success
  { from: inLcm('SHUTDOWN'), to: A('EPILOG'), op: 'epilog' },
  { from: inLcm('SHUTDOWN_POWEROFF'), to: S('POWEROFF') },
  { from: inLcm('SHUTDOWN_UNDEPLOY'), to: A('EPILOG_UNDEPLOY'), op: 'epilog-undeploy' },
];

/**
 * observed → rows. MISSING is a VM absent from its host's list past the miss threshold;
 * like OpenNebula's MISSING_STATE=POWEROFF it counts as powered off.
 */
export const OBSERVED_TABLE: Readonly<Record<ObservedVmState, readonly TransitionRow[]>> = {
  RUNNING: [
    // the controller should ignore this for ~30 s after the VM left RUNNING (driver/monitor race)
    { from: inState('POWEROFF'), to: A('RUNNING'), effects: { newHistory: true } },
    { from: inState('SUSPENDED'), to: A('RUNNING'), effects: { newHistory: true } },
    { from: inLcm('UNKNOWN', ...BOOTING), to: A('RUNNING') },
  ],
  POWEROFF: SEEN_OFF,
  MISSING: SEEN_OFF,
  SUSPENDED: [{ from: inLcm('RUNNING', 'UNKNOWN'), to: S('SUSPENDED'), effects: { clearResched: true } }],
  FAILURE: [{ from: inLcm('RUNNING'), to: A('UNKNOWN'), effects: { clearResched: true } }],
};

const HOST_ERROR_ROWS: readonly TransitionRow[] = [
  { from: inLcm('RUNNING'), to: A('UNKNOWN'), effects: { clearResched: true } },
];

// ---------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------

/** Every valid phase: each non-ACTIVE state with LCM_INIT, and ACTIVE with each other LCM state. */
export const ALL_PHASES: readonly VmPhase[] = [
  ...VM_STATE_LIST.filter((s): s is Coarse => s !== 'ACTIVE').map(S),
  ...ACTIVE_LCM.map(A),
];

/** OpenNebula's state_str: the LCM name while ACTIVE, else the STATE name. */
export function phaseName(phase: VmPhase): PhaseName {
  return phase.state === 'ACTIVE' ? phase.lcm : phase.state;
}

/** Inverse of phaseName. Throws E_VALIDATION for a name that is neither a STATE nor an LCM state. */
export function phaseFromName(name: string): VmPhase {
  if (name !== 'ACTIVE' && (VM_STATE_LIST as readonly string[]).includes(name)) return S(name as Coarse);
  if ((LCM_STATE_LIST as readonly string[]).includes(name)) return A(name as LcmState);
  throw new OneError('E_VALIDATION', `no such VM state: ${name}`, { state: name });
}

export function isVmAction(value: unknown): value is VmAction {
  return typeof value === 'string' && Object.hasOwn(VM_ACTIONS, value);
}

/** Checks an action name coming from outside (HTTP, CLI); throws E_VM_ACTION_UNKNOWN. */
export function parseVmAction(value: unknown): VmAction {
  if (isVmAction(value)) return value;
  throw new OneError('E_VM_ACTION_UNKNOWN', `no such VM action: ${String(value)}`, {
    action: value,
    known: VM_ACTION_LIST,
  });
}

// ---------------------------------------------------------------------------------------------
// The pure transition functions
// ---------------------------------------------------------------------------------------------

function matches(pattern: PhasePattern, phase: VmPhase): boolean {
  if (pattern.state !== phase.state) return false;
  return 'lcm' in pattern ? pattern.lcm.includes(phase.lcm) : phase.lcm === 'LCM_INIT';
}

function guardHolds(when: readonly VmAction[] | undefined, ctx: VmContext): boolean {
  return when === undefined || (ctx.lastAction !== undefined && when.includes(ctx.lastAction));
}

function findRow(rows: readonly TransitionRow[], phase: VmPhase, ctx: VmContext): TransitionRow | undefined {
  return rows.find((r) => matches(r.from, phase) && guardHolds(r.when, ctx));
}

function build(cause: TransitionCause, from: VmPhase, o: Outcome, context: VmContext): Transition {
  return {
    cause,
    from,
    to: o.to,
    ...(o.op ? { op: o.op } : {}),
    effects: o.effects ?? NO_EFFECTS,
    context,
  };
}

const ALLOWED_FROM: Readonly<Record<VmAction, readonly PhaseName[]>> = (() => {
  const out = {} as Record<VmAction, readonly PhaseName[]>;
  for (const a of VM_ACTION_LIST) {
    out[a] = ALL_PHASES.filter((p) => ACTION_TABLE[a].some((r) => matches(r.from, p))).map(phaseName);
  }
  return out;
})();

/** The phases an action is accepted in (ignoring `when` guards, which only pick the row). */
export function allowedFrom(action: VmAction): readonly PhaseName[] {
  return ALLOWED_FROM[parseVmAction(action)];
}

/**
 * Applies a user, admin or scheduler action. Pure: returns what should happen and
 * changes nothing. Throws E_VM_ACTION_UNKNOWN for an unknown action and
 * E_VM_ACTION_STATE when the phase does not allow it (details list where it is allowed).
 */
export function applyAction(phase: VmPhase, action: VmAction, ctx: VmContext = {}): Transition {
  const known = parseVmAction(action);
  const row = findRow(ACTION_TABLE[known], phase, ctx);
  if (!row) {
    const allowed = ALLOWED_FROM[known];
    const where = allowed.length > 0 ? allowed.join(', ') : 'nowhere';
    throw new OneError('E_VM_ACTION_STATE', `cannot ${known} a VM in ${phaseName(phase)}: allowed from ${where}`, {
      action: known,
      state: phase.state,
      lcmState: phase.lcm,
      allowed,
    });
  }
  const keep = !VM_ACTIONS[known].records || row.keepsLastAction === true;
  return build({ kind: 'action', action: known }, phase, row, keep ? ctx : { lastAction: known });
}

/** The actions `applyAction` accepts in this phase (for UIs and `vm show`). */
export function allowedActions(phase: VmPhase, ctx: VmContext = {}): VmAction[] {
  return VM_ACTION_LIST.filter((a) => findRow(ACTION_TABLE[a], phase, ctx) !== undefined);
}

/**
 * The driver op of a transient phase finished. Returns null when the phase waits for
 * no driver result (a late or duplicate result, to be logged and dropped).
 */
export function applyDriverResult(phase: VmPhase, result: DriverResult, ctx: VmContext = {}): Transition | null {
  const name = phaseName(phase);
  const waiting = phase.state === 'ACTIVE' ? isTransient(phase.lcm) : phase.state === 'CLONING';
  const row = waiting ? DRIVER_RESULTS[name] : undefined;
  const outcome = row?.[result].find((o) => guardHolds(o.when, ctx));
  return outcome ? build({ kind: 'driver', result }, phase, outcome, ctx) : null;
}

/** The monitor reported the VM's state on its host. Returns null when nothing changes. */
export function applyObserved(phase: VmPhase, observed: ObservedVmState, ctx: VmContext = {}): Transition | null {
  const rows = OBSERVED_TABLE[observed];
  if (!rows) throw new OneError('E_VALIDATION', `no such observed VM state: ${String(observed)}`, { observed });
  const row = findRow(rows, phase, ctx);
  return row ? build({ kind: 'observed', observed }, phase, row, ctx) : null;
}

/** The VM's host went to ERROR: a RUNNING VM becomes UNKNOWN. Returns null otherwise. */
export function applyHostError(phase: VmPhase, ctx: VmContext = {}): Transition | null {
  const row = findRow(HOST_ERROR_ROWS, phase, ctx);
  return row ? build({ kind: 'host-error' }, phase, row, ctx) : null;
}
