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

/** A kind's state name tables: `lcm` only for VMs; undefined for kinds without a state. */
export function stateNameTables(
  kind: ObjectKind,
): { state: Readonly<Record<number, string>>; lcm?: Readonly<Record<number, string>> } | undefined {
  switch (kind) {
    case 'vm':
      return { state: VM_STATE_NAMES, lcm: LCM_STATE_NAMES };
    case 'host':
      return { state: HOST_STATE_NAMES };
    case 'image':
      return { state: IMAGE_STATE_NAMES };
    case 'vnet':
      return { state: VNET_STATE_NAMES };
    default:
      return undefined;
  }
}

/** The state names the API shows for a kind (an unnamed number as its digits), or undefined for kinds without a state. */
export function stateNames(
  kind: ObjectKind,
  state: number,
  lcm: number,
): { state: string; lcmState?: string } | undefined {
  const tables = stateNameTables(kind);
  if (!tables) return undefined;
  const names: { state: string; lcmState?: string } = { state: tables.state[state] ?? String(state) };
  if (tables.lcm) names.lcmState = tables.lcm[lcm] ?? String(lcm);
  return names;
}
