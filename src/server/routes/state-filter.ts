import { OneError } from '../../core/errors.js';
import { HOST_STATES } from '../../core/host-states.js';
import { IMAGE_STATES, type ObjectKind } from '../../core/model.js';
import { VM_STATES } from '../../core/vm-states.js';

const BY_KIND: Partial<Record<ObjectKind, Record<string, number>>> = {
  vm: VM_STATES,
  host: HOST_STATES,
  image: IMAGE_STATES,
};

/** `?state=PENDING` → the stored number, or a clear error listing the valid names. */
export function parseStateFilter(kind: ObjectKind, name: string): number {
  const table = BY_KIND[kind];
  if (!table) throw new OneError('E_VALIDATION', `${kind} objects have no state to filter on`, { field: 'state' });
  const n = table[name.toUpperCase()];
  if (n === undefined) {
    throw new OneError('E_VALIDATION', `unknown ${kind} state '${name}': one of ${Object.keys(table).join(', ')}`, {
      field: 'state',
    });
  }
  return n;
}
