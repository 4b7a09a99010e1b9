import type { ObjectKind } from '../core/model.js';
import type { Owned } from '../core/permissions.js';
import { stateNames } from '../core/state-names.js';
import type { ChangeEvent, Store } from '../store/index.js';

export interface SequencedEvent {
  seq: number;
  event: ChangeEvent;
  /** The JSON the stream sends, built once for every subscriber. */
  json: string;
}

type Subscriber = (e: SequencedEvent) => void;

/** One VM in a monitoring event: new usage samples were stored, the newest taken at `ts`. */
export interface VmMonitoringItem {
  id: number;
  host_id: number;
  ts: number;
}

/**
 * VMs whose usage samples one monitor tick stored. `owners` (same order as
 * `vms`) is what a permission check needs; `json` is the event for a viewer
 * who may see them all.
 */
export interface VmMonitoringBatch {
  vms: VmMonitoringItem[];
  owners: Owned[];
  json: string;
}

type MonitoringSubscriber = (b: VmMonitoringBatch) => void;

const BACKLOG = 10_000;
/** VM ids per owner lookup query. */
const LOOKUP_CHUNK = 1000;

/**
 * Fans committed object changes out to event-stream subscribers. Keeps a
 * bounded backlog so a client reconnecting with Last-Event-ID misses nothing
 * that is still in it.
 */
export class EventHub {
  private seq = 0;
  private readonly backlog: SequencedEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly monitoringSubscribers = new Set<MonitoringSubscriber>();
  /** VM owner, group and permissions, as the last change event or lookup said (for monitoring events). */
  private readonly vmOwners = new Map<number, Owned>();
  private readonly unsubscribe: () => void;

  constructor(private readonly store: Store) {
    this.unsubscribe = store.objects.onChange((e) => {
      if (e.kind === 'vm') {
        if (e.op === 'delete') this.vmOwners.delete(e.id);
        else this.vmOwners.set(e.id, { uid: e.uid, gid: e.gid, perms: e.perms });
      }
      this.publish(e);
    });
  }

  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Monitoring events (not sequenced, not kept in the backlog: a missed one is superseded by the next). */
  subscribeMonitoring(fn: MonitoringSubscriber): () => void {
    this.monitoringSubscribers.add(fn);
    return () => this.monitoringSubscribers.delete(fn);
  }

  /**
   * The monitor stored usage samples of these VMs: tells monitoring
   * subscribers (each route filters by its viewer's rights). Nothing is looked
   * up while nobody listens.
   */
  async publishVmMonitoring(samples: readonly { vmId: number; hostId: number; ts: number }[]): Promise<void> {
    if (this.monitoringSubscribers.size === 0 || samples.length === 0) return;
    const missing = samples.filter((s) => !this.vmOwners.has(s.vmId)).map((s) => s.vmId);
    for (let i = 0; i < missing.length; i += LOOKUP_CHUNK) {
      const rows = await this.store.objects.listRows('vm', {
        ids: missing.slice(i, i + LOOKUP_CHUNK),
        includeDone: true,
      });
      for (const r of rows) this.vmOwners.set(r.id, { uid: r.uid, gid: r.gid, perms: r.perms });
    }
    const vms: VmMonitoringItem[] = [];
    const owners: Owned[] = [];
    for (const s of samples) {
      const owner = this.vmOwners.get(s.vmId);
      if (!owner) continue; // deleted meanwhile
      vms.push({ id: s.vmId, host_id: s.hostId, ts: s.ts });
      owners.push(owner);
    }
    if (vms.length === 0) return;
    const batch: VmMonitoringBatch = { vms, owners, json: JSON.stringify({ kind: 'vm', vms }) };
    for (const s of this.monitoringSubscribers) s(batch);
  }

  /** Events after `seq` still in the backlog; `complete` is false when some were already dropped. */
  since(seq: number): { events: SequencedEvent[]; complete: boolean } {
    const first = this.backlog[0]?.seq ?? this.seq + 1;
    return { events: this.backlog.filter((e) => e.seq > seq), complete: seq + 1 >= first || seq >= this.seq };
  }

  get lastSeq(): number {
    return this.seq;
  }

  close(): void {
    this.unsubscribe();
    this.subscribers.clear();
    this.monitoringSubscribers.clear();
  }

  private publish(event: ChangeEvent): void {
    const seq = ++this.seq;
    const names = stateNames(event.kind as ObjectKind, event.state, event.lcmState);
    const json = JSON.stringify({
      seq,
      kind: event.kind,
      op: event.op,
      id: event.id,
      revision: event.revision,
      ...(names ? { state: names.state, ...(names.lcmState ? { lcm_state: names.lcmState } : {}) } : {}),
    });
    const item = { seq, event, json };
    this.backlog.push(item);
    if (this.backlog.length > BACKLOG) this.backlog.splice(0, this.backlog.length - BACKLOG);
    for (const s of this.subscribers) s(item);
  }
}
