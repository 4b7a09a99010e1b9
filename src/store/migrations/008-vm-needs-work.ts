import { vmNeedsWork } from '../../core/vm-body.js';
import { vmFlagColumn } from './vm-flag-column.js';

/**
 * `vms.needs_work`: 1 while a VM has a host operation outstanding, a migration
 * source to clean or a reschedule asked for (core/vm-body.ts), kept by every
 * write. The lifecycle controller's periodic resync reads the few such VMs
 * through a partial index instead of scanning every VM's body text (370 ms a
 * scan at 100,000 VMs, every 5 s). Existing rows are classified here.
 */
export const needsWorkColumn = vmFlagColumn(
  'needs_work',
  ['"pending_op":"', '"cleanup_hosts":[', '"resched":true'],
  vmNeedsWork,
);
