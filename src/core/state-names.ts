import { HOST_STATE_NAMES } from './host-states.js';
import { IMAGE_STATES, type ObjectKind } from './model.js';
import { LCM_STATE_NAMES, VM_STATE_NAMES } from './vm-states.js';

const IMAGE_STATE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(IMAGE_STATES).map(([name, n]) => [n, name]),
);
const VNET_STATE_NAMES: Record<number, string> = {
  0: 'INIT',
  1: 'READY',
  2: 'LOCK_CREATE',
  3: 'LOCK_DELETE',
  4: 'LOCK',
  5: 'ERROR',
};

/** The state names the API shows for a kind, or undefined for kinds without a state. */
export function stateNames(
  kind: ObjectKind,
  state: number,
  lcm: number,
): { state: string; lcmState?: string } | undefined {
  switch (kind) {
    case 'vm':
      return { state: VM_STATE_NAMES[state] ?? String(state), lcmState: LCM_STATE_NAMES[lcm] ?? String(lcm) };
    case 'host':
      return { state: HOST_STATE_NAMES[state] ?? String(state) };
    case 'image':
      return { state: IMAGE_STATE_NAMES[state] ?? String(state) };
    case 'vnet':
      return { state: VNET_STATE_NAMES[state] ?? String(state) };
    default:
      return undefined;
  }
}
