import type { VmBody } from './model.js';
import { isFinished } from './sched-actions.js';

/** The body of a VM that was just created: no host, no history, nothing outstanding. */
export function emptyVmBody(templateId: number | null = null, stime = 0): VmBody {
  return {
    template_id: templateId,
    host_id: null,
    host_name: null,
    pending_op: null,
    last_action: null,
    error: null,
    resched: false,
    sched_message: '',
    history: [],
    user_template: {},
    stime,
    etime: 0,
  };
}

/**
 * Whether the lifecycle controller has something to do for a VM on its own:
 * a host operation in flight (its plan may have to be sent again), migration
 * sources still to clean, or a reschedule asked for. Stored with every VM
 * write (`vms.needs_work`), so a resync reads only these VMs.
 */
export function vmNeedsWork(body: Pick<VmBody, 'pending_op' | 'cleanup_hosts' | 'resched'>): boolean {
  return (body.pending_op ?? null) !== null || (body.cleanup_hosts?.length ?? 0) > 0 || body.resched === true;
}

/**
 * Whether a VM has scheduled actions still to run. Stored with every VM write
 * (`vms.sched_pending`), so the scheduled-action runner's periodic rescan
 * reads only these VMs instead of every VM of the fleet.
 */
export function vmHasSchedActions(body: Pick<VmBody, 'sched_actions'>): boolean {
  return (body.sched_actions ?? []).some((sa) => !isFinished(sa));
}
