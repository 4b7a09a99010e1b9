import { vmHasSchedActions } from '../../core/vm-body.js';
import { vmFlagColumn } from './vm-flag-column.js';

/**
 * `vms.sched_pending`: 1 while a VM has scheduled actions still to run
 * (core/vm-body.ts), kept by every write. The scheduled-action runner's
 * periodic rescan reads those VMs through a partial index: reading every VM
 * once a minute blocked the event loop for seconds at 500,000 VMs. Existing
 * rows are classified here.
 */
export const schedPendingColumn = vmFlagColumn('sched_pending', ['"sched_actions":[{'], vmHasSchedActions);
