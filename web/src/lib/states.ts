import { isHostState, isLcmState, isVmState, shortHostStateName, shortStateName } from '../api';

export type LabelColor = 'blue' | 'teal' | 'green' | 'orange' | 'purple' | 'red' | 'orangered' | 'grey' | 'yellow';

interface StateCarrier {
  state?: string | undefined;
  lcm_state?: string | undefined;
}

/** The `onevm list` STAT column: the LCM short name for ACTIVE VMs, the STATE's otherwise. */
export function vmShortState(vm: StateCarrier): string {
  const s = vm.state ?? '';
  const l = vm.lcm_state ?? 'LCM_INIT';
  if (isVmState(s) && isLcmState(l)) return shortStateName(s, l);
  return s.toLowerCase();
}

/** The full state for tooltips and detail pages: `ACTIVE/RUNNING`, `PENDING`. */
export function vmLongState(vm: StateCarrier): string {
  return vm.state === 'ACTIVE' ? `ACTIVE/${vm.lcm_state ?? ''}` : (vm.state ?? '');
}

/**
 * Sunstone's colour code: running is green, queued is blue/grey, transitions
 * are orange, failures red, stopped-like states purple.
 */
export function vmStateColor(vm: StateCarrier): LabelColor {
  const s = vm.state ?? '';
  const l = vm.lcm_state ?? '';
  if (s === 'ACTIVE') {
    if (l === 'RUNNING') return 'green';
    if (l === 'UNKNOWN' || l.endsWith('_FAILURE')) return 'red';
    return 'orange';
  }
  switch (s) {
    case 'PENDING':
      return 'blue';
    case 'HOLD':
      return 'yellow';
    case 'POWEROFF':
    case 'SUSPENDED':
    case 'STOPPED':
    case 'UNDEPLOYED':
      return 'purple';
    case 'CLONING_FAILURE':
      return 'red';
    case 'CLONING':
    case 'INIT':
      return 'orange';
    default:
      return 'grey';
  }
}

/** The dashboard groups VM states like Sunstone's VM widget. */
export const VM_STATE_GROUPS = [
  'PENDING',
  'HOLD',
  'RUNNING',
  'TRANSIENT',
  'POWEROFF',
  'STOPPED',
  'FAILED',
  'OTHER',
] as const;
export type VmStateGroup = (typeof VM_STATE_GROUPS)[number];

export function vmStateGroup(vm: StateCarrier): VmStateGroup {
  const s = vm.state ?? '';
  const l = vm.lcm_state ?? '';
  if (s === 'PENDING') return 'PENDING';
  if (s === 'HOLD') return 'HOLD';
  if (s === 'ACTIVE') {
    if (l === 'RUNNING') return 'RUNNING';
    if (l === 'UNKNOWN' || l.endsWith('_FAILURE')) return 'FAILED';
    return 'TRANSIENT';
  }
  if (s === 'POWEROFF' || s === 'SUSPENDED') return 'POWEROFF';
  if (s === 'STOPPED' || s === 'UNDEPLOYED') return 'STOPPED';
  if (s === 'CLONING_FAILURE') return 'FAILED';
  return 'OTHER';
}

export const VM_GROUP_COLORS: Record<VmStateGroup, string> = {
  PENDING: '#0066cc',
  HOLD: '#dca614',
  RUNNING: '#3e8635',
  TRANSIENT: '#ec7a08',
  POWEROFF: '#5e40be',
  STOPPED: '#8476d1',
  FAILED: '#c9190b',
  OTHER: '#8a8d90',
};

export function hostShortState(state: string | undefined): string {
  return isHostState(state) ? shortHostStateName(state) : (state ?? '').toLowerCase();
}

export function hostStateColor(state: string | undefined): LabelColor {
  switch (state) {
    case 'MONITORED':
      return 'green';
    case 'INIT':
      return 'blue';
    case 'ERROR':
      return 'red';
    case 'DISABLED':
      return 'orange';
    case 'OFFLINE':
      return 'grey';
    default:
      return 'grey';
  }
}

/** Images, networks and anything else with a plain state. */
export function genericStateColor(state: string | undefined): LabelColor {
  if (!state) return 'grey';
  if (state === 'READY' || state === 'USED' || state === 'USED_PERS') return 'green';
  if (state.includes('ERROR')) return 'red';
  if (state.includes('LOCK') || state === 'INIT' || state === 'CLONE') return 'orange';
  return 'grey';
}
