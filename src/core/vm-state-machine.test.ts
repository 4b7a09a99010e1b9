import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOneError } from './errors.js';
import {
  ACTION_TABLE,
  ALL_PHASES,
  allowedActions,
  applyAction,
  applyDriverResult,
  applyHostError,
  applyObserved,
  DRIVER_OPS,
  DRIVER_RESULTS,
  EFFECT_FLAGS,
  OBSERVED_TABLE,
  type ObservedVmState,
  type Outcome,
  phaseFromName,
  phaseName,
  STATE_OPS,
  type Transition,
  VM_ACTION_LIST,
  VM_ACTIONS,
  type VmAction,
  type VmContext,
  type VmPhase,
} from './vm-state-machine.js';
import {
  FAILURE_TWINS,
  isFailureState,
  isTransient,
  LCM_STATE_NAMES,
  LCM_STATES,
  type LcmState,
  shortStateName,
  VM_STATE_NAMES,
  VM_STATES,
  type VmState,
} from './vm-states.js';

// ---------------------------------------------------------------------------------------------
// Enumeration and a phase parser of our own (not the implementation's)
// ---------------------------------------------------------------------------------------------

const STATE_NAMES = Object.keys(VM_STATES) as VmState[];
const LCM_NAMES = Object.keys(LCM_STATES) as LcmState[];

/** Every STATE with LCM_INIT, and ACTIVE with every LCM state (LCM_INIT included: never valid). */
const PHASES: VmPhase[] = [
  ...STATE_NAMES.filter((s) => s !== 'ACTIVE').map((state): VmPhase => ({ state, lcm: 'LCM_INIT' })),
  ...LCM_NAMES.map((lcm): VmPhase => ({ state: 'ACTIVE', lcm })),
];

const keyOf = (p: VmPhase): string => (p.state === 'ACTIVE' ? p.lcm : p.state);

function parsePhase(name: string): VmPhase {
  if (name !== 'ACTIVE' && (STATE_NAMES as string[]).includes(name)) return { state: name as VmState, lcm: 'LCM_INIT' };
  assert.ok((LCM_NAMES as string[]).includes(name), `test table names unknown phase ${name}`);
  return { state: 'ACTIVE', lcm: name as LcmState };
}

interface Expected {
  to: VmPhase;
  op?: string;
  effects: Record<string, true>;
}

/** 'TO_PHASE op +effect +effect' → Expected. Upper-case = phase, lower-case = op, +x = effect. */
function parseExpected(spec: string): Expected {
  const [to, ...rest] = spec.trim().split(/\s+/);
  const out: Expected = { to: parsePhase(to!), effects: {} };
  for (const tok of rest) {
    if (tok.startsWith('+')) out.effects[tok.slice(1)] = true;
    else out.op = tok;
  }
  return out;
}

function actual(t: Transition): Expected {
  return { to: t.to, ...(t.op ? { op: t.op } : {}), effects: { ...t.effects } as Record<string, true> };
}

// ---------------------------------------------------------------------------------------------
// The independent expectation table: action → phase → expected result. Absent = refused.
// Written from reference §1.2 (and OpenNebula's DispatchManager/LifeCycleManager sources).
// ---------------------------------------------------------------------------------------------

const FAILED = [
  'BOOT_FAILURE',
  'BOOT_MIGRATE_FAILURE',
  'BOOT_UNDEPLOY_FAILURE',
  'BOOT_STOPPED_FAILURE',
  'PROLOG_FAILURE',
  'PROLOG_MIGRATE_FAILURE',
  'PROLOG_MIGRATE_POWEROFF_FAILURE',
  'PROLOG_MIGRATE_SUSPEND_FAILURE',
  'PROLOG_MIGRATE_UNKNOWN_FAILURE',
  'PROLOG_RESUME_FAILURE',
  'PROLOG_UNDEPLOY_FAILURE',
  'EPILOG_FAILURE',
  'EPILOG_STOP_FAILURE',
  'EPILOG_UNDEPLOY_FAILURE',
];
const NEVER_HOSTED = ['INIT', 'PENDING', 'HOLD', 'CLONING', 'CLONING_FAILURE'];
const PARKED = ['SUSPENDED', 'POWEROFF', 'STOPPED', 'UNDEPLOYED'];
const CLEAN = '+releaseCapacity +abortInFlight +clearResched';
const PLACE = '+chargeCapacity +newHistory';
const MOVE_PARKED = 'prolog-migrate +chargeCapacity +releasePreviousHost +newHistory +clearResched';

/** Hotplug / disk snapshot / resize / backup / restore states and the phase they return to. */
const ORIGIN: Record<string, string> = {
  HOTPLUG: 'RUNNING',
  HOTPLUG_SNAPSHOT: 'RUNNING',
  HOTPLUG_NIC: 'RUNNING',
  HOTPLUG_SAVEAS: 'RUNNING',
  HOTPLUG_RESIZE: 'RUNNING',
  DISK_SNAPSHOT: 'RUNNING',
  DISK_SNAPSHOT_DELETE: 'RUNNING',
  DISK_RESIZE: 'RUNNING',
  BACKUP: 'RUNNING',
  HOTPLUG_SAVEAS_POWEROFF: 'POWEROFF',
  HOTPLUG_PROLOG_POWEROFF: 'POWEROFF',
  HOTPLUG_EPILOG_POWEROFF: 'POWEROFF',
  HOTPLUG_NIC_POWEROFF: 'POWEROFF',
  DISK_SNAPSHOT_POWEROFF: 'POWEROFF',
  DISK_SNAPSHOT_REVERT_POWEROFF: 'POWEROFF',
  DISK_SNAPSHOT_DELETE_POWEROFF: 'POWEROFF',
  DISK_RESIZE_POWEROFF: 'POWEROFF',
  BACKUP_POWEROFF: 'POWEROFF',
  RESTORE: 'POWEROFF',
  HOTPLUG_SAVEAS_SUSPENDED: 'SUSPENDED',
  DISK_SNAPSHOT_SUSPENDED: 'SUSPENDED',
  DISK_SNAPSHOT_REVERT_SUSPENDED: 'SUSPENDED',
  DISK_SNAPSHOT_DELETE_SUSPENDED: 'SUSPENDED',
  HOTPLUG_SAVEAS_UNDEPLOYED: 'UNDEPLOYED',
  DISK_RESIZE_UNDEPLOYED: 'UNDEPLOYED',
  HOTPLUG_SAVEAS_STOPPED: 'STOPPED',
};

/** Driver success of each lifecycle transient state (no context). */
const SUCCESS: Record<string, string> = {
  PROLOG: 'BOOT boot',
  PROLOG_RESUME: 'BOOT_STOPPED restore',
  PROLOG_UNDEPLOY: 'BOOT_UNDEPLOY boot',
  PROLOG_MIGRATE: 'BOOT_MIGRATE restore',
  PROLOG_MIGRATE_POWEROFF: 'POWEROFF',
  PROLOG_MIGRATE_SUSPEND: 'SUSPENDED',
  PROLOG_MIGRATE_UNKNOWN: 'BOOT boot',
  BOOT: 'RUNNING',
  BOOT_MIGRATE: 'RUNNING',
  BOOT_STOPPED: 'RUNNING',
  BOOT_UNDEPLOY: 'RUNNING',
  BOOT_POWEROFF: 'RUNNING',
  BOOT_SUSPENDED: 'RUNNING',
  BOOT_UNKNOWN: 'RUNNING',
  MIGRATE: 'RUNNING +releasePreviousHost',
  SAVE_MIGRATE: 'PROLOG_MIGRATE prolog-migrate +releasePreviousHost',
  SAVE_STOP: 'EPILOG_STOP epilog-stop',
  SAVE_SUSPEND: 'SUSPENDED',
  SHUTDOWN: 'EPILOG epilog',
  SHUTDOWN_POWEROFF: 'POWEROFF',
  SHUTDOWN_UNDEPLOY: 'EPILOG_UNDEPLOY epilog-undeploy',
  EPILOG: 'DONE +releaseCapacity +finalize',
  EPILOG_STOP: 'STOPPED +releaseCapacity',
  EPILOG_UNDEPLOY: 'UNDEPLOYED +releaseCapacity',
  CLEANUP_RESUBMIT: 'PENDING +clearHost',
  CLEANUP_DELETE: 'DONE +finalize',
  ...ORIGIN,
};

/** Driver failure of each transient state. */
const FAILURE: Record<string, string> = {
  PROLOG: 'PROLOG_FAILURE',
  PROLOG_RESUME: 'PROLOG_RESUME_FAILURE',
  PROLOG_UNDEPLOY: 'PROLOG_UNDEPLOY_FAILURE',
  PROLOG_MIGRATE: 'PROLOG_MIGRATE_FAILURE',
  PROLOG_MIGRATE_POWEROFF: 'PROLOG_MIGRATE_POWEROFF_FAILURE',
  PROLOG_MIGRATE_SUSPEND: 'PROLOG_MIGRATE_SUSPEND_FAILURE',
  PROLOG_MIGRATE_UNKNOWN: 'PROLOG_MIGRATE_UNKNOWN_FAILURE',
  BOOT: 'BOOT_FAILURE',
  BOOT_MIGRATE: 'BOOT_MIGRATE_FAILURE',
  BOOT_STOPPED: 'BOOT_STOPPED_FAILURE',
  BOOT_UNDEPLOY: 'BOOT_UNDEPLOY_FAILURE',
  BOOT_POWEROFF: 'POWEROFF',
  BOOT_SUSPENDED: 'SUSPENDED',
  BOOT_UNKNOWN: 'UNKNOWN',
  MIGRATE: 'RUNNING +revertMigration',
  SAVE_MIGRATE: 'RUNNING +revertMigration',
  SAVE_STOP: 'RUNNING',
  SAVE_SUSPEND: 'RUNNING',
  SHUTDOWN: 'RUNNING',
  SHUTDOWN_POWEROFF: 'RUNNING',
  SHUTDOWN_UNDEPLOY: 'RUNNING',
  EPILOG: 'EPILOG_FAILURE',
  EPILOG_STOP: 'EPILOG_STOP_FAILURE',
  EPILOG_UNDEPLOY: 'EPILOG_UNDEPLOY_FAILURE',
  CLEANUP_RESUBMIT: 'PENDING +clearHost',
  CLEANUP_DELETE: 'DONE +finalize',
  ...ORIGIN,
};

/** recover --success from a failure state: as if its op had succeeded. */
const FAILED_SUCCESS: Record<string, string> = {
  BOOT_FAILURE: 'RUNNING',
  BOOT_MIGRATE_FAILURE: 'RUNNING',
  BOOT_UNDEPLOY_FAILURE: 'RUNNING',
  BOOT_STOPPED_FAILURE: 'RUNNING',
  PROLOG_FAILURE: 'BOOT boot',
  PROLOG_MIGRATE_FAILURE: 'BOOT_MIGRATE restore',
  PROLOG_MIGRATE_POWEROFF_FAILURE: 'POWEROFF',
  PROLOG_MIGRATE_SUSPEND_FAILURE: 'SUSPENDED',
  PROLOG_MIGRATE_UNKNOWN_FAILURE: 'BOOT boot',
  PROLOG_RESUME_FAILURE: 'BOOT_STOPPED restore',
  PROLOG_UNDEPLOY_FAILURE: 'BOOT_UNDEPLOY boot',
  EPILOG_FAILURE: 'DONE +releaseCapacity +finalize',
  EPILOG_STOP_FAILURE: 'STOPPED +releaseCapacity',
  EPILOG_UNDEPLOY_FAILURE: 'UNDEPLOYED +releaseCapacity',
};

/** recover --retry. */
const RETRY: Record<string, string> = {
  BOOT_FAILURE: 'BOOT boot',
  BOOT_MIGRATE_FAILURE: 'BOOT_MIGRATE restore',
  BOOT_UNDEPLOY_FAILURE: 'BOOT_UNDEPLOY boot',
  BOOT_STOPPED_FAILURE: 'BOOT_STOPPED restore',
  PROLOG_FAILURE: 'PROLOG prolog',
  PROLOG_MIGRATE_FAILURE: 'PROLOG_MIGRATE prolog-migrate',
  PROLOG_MIGRATE_POWEROFF_FAILURE: 'PROLOG_MIGRATE_POWEROFF prolog-migrate',
  PROLOG_MIGRATE_SUSPEND_FAILURE: 'PROLOG_MIGRATE_SUSPEND prolog-migrate',
  PROLOG_MIGRATE_UNKNOWN_FAILURE: 'PROLOG_MIGRATE_UNKNOWN prolog-migrate',
  PROLOG_RESUME_FAILURE: 'PROLOG_RESUME prolog-resume',
  PROLOG_UNDEPLOY_FAILURE: 'PROLOG_UNDEPLOY prolog-undeploy',
  EPILOG_FAILURE: 'EPILOG epilog',
  EPILOG_STOP_FAILURE: 'EPILOG_STOP epilog-stop',
  EPILOG_UNDEPLOY_FAILURE: 'EPILOG_UNDEPLOY epilog-undeploy',
  // transient states: the op in flight is run again
  PROLOG: 'PROLOG prolog',
  PROLOG_RESUME: 'PROLOG_RESUME prolog-resume',
  PROLOG_UNDEPLOY: 'PROLOG_UNDEPLOY prolog-undeploy',
  PROLOG_MIGRATE: 'PROLOG_MIGRATE prolog-migrate',
  PROLOG_MIGRATE_POWEROFF: 'PROLOG_MIGRATE_POWEROFF prolog-migrate',
  PROLOG_MIGRATE_SUSPEND: 'PROLOG_MIGRATE_SUSPEND prolog-migrate',
  PROLOG_MIGRATE_UNKNOWN: 'PROLOG_MIGRATE_UNKNOWN prolog-migrate',
  BOOT: 'BOOT boot',
  BOOT_POWEROFF: 'BOOT_POWEROFF boot',
  BOOT_UNKNOWN: 'BOOT_UNKNOWN boot',
  BOOT_UNDEPLOY: 'BOOT_UNDEPLOY boot',
  BOOT_MIGRATE: 'BOOT_MIGRATE restore',
  BOOT_SUSPENDED: 'BOOT_SUSPENDED restore',
  BOOT_STOPPED: 'BOOT_STOPPED restore',
  MIGRATE: 'MIGRATE migrate-live',
  SAVE_STOP: 'SAVE_STOP save',
  SAVE_SUSPEND: 'SAVE_SUSPEND save',
  SAVE_MIGRATE: 'SAVE_MIGRATE save',
  SHUTDOWN: 'SHUTDOWN shutdown',
  SHUTDOWN_POWEROFF: 'SHUTDOWN_POWEROFF shutdown',
  SHUTDOWN_UNDEPLOY: 'SHUTDOWN_UNDEPLOY shutdown',
  EPILOG: 'EPILOG epilog',
  EPILOG_STOP: 'EPILOG_STOP epilog-stop',
  EPILOG_UNDEPLOY: 'EPILOG_UNDEPLOY epilog-undeploy',
};

const each = (names: string[], spec: string): Record<string, string> => Object.fromEntries(names.map((n) => [n, spec]));
const ACTIVE_REAL = LCM_NAMES.filter((l) => l !== 'LCM_INIT') as string[];
const ACTIVE_ONE_HOST = ACTIVE_REAL.filter(
  (l) => !['SAVE_MIGRATE', 'MIGRATE', 'CLEANUP_DELETE', 'CLEANUP_RESUBMIT'].includes(l),
);

const terminateCommon = {
  ...each(PARKED, 'EPILOG epilog'),
  ...each(NEVER_HOSTED, 'DONE +finalize'),
  ...each(FAILED, `CLEANUP_DELETE cleanup ${CLEAN}`),
};

const EXPECT: Record<VmAction, Record<string, string>> = {
  deploy: {
    PENDING: `PROLOG prolog ${PLACE}`,
    HOLD: `PROLOG prolog ${PLACE}`,
    STOPPED: `PROLOG_RESUME prolog-resume ${PLACE}`,
    UNDEPLOYED: `PROLOG_UNDEPLOY prolog-undeploy ${PLACE}`,
  },
  terminate: { ...each(['RUNNING', 'UNKNOWN'], 'SHUTDOWN shutdown +clearResched'), ...terminateCommon },
  'terminate-hard': {
    ...each(['RUNNING', 'UNKNOWN'], 'SHUTDOWN cancel +clearResched'),
    SHUTDOWN: 'SHUTDOWN cancel +abortInFlight',
    ...terminateCommon,
  },
  poweroff: each(['RUNNING', 'UNKNOWN'], 'SHUTDOWN_POWEROFF shutdown +clearResched'),
  'poweroff-hard': {
    ...each(['RUNNING', 'UNKNOWN'], 'SHUTDOWN_POWEROFF cancel +clearResched'),
    SHUTDOWN_POWEROFF: 'SHUTDOWN_POWEROFF cancel +abortInFlight',
  },
  undeploy: {
    ...each(['RUNNING', 'UNKNOWN'], 'SHUTDOWN_UNDEPLOY shutdown +clearResched'),
    POWEROFF: 'EPILOG_UNDEPLOY epilog-undeploy',
  },
  'undeploy-hard': {
    ...each(['RUNNING', 'UNKNOWN'], 'SHUTDOWN_UNDEPLOY cancel +clearResched'),
    SHUTDOWN_UNDEPLOY: 'SHUTDOWN_UNDEPLOY cancel +abortInFlight',
    POWEROFF: 'EPILOG_UNDEPLOY epilog-undeploy',
  },
  suspend: { RUNNING: 'SAVE_SUSPEND save +clearResched' },
  stop: { RUNNING: 'SAVE_STOP save +clearResched', SUSPENDED: 'EPILOG_STOP epilog-stop' },
  resume: {
    STOPPED: 'PENDING +clearHost +recomputeRequirements',
    UNDEPLOYED: 'PENDING +clearHost +recomputeRequirements',
    SUSPENDED: 'BOOT_SUSPENDED restore +newHistory',
    POWEROFF: 'BOOT_POWEROFF boot +newHistory',
    UNKNOWN: 'BOOT_UNKNOWN boot',
  },
  reboot: { RUNNING: 'RUNNING reboot +clearResched' },
  'reboot-hard': { RUNNING: 'RUNNING reset +clearResched' },
  hold: { PENDING: 'HOLD' },
  release: { HOLD: 'PENDING +recomputeRequirements' },
  migrate: {
    RUNNING: 'SAVE_MIGRATE save +chargeCapacity +newHistory +clearResched',
    POWEROFF: `PROLOG_MIGRATE_POWEROFF ${MOVE_PARKED}`,
    SUSPENDED: `PROLOG_MIGRATE_SUSPEND ${MOVE_PARKED}`,
    UNKNOWN: `PROLOG_MIGRATE_UNKNOWN ${MOVE_PARKED}`,
  },
  'migrate-poweroff': {
    RUNNING: 'SAVE_MIGRATE shutdown +chargeCapacity +newHistory +clearResched',
    POWEROFF: `PROLOG_MIGRATE_POWEROFF ${MOVE_PARKED}`,
    SUSPENDED: `PROLOG_MIGRATE_SUSPEND ${MOVE_PARKED}`,
    UNKNOWN: `PROLOG_MIGRATE_UNKNOWN ${MOVE_PARKED}`,
  },
  'migrate-poweroff-hard': {
    RUNNING: 'SAVE_MIGRATE cancel +chargeCapacity +newHistory +clearResched',
    POWEROFF: `PROLOG_MIGRATE_POWEROFF ${MOVE_PARKED}`,
    SUSPENDED: `PROLOG_MIGRATE_SUSPEND ${MOVE_PARKED}`,
    UNKNOWN: `PROLOG_MIGRATE_UNKNOWN ${MOVE_PARKED}`,
  },
  'live-migrate': { RUNNING: 'MIGRATE migrate-live +chargeCapacity +newHistory +clearResched' },
  resched: {
    RUNNING: 'RUNNING +setResched +recomputeRequirements',
    UNKNOWN: 'UNKNOWN +setResched +recomputeRequirements',
    POWEROFF: 'POWEROFF +setResched +recomputeRequirements',
  },
  unresched: { RUNNING: 'RUNNING +clearResched', UNKNOWN: 'UNKNOWN +clearResched', POWEROFF: 'POWEROFF +clearResched' },
  'recover-success': { ...SUCCESS, ...FAILED_SUCCESS, UNKNOWN: 'RUNNING', CLONING_FAILURE: 'PENDING' },
  'recover-failure': {
    ...FAILURE,
    ...Object.fromEntries(FAILED.map((f) => [f, f])),
    UNKNOWN: 'RUNNING',
    CLONING_FAILURE: 'CLONING_FAILURE',
  },
  'recover-retry': RETRY,
  'recover-delete': {
    ...each(ACTIVE_ONE_HOST, `CLEANUP_DELETE cleanup ${CLEAN}`),
    ...each(['SAVE_MIGRATE', 'MIGRATE'], `CLEANUP_DELETE cleanup ${CLEAN} +releasePreviousHost`),
    CLEANUP_RESUBMIT: 'CLEANUP_DELETE',
    CLEANUP_DELETE: 'DONE +finalize',
    ...each(PARKED, `CLEANUP_DELETE cleanup ${CLEAN}`),
    ...each(NEVER_HOSTED, 'DONE +finalize'),
  },
  'recover-recreate': {
    ...each(ACTIVE_ONE_HOST, `CLEANUP_RESUBMIT cleanup ${CLEAN} +resetNonPersistentDisks`),
    ...each(
      ['SAVE_MIGRATE', 'MIGRATE'],
      `CLEANUP_RESUBMIT cleanup ${CLEAN} +releasePreviousHost +resetNonPersistentDisks`,
    ),
    CLEANUP_RESUBMIT: 'PENDING +clearHost',
    ...each(['PENDING', 'HOLD', 'STOPPED', 'UNDEPLOYED'], 'PENDING +resetNonPersistentDisks +clearHost'),
  },
};

function refusalCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isOneError(err) ? err.code : `non-OneError: ${String(err)}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Every action × every phase
// ---------------------------------------------------------------------------------------------

describe('applyAction: every action in every phase', () => {
  test('the expectation table covers every action and names only real phases', () => {
    assert.deepEqual(Object.keys(EXPECT).sort(), [...VM_ACTION_LIST].sort());
    const keys = new Set(PHASES.map(keyOf));
    for (const [action, rows] of Object.entries(EXPECT)) {
      for (const [from, spec] of Object.entries(rows)) {
        assert.ok(keys.has(from), `${action}: unknown from-phase ${from}`);
        parseExpected(spec);
      }
    }
    assert.equal(PHASES.length, 79);
  });

  for (const action of Object.keys(EXPECT) as VmAction[]) {
    test(action, () => {
      const problems: string[] = [];
      for (const phase of PHASES) {
        const spec = EXPECT[action][keyOf(phase)];
        if (spec === undefined) {
          const code = refusalCode(() => applyAction(phase, action));
          if (code !== 'E_VM_ACTION_STATE') problems.push(`${keyOf(phase)}: expected refusal, got ${code ?? 'ok'}`);
          continue;
        }
        let got: Expected;
        try {
          got = actual(applyAction(phase, action));
        } catch (err) {
          problems.push(`${keyOf(phase)}: expected ${spec}, threw ${String(err)}`);
          continue;
        }
        try {
          assert.deepStrictEqual(got, parseExpected(spec));
        } catch {
          problems.push(`${keyOf(phase)}: expected ${spec}, got ${JSON.stringify(got)}`);
        }
      }
      assert.deepEqual(problems, []);
    });
  }

  test('a refusal says where the action is allowed', () => {
    const err = (() => {
      try {
        applyAction(parsePhase('PENDING'), 'poweroff');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(isOneError(err));
    assert.equal(err.code, 'E_VM_ACTION_STATE');
    assert.equal(err.message, 'cannot poweroff a VM in PENDING: allowed from RUNNING, UNKNOWN');
    assert.deepEqual(err.details, {
      action: 'poweroff',
      state: 'PENDING',
      lcmState: 'LCM_INIT',
      allowed: ['RUNNING', 'UNKNOWN'],
    });
  });

  test('an unknown action is E_VM_ACTION_UNKNOWN', () => {
    assert.equal(
      refusalCode(() => applyAction(parsePhase('RUNNING'), 'explode' as VmAction)),
      'E_VM_ACTION_UNKNOWN',
    );
    assert.equal(
      refusalCode(() => allowedActions(parsePhase('RUNNING')).length),
      undefined,
    );
  });

  test('allowedActions lists exactly the accepted actions', () => {
    for (const phase of PHASES) {
      const expected = VM_ACTION_LIST.filter((a) => EXPECT[a][keyOf(phase)] !== undefined);
      assert.deepEqual(allowedActions(phase), expected, keyOf(phase));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Context-guarded rows and lastAction recording
// ---------------------------------------------------------------------------------------------

describe('context (lastAction)', () => {
  const P = parsePhase;

  test('deploy after stop or undeploy stages files back from the system datastore', () => {
    for (const from of ['PENDING', 'HOLD']) {
      assert.deepEqual(
        actual(applyAction(P(from), 'deploy', { lastAction: 'stop' })),
        parseExpected(`PROLOG_RESUME prolog-resume ${PLACE}`),
      );
      for (const u of ['undeploy', 'undeploy-hard'] as const) {
        assert.deepEqual(
          actual(applyAction(P(from), 'deploy', { lastAction: u })),
          parseExpected(`PROLOG_UNDEPLOY prolog-undeploy ${PLACE}`),
        );
      }
      // recreate resets the disks: a fresh prolog
      assert.deepEqual(
        actual(applyAction(P(from), 'deploy', { lastAction: 'recover-recreate' })),
        parseExpected(`PROLOG prolog ${PLACE}`),
      );
    }
  });

  test('PROLOG_MIGRATE boots fresh after a poweroff migration', () => {
    for (const m of ['migrate-poweroff', 'migrate-poweroff-hard'] as const) {
      assert.deepEqual(
        actual(applyDriverResult(P('PROLOG_MIGRATE'), 'success', { lastAction: m })!),
        parseExpected('BOOT boot'),
      );
      assert.deepEqual(
        actual(applyAction(P('PROLOG_MIGRATE_FAILURE'), 'recover-success', { lastAction: m })),
        parseExpected('BOOT boot'),
      );
    }
    assert.deepEqual(
      actual(applyDriverResult(P('PROLOG_MIGRATE'), 'success', { lastAction: 'migrate' })!),
      parseExpected('BOOT_MIGRATE restore'),
    );
  });

  test('retry re-runs the op that was started', () => {
    const retry = (from: string, lastAction: VmAction) =>
      actual(applyAction(P(from), 'recover-retry', { lastAction })).op;
    assert.equal(retry('SHUTDOWN', 'terminate-hard'), 'cancel');
    assert.equal(retry('SHUTDOWN', 'terminate'), 'shutdown');
    assert.equal(retry('SHUTDOWN_POWEROFF', 'poweroff-hard'), 'cancel');
    assert.equal(retry('SHUTDOWN_UNDEPLOY', 'undeploy-hard'), 'cancel');
    assert.equal(retry('SHUTDOWN_UNDEPLOY', 'undeploy'), 'shutdown');
    assert.equal(retry('SAVE_MIGRATE', 'migrate'), 'save');
    assert.equal(retry('SAVE_MIGRATE', 'migrate-poweroff'), 'shutdown');
    assert.equal(retry('SAVE_MIGRATE', 'migrate-poweroff-hard'), 'cancel');
  });

  test('recording actions set lastAction; others and resume-to-PENDING keep it', () => {
    const ctx: VmContext = { lastAction: 'stop' };
    assert.deepEqual(applyAction(P('RUNNING'), 'poweroff', ctx).context, { lastAction: 'poweroff' });
    assert.deepEqual(applyAction(P('STOPPED'), 'resume', ctx).context, ctx);
    assert.deepEqual(applyAction(P('PENDING'), 'hold', ctx).context, ctx);
    assert.deepEqual(applyAction(P('RUNNING'), 'reboot', ctx).context, ctx);
    assert.deepEqual(applyAction(P('POWEROFF'), 'resume', ctx).context, { lastAction: 'resume' });
    assert.deepEqual(applyAction(P('BOOT_FAILURE'), 'recover-retry', ctx).context, ctx);
    assert.deepEqual(applyDriverResult(P('BOOT'), 'success', ctx)!.context, ctx);
  });
});

// ---------------------------------------------------------------------------------------------
// Driver results
// ---------------------------------------------------------------------------------------------

describe('applyDriverResult', () => {
  test('every phase: transient states follow the tables, others ignore late results', () => {
    const problems: string[] = [];
    for (const phase of PHASES) {
      for (const result of ['success', 'failure'] as const) {
        const key = keyOf(phase);
        let spec = (result === 'success' ? SUCCESS : FAILURE)[key];
        if (key === 'CLONING') spec = result === 'success' ? 'PENDING' : 'CLONING_FAILURE';
        const t = applyDriverResult(phase, result);
        if (spec === undefined) {
          if (t !== null) problems.push(`${key} ${result}: expected null, got ${JSON.stringify(actual(t))}`);
          continue;
        }
        if (t === null) {
          problems.push(`${key} ${result}: expected ${spec}, got null`);
          continue;
        }
        try {
          assert.deepStrictEqual(actual(t), parseExpected(spec));
          assert.deepEqual(t.cause, { kind: 'driver', result });
        } catch {
          problems.push(`${key} ${result}: expected ${spec}, got ${JSON.stringify(actual(t))}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  /** Applies the driver results in order and returns the names of the phases passed through. */
  function walk(start: VmPhase, results: ('success' | 'failure')[], ctx: VmContext = {}): string[] {
    const seen = [keyOf(start)];
    let phase = start;
    for (const r of results) {
      const t = applyDriverResult(phase, r, ctx);
      assert.ok(t, `no driver result for ${keyOf(phase)} ${r}`);
      phase = t.to;
      seen.push(keyOf(phase));
    }
    return seen;
  }
  const P = parsePhase;
  const act = (from: string, action: VmAction, ctx: VmContext = {}) => applyAction(P(from), action, ctx);

  test('deploy → PROLOG → BOOT → RUNNING', () => {
    const t = act('PENDING', 'deploy');
    assert.equal(t.op, 'prolog');
    assert.deepEqual(walk(t.to, ['success', 'success']), ['PROLOG', 'BOOT', 'RUNNING']);
    assert.equal(applyDriverResult(P('PROLOG'), 'success')!.op, 'boot');
  });

  test('poweroff and back', () => {
    assert.deepEqual(walk(act('RUNNING', 'poweroff').to, ['success']), ['SHUTDOWN_POWEROFF', 'POWEROFF']);
    assert.deepEqual(walk(act('POWEROFF', 'resume').to, ['success']), ['BOOT_POWEROFF', 'RUNNING']);
    assert.deepEqual(walk(act('POWEROFF', 'resume').to, ['failure']), ['BOOT_POWEROFF', 'POWEROFF']);
    assert.deepEqual(walk(act('RUNNING', 'poweroff').to, ['failure']), ['SHUTDOWN_POWEROFF', 'RUNNING']);
  });

  test('undeploy, resume, deploy', () => {
    const u = act('RUNNING', 'undeploy');
    assert.deepEqual(walk(u.to, ['success', 'success']), ['SHUTDOWN_UNDEPLOY', 'EPILOG_UNDEPLOY', 'UNDEPLOYED']);
    const r = applyAction(P('UNDEPLOYED'), 'resume', u.context);
    assert.equal(keyOf(r.to), 'PENDING');
    const d = applyAction(r.to, 'deploy', r.context);
    assert.equal(d.op, 'prolog-undeploy');
    assert.deepEqual(walk(d.to, ['success', 'success']), ['PROLOG_UNDEPLOY', 'BOOT_UNDEPLOY', 'RUNNING']);
  });

  test('stop, resume, hold, release, deploy', () => {
    const s = act('RUNNING', 'stop');
    assert.deepEqual(walk(s.to, ['success', 'success']), ['SAVE_STOP', 'EPILOG_STOP', 'STOPPED']);
    let t = applyAction(P('STOPPED'), 'resume', s.context);
    t = applyAction(t.to, 'hold', t.context);
    t = applyAction(t.to, 'release', t.context);
    t = applyAction(t.to, 'deploy', t.context);
    assert.equal(t.op, 'prolog-resume');
    assert.deepEqual(walk(t.to, ['success', 'success']), ['PROLOG_RESUME', 'BOOT_STOPPED', 'RUNNING']);
    assert.equal(applyDriverResult(P('PROLOG_RESUME'), 'success')!.op, 'restore');
  });

  test('suspend, stop from SUSPENDED, resume', () => {
    assert.deepEqual(walk(act('RUNNING', 'suspend').to, ['success']), ['SAVE_SUSPEND', 'SUSPENDED']);
    assert.deepEqual(walk(act('SUSPENDED', 'stop').to, ['success']), ['EPILOG_STOP', 'STOPPED']);
    assert.deepEqual(walk(act('SUSPENDED', 'resume').to, ['success']), ['BOOT_SUSPENDED', 'RUNNING']);
  });

  test('cold and live migration, with capacity effects along the way', () => {
    const m = act('RUNNING', 'migrate');
    assert.deepEqual(walk(m.to, ['success', 'success', 'success'], m.context), [
      'SAVE_MIGRATE',
      'PROLOG_MIGRATE',
      'BOOT_MIGRATE',
      'RUNNING',
    ]);
    const mp = act('RUNNING', 'migrate-poweroff');
    assert.deepEqual(walk(mp.to, ['success', 'success', 'success'], mp.context), [
      'SAVE_MIGRATE',
      'PROLOG_MIGRATE',
      'BOOT',
      'RUNNING',
    ]);
    assert.deepEqual(walk(act('POWEROFF', 'migrate').to, ['success']), ['PROLOG_MIGRATE_POWEROFF', 'POWEROFF']);
    assert.deepEqual(walk(act('UNKNOWN', 'migrate').to, ['success', 'success']), [
      'PROLOG_MIGRATE_UNKNOWN',
      'BOOT',
      'RUNNING',
    ]);
    const live = act('RUNNING', 'live-migrate');
    assert.deepEqual(live.effects, { chargeCapacity: true, newHistory: true, clearResched: true });
    assert.deepEqual(applyDriverResult(live.to, 'success')!.effects, { releasePreviousHost: true });
    assert.deepEqual(applyDriverResult(live.to, 'failure')!.effects, { revertMigration: true });
  });

  test('failures wait in *_FAILURE; recover --retry and --success move on', () => {
    assert.deepEqual(walk(act('PENDING', 'deploy').to, ['failure']), ['PROLOG', 'PROLOG_FAILURE']);
    const retried = act('PROLOG_FAILURE', 'recover-retry');
    assert.equal(retried.op, 'prolog');
    assert.deepEqual(walk(retried.to, ['success', 'failure']), ['PROLOG', 'BOOT', 'BOOT_FAILURE']);
    assert.equal(keyOf(act('BOOT_FAILURE', 'recover-success').to), 'RUNNING');
    assert.equal(keyOf(act('BOOT_FAILURE', 'recover-failure').to), 'BOOT_FAILURE');
    assert.deepEqual(walk(act('RUNNING', 'terminate').to, ['success', 'failure']), [
      'SHUTDOWN',
      'EPILOG',
      'EPILOG_FAILURE',
    ]);
    assert.deepEqual(
      actual(act('EPILOG_FAILURE', 'recover-success')),
      parseExpected('DONE +releaseCapacity +finalize'),
    );
    assert.deepEqual(walk(act('STOPPED', 'deploy').to, ['success', 'failure']), [
      'PROLOG_RESUME',
      'BOOT_STOPPED',
      'BOOT_STOPPED_FAILURE',
    ]);
    assert.equal(act('BOOT_STOPPED_FAILURE', 'recover-retry').op, 'restore');
  });

  test('recreate: cleanup, back to PENDING, then a fresh prolog', () => {
    const r = act('RUNNING', 'recover-recreate', { lastAction: 'stop' });
    assert.equal(r.op, 'cleanup');
    assert.deepEqual(walk(r.to, ['success']), ['CLEANUP_RESUBMIT', 'PENDING']);
    assert.equal(applyAction(P('PENDING'), 'deploy', r.context).op, 'prolog');
  });

  test('terminate reaches DONE from every class of state', () => {
    const starts = ['RUNNING', 'UNKNOWN', ...PARKED, ...NEVER_HOSTED, ...FAILED];
    for (const start of starts) {
      for (const action of ['terminate', 'terminate-hard'] as const) {
        const t = applyAction(P(start), action);
        let phase = t.to;
        for (let i = 0; i < 4 && keyOf(phase) !== 'DONE'; i++)
          phase = applyDriverResult(phase, 'success', t.context)!.to;
        assert.equal(keyOf(phase), 'DONE', `${action} from ${start}`);
      }
    }
    // a stuck ACPI shutdown is overridden by terminate-hard
    const hard = act('SHUTDOWN', 'terminate-hard', { lastAction: 'terminate' });
    assert.equal(hard.op, 'cancel');
    assert.equal(keyOf(applyDriverResult(applyDriverResult(hard.to, 'success')!.to, 'success')!.to), 'DONE');
  });

  test('recover --delete reaches DONE from every phase but DONE', () => {
    for (const phase of ALL_PHASES) {
      if (phase.state === 'DONE') continue;
      let t = applyAction(phase, 'recover-delete');
      for (let i = 0; i < 2 && t.to.state !== 'DONE'; i++) t = applyDriverResult(t.to, 'failure')!;
      assert.equal(t.to.state, 'DONE', keyOf(phase));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Monitor
// ---------------------------------------------------------------------------------------------

describe('monitor-observed transitions', () => {
  const BOOTING = [
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
  const seenOff = {
    RUNNING: 'POWEROFF +clearResched',
    UNKNOWN: 'POWEROFF +clearResched',
    SHUTDOWN: 'EPILOG epilog',
    SHUTDOWN_POWEROFF: 'POWEROFF',
    SHUTDOWN_UNDEPLOY: 'EPILOG_UNDEPLOY epilog-undeploy',
  };
  const OBSERVED: Record<ObservedVmState, Record<string, string>> = {
    RUNNING: {
      POWEROFF: 'RUNNING +newHistory',
      SUSPENDED: 'RUNNING +newHistory',
      UNKNOWN: 'RUNNING',
      ...each(BOOTING, 'RUNNING'),
    },
    POWEROFF: seenOff,
    MISSING: seenOff,
    SUSPENDED: { RUNNING: 'SUSPENDED +clearResched', UNKNOWN: 'SUSPENDED +clearResched' },
    FAILURE: { RUNNING: 'UNKNOWN +clearResched' },
  };

  for (const observed of Object.keys(OBSERVED) as ObservedVmState[]) {
    test(`observed ${observed} in every phase`, () => {
      for (const phase of PHASES) {
        const spec = OBSERVED[observed][keyOf(phase)];
        const t = applyObserved(phase, observed);
        if (spec === undefined) assert.equal(t, null, keyOf(phase));
        else assert.deepStrictEqual(actual(t!), parseExpected(spec), keyOf(phase));
      }
    });
  }

  test('host error: RUNNING → UNKNOWN, everything else unchanged', () => {
    for (const phase of PHASES) {
      const t = applyHostError(phase);
      if (keyOf(phase) === 'RUNNING') assert.deepStrictEqual(actual(t!), parseExpected('UNKNOWN +clearResched'));
      else assert.equal(t, null, keyOf(phase));
    }
  });

  test('an unknown observation is rejected', () => {
    assert.equal(
      refusalCode(() => applyObserved(parsePhase('RUNNING'), 'ASLEEP' as ObservedVmState)),
      'E_VALIDATION',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Consistency of the tables themselves
// ---------------------------------------------------------------------------------------------

describe('table consistency', () => {
  const validPhase = (p: VmPhase): boolean =>
    Object.hasOwn(VM_STATES, p.state) &&
    Object.hasOwn(LCM_STATES, p.lcm) &&
    (p.state === 'ACTIVE') === (p.lcm !== 'LCM_INIT');

  const allOutcomes = (): [string, Outcome][] => [
    ...Object.entries(ACTION_TABLE).flatMap(([a, rows]) => rows.map((r): [string, Outcome] => [`action ${a}`, r])),
    ...Object.entries(DRIVER_RESULTS).flatMap(([s, row]) =>
      [...row!.success, ...row!.failure].map((o): [string, Outcome] => [`driver ${s}`, o]),
    ),
    ...Object.entries(OBSERVED_TABLE).flatMap(([s, rows]) => rows.map((r): [string, Outcome] => [`observed ${s}`, r])),
  ];

  test('every referenced state, op and effect exists; no transition leads into an undefined phase', () => {
    for (const [where, o] of allOutcomes()) {
      assert.ok(validPhase(o.to), `${where} → ${JSON.stringify(o.to)}`);
      if (o.op) assert.ok(Object.hasOwn(DRIVER_OPS, o.op), `${where}: op ${o.op}`);
      for (const e of Object.keys(o.effects ?? {})) assert.ok(Object.hasOwn(EFFECT_FLAGS, e), `${where}: effect ${e}`);
      for (const a of o.when ?? []) assert.ok(Object.hasOwn(VM_ACTIONS, a), `${where}: guard ${a}`);
    }
    for (const rows of [...Object.values(ACTION_TABLE), ...Object.values(OBSERVED_TABLE)]) {
      for (const r of rows) {
        assert.ok(Object.hasOwn(VM_STATES, r.from.state));
        if ('lcm' in r.from) for (const l of r.from.lcm) assert.ok(Object.hasOwn(LCM_STATES, l), l);
      }
    }
    for (const name of [...Object.keys(DRIVER_RESULTS), ...Object.keys(STATE_OPS)]) phaseFromName(name);
  });

  test('every transient state has a driver-result row, and nothing else has one (but CLONING)', () => {
    for (const lcm of LCM_NAMES) {
      assert.equal(Object.hasOwn(DRIVER_RESULTS, lcm), isTransient(lcm), lcm);
    }
    assert.ok(Object.hasOwn(DRIVER_RESULTS, 'CLONING'));
  });

  test('entering a transient state names the op that STATE_OPS says runs there', () => {
    for (const [where, o] of allOutcomes()) {
      const ops = STATE_OPS[o.to.lcm];
      if (o.to.state !== 'ACTIVE' || !ops) continue;
      assert.ok(o.op !== undefined, `${where} enters ${o.to.lcm} without an op`);
      assert.ok(
        ops.some((s) => s.op === o.op),
        `${where} enters ${o.to.lcm} with ${o.op}`,
      );
    }
  });

  test('every failure state is where its twin fails to', () => {
    for (const [failed, twin] of Object.entries(FAILURE_TWINS)) {
      assert.ok(isFailureState(failed as LcmState));
      assert.ok(isTransient(twin));
      assert.ok(
        DRIVER_RESULTS[twin]!.failure.some((o) => o.to.lcm === failed),
        `${twin} does not fail into ${failed}`,
      );
    }
    assert.equal(LCM_NAMES.filter(isFailureState).length, Object.keys(FAILURE_TWINS).length);
  });

  test('ALL_PHASES, phaseName and phaseFromName agree', () => {
    assert.equal(ALL_PHASES.length, PHASES.length - 1); // minus ACTIVE/LCM_INIT
    for (const p of ALL_PHASES) {
      assert.ok(validPhase(p));
      assert.deepEqual(phaseFromName(phaseName(p)), p);
    }
    assert.equal(
      refusalCode(() => phaseFromName('ACTIVE')),
      'E_VALIDATION',
    );
  });

  test('action metadata', () => {
    const hostNeeded = VM_ACTION_LIST.filter((a) => VM_ACTIONS[a].needsHost);
    assert.deepEqual(hostNeeded, ['deploy', 'migrate', 'migrate-poweroff', 'migrate-poweroff-hard', 'live-migrate']);
    const admin = VM_ACTION_LIST.filter((a) => VM_ACTIONS[a].adminOnly);
    assert.deepEqual(admin, [
      'deploy',
      'migrate',
      'migrate-poweroff',
      'migrate-poweroff-hard',
      'live-migrate',
      'resched',
      'unresched',
      'recover-success',
      'recover-failure',
      'recover-retry',
      'recover-delete',
      'recover-recreate',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// vm-states.ts
// ---------------------------------------------------------------------------------------------

describe('vm-states', () => {
  test('numbers match OpenNebula', () => {
    assert.deepEqual(Object.values(VM_STATES), [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
    const lcm = Object.values(LCM_STATES) as number[];
    assert.equal(lcm.length, 69);
    for (const retired of [13, 14, 58]) assert.ok(!lcm.includes(retired));
    assert.deepEqual(
      lcm,
      Array.from({ length: 72 }, (_, i) => i).filter((n) => ![13, 14, 58].includes(n)),
    );
    assert.equal(LCM_STATES.CLEANUP_RESUBMIT, 15);
    assert.equal(LCM_STATES.DISK_SNAPSHOT, 57);
    assert.equal(LCM_STATES.DISK_SNAPSHOT_DELETE, 59);
    assert.equal(LCM_STATES.HOTPLUG_SAVEAS_STOPPED, 68);
    assert.equal(LCM_STATES.RESTORE, 71);
    assert.equal(VM_STATE_NAMES[11], 'CLONING_FAILURE');
    assert.equal(VM_STATE_NAMES[7], undefined);
    assert.equal(LCM_STATE_NAMES[36], 'BOOT_FAILURE');
    assert.equal(LCM_STATE_NAMES[58], undefined);
  });

  test('short names follow onevm list', () => {
    const cases: [VmState, LcmState, string][] = [
      ['PENDING', 'LCM_INIT', 'pend'],
      ['HOLD', 'LCM_INIT', 'hold'],
      ['CLONING', 'LCM_INIT', 'clon'],
      ['CLONING_FAILURE', 'LCM_INIT', 'fail'],
      ['STOPPED', 'LCM_INIT', 'stop'],
      ['SUSPENDED', 'LCM_INIT', 'susp'],
      ['POWEROFF', 'LCM_INIT', 'poff'],
      ['UNDEPLOYED', 'LCM_INIT', 'unde'],
      ['DONE', 'LCM_INIT', 'done'],
      ['INIT', 'LCM_INIT', 'init'],
      ['ACTIVE', 'PROLOG_UNDEPLOY', 'prol'],
      ['ACTIVE', 'BOOT_STOPPED', 'boot'],
      ['ACTIVE', 'RUNNING', 'runn'],
      ['ACTIVE', 'PROLOG_MIGRATE_SUSPEND', 'migr'],
      ['ACTIVE', 'SAVE_MIGRATE', 'save'],
      ['ACTIVE', 'EPILOG_UNDEPLOY', 'epil'],
      ['ACTIVE', 'SHUTDOWN_POWEROFF', 'shut'],
      ['ACTIVE', 'HOTPLUG_NIC_POWEROFF', 'hotp'],
      ['ACTIVE', 'DISK_SNAPSHOT_REVERT_SUSPENDED', 'snap'],
      ['ACTIVE', 'DISK_RESIZE_UNDEPLOYED', 'drsz'],
      ['ACTIVE', 'UNKNOWN', 'unkn'],
      ['ACTIVE', 'CLEANUP_DELETE', 'clea'],
      ['ACTIVE', 'BACKUP_POWEROFF', 'back'],
      ['ACTIVE', 'RESTORE', 'rest'],
    ];
    for (const [s, l, short] of cases) assert.equal(shortStateName(s, l), short, `${s}/${l}`);
    for (const l of LCM_NAMES) {
      assert.match(shortStateName('ACTIVE', l), /^[a-z]{4}$/);
      if (isFailureState(l)) assert.equal(shortStateName('ACTIVE', l), 'fail');
    }
    // the LCM state is ignored outside ACTIVE
    assert.equal(shortStateName('POWEROFF', 'RUNNING'), 'poff');
  });

  test('failure and transient classification', () => {
    assert.equal(LCM_NAMES.filter(isFailureState).length, 14);
    assert.equal(LCM_NAMES.filter(isTransient).length, 69 - 1 - 2 - 14);
    for (const l of ['LCM_INIT', 'RUNNING', 'UNKNOWN', 'BOOT_FAILURE'] as const) assert.equal(isTransient(l), false);
    for (const l of ['PROLOG', 'CLEANUP_DELETE', 'HOTPLUG', 'BACKUP'] as const) assert.equal(isTransient(l), true);
  });
});
