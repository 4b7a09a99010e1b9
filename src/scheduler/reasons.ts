import type { RejectionReason } from './types.js';

/*
 * Host filters in the order they run. A host is rejected by the first filter
 * that fails; the counts per filter explain an unplaced VM (the most frequent
 * reason becomes its SCHED_MESSAGE, ties going to the earlier filter).
 */
export const OK = 0;
export const R_STATE = 1;
export const R_CURRENT = 2;
export const R_MAX_HOST = 3;
export const R_CLUSTER = 4;
export const R_ACL = 5;
export const R_RUNTIME = 6;
export const R_CPU = 7;
export const R_MEMORY = 8;
export const R_PIN = 9;
export const R_REQUIREMENTS = 10;
export const R_DS_NONE = 11;
export const R_DS_REQUIREMENTS = 12;
export const R_DS_ROOM = 13;
export const R_NETWORK = 14;
export const R_VM_GROUP = 15;
export const R_NUMA = 16;

export const REASON_COUNT = 17;

export const REASON_NAMES: readonly (RejectionReason | '')[] = [
  '',
  'state',
  'current-host',
  'max-host',
  'cluster',
  'acl',
  'runtime',
  'cpu',
  'memory',
  'pin-policy',
  'requirements',
  'datastore',
  'datastore-requirements',
  'datastore-room',
  'network',
  'vm-group',
  'numa',
];
