import type { Logger } from 'pino';
import { isOneError } from '../core/errors.js';
import { SYSTEM_PRINCIPAL } from '../core/permissions.js';
import { isDue, isFinished, nextRun, type SchedAction } from '../core/sched-actions.js';
import type { Store } from '../store/index.js';
import type { VmService } from './services/vm-service.js';

export interface SchedActionRunnerOptions {
  /** Full rescan period: picks up schedules another front-end wrote (default 60 s). */
  rescanMs?: number;
  now?: () => number;
}

/**
 * Runs VMs' scheduled actions (SCHED_ACTION) at their time.
 *
 * It keeps, per VM with schedules, the next time one is due, learnt from a
 * full scan at start (and every `rescanMs`) and from the VM service whenever
 * a schedule is written, and sleeps until the earliest. A due action runs as
 * oneadmin through the state machine, like OpenNebula's scheduler does, in
 * one transaction with the record of its run: `done`, an empty `message`, and
 * for a repeating schedule the next `time`. An action the VM's state refuses
 * is recorded with the error as its `message` and not retried; a repeat
 * still moves on. Runs missed while the front-end was down run once at start.
 */
export class SchedActionRunner {
  /** VM id → the earliest time (epoch s) one of its schedules is due. */
  private readonly due = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  private stopped = false;
  private lastScan = 0;
  private unsubscribe: (() => void) | null = null;
  private readonly rescanMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly vms: VmService,
    private readonly log: Logger,
    options: SchedActionRunnerOptions = {},
  ) {
    this.rescanMs = options.rescanMs ?? 60_000;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  async start(): Promise<void> {
    this.vms.onSchedActions((vmId, list) => this.track(vmId, list));
    // New VMs may carry SCHED_ACTION from their template; events arrive after the commit.
    this.unsubscribe = this.store.objects.onChange((e) => {
      if (e.kind !== 'vm' || e.op !== 'create') return;
      void this.store.objects
        .get('vm', e.id)
        .then((vm) => {
          if (vm?.body.sched_actions?.length) this.track(vm.id, vm.body.sched_actions);
        })
        .catch((err) => this.log.warn({ err, vmId: e.id }, 'could not read a new VM’s schedules'));
    });
    await this.scan();
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
  }

  /** Records a VM's schedules (called by the VM service after every write). */
  track(vmId: number, list: readonly SchedAction[] | undefined): void {
    const next = earliest(list);
    if (next === undefined) this.due.delete(vmId);
    else this.due.set(vmId, next);
    this.arm();
  }

  private arm(): void {
    if (this.stopped || this.busy) return;
    if (this.timer) clearTimeout(this.timer);
    let first = Number.POSITIVE_INFINITY;
    for (const t of this.due.values()) if (t < first) first = t;
    const untilDue = (first - this.now()) * 1000;
    const untilScan = this.lastScan + this.rescanMs - Date.now();
    const wait = Math.max(0, Math.min(untilDue, untilScan, 2 ** 31 - 1));
    this.timer = setTimeout(() => this.tick(), wait);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    this.busy = this.runDue()
      .catch((err) => this.log.error({ err }, 'scheduled actions pass failed'))
      .finally(() => {
        this.busy = null;
        this.arm();
      });
  }

  private async runDue(): Promise<void> {
    if (Date.now() >= this.lastScan + this.rescanMs) await this.scan();
    const now = this.now();
    const ready = [...this.due].filter(([, t]) => t <= now).map(([id]) => id);
    for (const vmId of ready) {
      if (this.stopped) return;
      await this.runVm(vmId, now);
    }
  }

  private async scan(): Promise<void> {
    this.lastScan = Date.now();
    this.due.clear();
    // Only VMs with schedules still to run (an indexed column kept by every write), not the fleet.
    for (const row of await this.store.objects.listRows('vm', { schedPending: true })) {
      const next = earliest((JSON.parse(row.body) as { sched_actions?: SchedAction[] }).sched_actions);
      if (next !== undefined) this.due.set(row.id, next);
    }
  }

  private async runVm(vmId: number, now: number): Promise<void> {
    const vm = await this.store.objects.get('vm', vmId);
    const dueNow = (vm?.body.sched_actions ?? []).filter((sa) => isDue(sa, now)).sort((a, b) => a.time - b.time);
    for (const sa of dueNow) await this.runOne(vmId, sa.id, now);
    const after = await this.store.objects.get('vm', vmId);
    const next = earliest(after?.body.sched_actions);
    if (next === undefined) this.due.delete(vmId);
    else this.due.set(vmId, next);
  }

  private async runOne(vmId: number, saId: number, now: number): Promise<void> {
    try {
      const ran = await this.store.objects.transaction(async (tx) => {
        const vm = await tx.get('vm', vmId);
        const sa = vm?.body.sched_actions?.find((s) => s.id === saId);
        if (!vm || !sa || !isDue(sa, now)) return undefined;
        const moved = await this.vms.applyInTx(tx, SYSTEM_PRINCIPAL, vm, sa.action, {});
        await tx.update('vm', vmId, moved.revision, (o) => ({
          ...o,
          body: { ...o.body, sched_actions: recordRun(o.body.sched_actions ?? [], saId, now, '') },
        }));
        return sa.action;
      });
      if (ran) this.log.info({ vmId, schedAction: saId, action: ran }, 'scheduled action ran');
    } catch (err) {
      const message = isOneError(err) ? `${err.code}: ${err.message}` : String(err);
      this.log.warn({ vmId, schedAction: saId, err: message }, 'scheduled action failed');
      await this.store.objects.transaction(async (tx) => {
        const vm = await tx.get('vm', vmId);
        const sa = vm?.body.sched_actions?.find((s) => s.id === saId);
        if (!vm || !sa || !isDue(sa, now)) return;
        await tx.update('vm', vmId, vm.revision, (o) => ({
          ...o,
          body: { ...o.body, sched_actions: recordRun(o.body.sched_actions ?? [], saId, now, message) },
        }));
      });
    }
  }
}

/** The schedule list after action `saId` ran at `now` with `message` (empty: success). */
export function recordRun(list: readonly SchedAction[], saId: number, now: number, message: string): SchedAction[] {
  return list.map((sa) => {
    if (sa.id !== saId) return sa;
    const ran: SchedAction = { ...sa, done: now, message };
    const next = nextRun(sa, now);
    return next ? { ...ran, time: next.time, end_value: next.endValue } : ran;
  });
}

function earliest(list: readonly SchedAction[] | undefined): number | undefined {
  let first: number | undefined;
  for (const sa of list ?? []) {
    if (isFinished(sa)) continue;
    if (first === undefined || sa.time < first) first = sa.time;
  }
  return first;
}
