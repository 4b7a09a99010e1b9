/**
 * Host states (OpenNebula 5.12+, `include/Host.h`; the transient MONITORING_* states
 * of older releases are gone) and the one table that moves between them.
 *
 *             report               silent
 *   INIT ─────────────► MONITORED ──────────► ERROR
 *     │                     ▲                   │
 *     │ silent              └───── report ──────┘
 *     └──────► ERROR
 *
 *   operator, from any state: disable ─► DISABLED, offline ─► OFFLINE, enable ─► INIT
 *
 * Operator actions (enable, disable, offline) and monitor events (report: the host's
 * agent sent data; silent: nothing for MONITORING_INTERVAL_HOST, or its agent could
 * not be started) are both rows of HOST_TRANSITIONS. A DISABLED or OFFLINE host keeps
 * its state whatever the monitor says: only the operator moves it out.
 */
import { OneError } from './errors.js';

export const HOST_STATES = {
  INIT: 0,
  // 1 MONITORING_MONITORED retired in 5.12
  MONITORED: 2,
  ERROR: 3,
  DISABLED: 4,
  // 5–7 MONITORING_ERROR / _INIT / _DISABLED retired in 5.12
  OFFLINE: 8,
} as const;

export type HostState = keyof typeof HOST_STATES;
export type HostStateNumber = (typeof HOST_STATES)[HostState];

export const HOST_STATE_LIST = Object.keys(HOST_STATES) as readonly HostState[];

/** Host state number → name (retired numbers are absent). */
export const HOST_STATE_NAMES: Readonly<Record<number, HostState>> = Object.freeze(
  Object.fromEntries(HOST_STATE_LIST.map((name) => [HOST_STATES[name], name])),
);

export function isHostState(value: unknown): value is HostState {
  return typeof value === 'string' && Object.hasOwn(HOST_STATES, value);
}

/** `onehost list` short names. */
const SHORT_HOST: Readonly<Record<HostState, string>> = {
  INIT: 'init',
  MONITORED: 'on',
  ERROR: 'err',
  DISABLED: 'dsbl',
  OFFLINE: 'off',
};

export function shortHostStateName(state: HostState): string {
  return SHORT_HOST[state];
}

/**
 * What each state allows (Host.h's table): whether the monitor talks to the host,
 * whether the scheduler may place VMs there, and whether an admin may deploy there by hand.
 */
export const HOST_STATE_TRAITS: Readonly<
  Record<HostState, { readonly monitored: boolean; readonly schedulable: boolean; readonly manualDeploy: boolean }>
> = {
  INIT: { monitored: true, schedulable: true, manualDeploy: true },
  MONITORED: { monitored: true, schedulable: true, manualDeploy: true },
  ERROR: { monitored: true, schedulable: false, manualDeploy: false },
  DISABLED: { monitored: true, schedulable: false, manualDeploy: true },
  OFFLINE: { monitored: false, schedulable: false, manualDeploy: false },
};

export const HOST_OPERATOR_ACTIONS = ['enable', 'disable', 'offline'] as const;
export const HOST_MONITOR_EVENTS = ['report', 'silent'] as const;

export type HostOperatorAction = (typeof HOST_OPERATOR_ACTIONS)[number];
export type HostMonitorEvent = (typeof HOST_MONITOR_EVENTS)[number];
export type HostEvent = HostOperatorAction | HostMonitorEvent;

/**
 * event → (from → to). A missing entry means "no change": operator actions are
 * idempotent (enabling an enabled host is not an error), and monitor events do not
 * touch DISABLED/OFFLINE hosts.
 */
export const HOST_TRANSITIONS: Readonly<Record<HostEvent, Readonly<Partial<Record<HostState, HostState>>>>> = {
  // enable re-enters INIT; the next report makes the host MONITORED
  enable: { ERROR: 'INIT', DISABLED: 'INIT', OFFLINE: 'INIT' },
  disable: { INIT: 'DISABLED', MONITORED: 'DISABLED', ERROR: 'DISABLED', OFFLINE: 'DISABLED' },
  offline: { INIT: 'OFFLINE', MONITORED: 'OFFLINE', ERROR: 'OFFLINE', DISABLED: 'OFFLINE' },
  report: { INIT: 'MONITORED', ERROR: 'MONITORED' },
  silent: { INIT: 'ERROR', MONITORED: 'ERROR' },
};

export interface HostTransition {
  readonly event: HostEvent;
  readonly from: HostState;
  readonly to: HostState;
  /** True when the host just entered ERROR: its RUNNING VMs go UNKNOWN (`applyHostError`). */
  readonly hostFailed: boolean;
}

export function isHostEvent(value: unknown): value is HostEvent {
  return typeof value === 'string' && Object.hasOwn(HOST_TRANSITIONS, value);
}

/**
 * The pure host transition function. Returns null when the event changes nothing.
 * Throws E_VALIDATION for an unknown event name.
 */
export function applyHostEvent(state: HostState, event: HostEvent): HostTransition | null {
  if (!isHostEvent(event)) {
    throw new OneError('E_VALIDATION', `no such host event: ${String(event)}`, {
      event,
      known: [...HOST_OPERATOR_ACTIONS, ...HOST_MONITOR_EVENTS],
    });
  }
  const to = HOST_TRANSITIONS[event][state];
  if (to === undefined || to === state) return null;
  return { event, from: state, to, hostFailed: to === 'ERROR' };
}
