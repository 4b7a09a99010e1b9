import type { VmBody } from './model.js';

/**
 * Whether the lifecycle controller has something to do for a VM on its own:
 * a host operation in flight (its plan may have to be sent again), migration
 * sources still to clean, or a reschedule asked for. Stored with every VM
 * write (`vms.needs_work`), so a resync reads only these VMs.
 */
export function vmNeedsWork(body: Pick<VmBody, 'pending_op' | 'cleanup_hosts' | 'resched'>): boolean {
  return (body.pending_op ?? null) !== null || (body.cleanup_hosts?.length ?? 0) > 0 || body.resched === true;
}
