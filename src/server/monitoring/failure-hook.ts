import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { HOST_STATE_NAMES } from '../../core/host-states.js';
import type { Principal } from '../../core/permissions.js';
import { VM_STATES } from '../../core/vm-states.js';
import type { Store } from '../../store/index.js';
import type { MonitoringConfig } from '../config.js';
import type { VmService } from '../services/vm-service.js';

const SYSTEM: Principal = { uid: 0, gid: 0, groups: [0], admin: true, name: 'oneadmin' };

export interface HookOutcome {
  hostId: number;
  fenced: boolean;
  /** Why nothing was done, when nothing was. */
  reason?: string;
  vms: number[];
}

/**
 * The host-failure hook (OpenNebula's ft/host_error.rb, reference §1.3): when
 * a host has stayed ERROR for the grace period, run the operator's fencing
 * command (argv, no shell, with a time limit, ONEEDGE_HOST_ID/NAME in its
 * environment). Only when it exits 0 — the host is known to be off — are its
 * active VMs recreated elsewhere (recover-recreate → PENDING, the scheduler
 * places them) or deleted. A failed or timed-out fence leaves everything as it is.
 */
export class HostFailureHook {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  readonly outcomes: HookOutcome[] = [];

  constructor(
    private readonly store: Store,
    private readonly vms: VmService,
    private readonly log: Logger,
    private readonly config: MonitoringConfig['hostFailure'],
  ) {}

  get enabled(): boolean {
    return this.config.action !== 'none' && this.config.fence.length > 0;
  }

  hostError(hostId: number): void {
    if (!this.enabled || this.timers.has(hostId)) return;
    const timer = setTimeout(() => {
      this.timers.delete(hostId);
      void this.fire(hostId).catch((err) => this.log.error({ err, hostId }, 'host failure hook failed'));
    }, this.config.graceSeconds * 1000);
    this.timers.set(hostId, timer);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private async fire(hostId: number): Promise<void> {
    const host = await this.store.objects.get('host', hostId);
    if (!host || HOST_STATE_NAMES[host.state] !== 'ERROR') {
      this.log.info({ hostId }, 'host failure hook: the host recovered during the grace period; nothing to do');
      this.outcomes.push({ hostId, fenced: false, reason: 'recovered', vms: [] });
      return;
    }
    const [cmd, ...args] = this.config.fence;
    const fence = await new Promise<{ ok: boolean; detail: string }>((resolve) => {
      execFile(
        cmd as string,
        args,
        {
          timeout: this.config.fenceTimeoutSeconds * 1000,
          killSignal: 'SIGKILL',
          env: { ...process.env, ONEEDGE_HOST_ID: String(hostId), ONEEDGE_HOST_NAME: host.name },
          maxBuffer: 64 * 1024,
        },
        (err, _stdout, stderr) => {
          if (!err) return resolve({ ok: true, detail: '' });
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          resolve({
            ok: false,
            detail: e.killed
              ? `timed out after ${this.config.fenceTimeoutSeconds} s`
              : `exit ${e.code ?? '?'}: ${String(stderr).trim().slice(0, 300)}`,
          });
        },
      );
    });
    if (!fence.ok) {
      this.log.error({ hostId, host: host.name, fence: fence.detail }, 'fencing failed: the host VMs are left alone');
      this.outcomes.push({ hostId, fenced: false, reason: `fencing failed (${fence.detail})`, vms: [] });
      return;
    }
    const action = this.config.action === 'delete' ? 'recover-delete' : 'recover-recreate';
    const done: number[] = [];
    for (const vm of await this.store.objects.list('vm', { hostId })) {
      if (vm.state !== VM_STATES.ACTIVE) continue;
      try {
        // The first call starts the cleanup on the (fenced) host; the second finishes it without the host.
        let v = await this.vms.action(SYSTEM, vm.id, action, {});
        if (v.body.pending_op === 'cleanup') v = await this.vms.action(SYSTEM, vm.id, action, {});
        done.push(vm.id);
      } catch (err) {
        this.log.error({ hostId, vmId: vm.id, err: String(err) }, `host failure hook: ${action} failed`);
      }
    }
    this.log.warn({ hostId, host: host.name, action, vms: done }, 'host fenced: its VMs were handled');
    this.outcomes.push({ hostId, fenced: true, vms: done });
  }
}
