import type { ApiObject, ObjectEvent, ObjectKind, OneEdgeClient } from '../api';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import type { EventBatch, EventHub } from './event-hub';

export interface PoolSnapshot<K extends ObjectKind> {
  /** Sorted by id. A new array whenever anything changed; unchanged objects keep their identity. */
  items: readonly ApiObject<K>[];
  loading: boolean;
  error: ErrorInfo | undefined;
}

/** Above this many changed objects in one batch, one re-list is cheaper than one GET each. */
const RELIST_THRESHOLD = 150;
const FETCH_CONCURRENCY = 12;
/** How long a pool nobody watches keeps following events (moving between pages keeps it warm). */
const SLEEP_AFTER_MS = 30_000;

/**
 * A live copy of one pool (every visible object of a kind), kept current by
 * the event stream: each change event re-reads that one object, deletes (and
 * VMs reaching DONE, unless `includeDone`) drop it, a `resync` or a very
 * large burst re-lists. Updates replace objects in place (no re-sort of
 * 20,000 rows for one change). Thirty seconds after its last watcher leaves
 * the store sleeps, and re-lists when watched again.
 */
export class PoolStore<K extends ObjectKind> {
  private items: ApiObject<K>[] = [];
  /** id → index in `items`. */
  private index = new Map<number, number>();
  private snapshot: PoolSnapshot<K> = { items: [], loading: true, error: undefined };
  private readonly listeners = new Set<() => void>();
  private unsubscribeHub: (() => void) | undefined;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private loadSeq = 0;
  /** Ids changed while a list was in flight: re-read once it lands. */
  private dirty = new Set<number>();

  constructor(
    private readonly client: OneEdgeClient,
    private readonly hub: EventHub,
    readonly kind: K,
    private readonly includeDone = false,
  ) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.sleepTimer !== undefined) {
      clearTimeout(this.sleepTimer);
      this.sleepTimer = undefined;
    }
    if (!this.unsubscribeHub) this.wake();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.sleepTimer === undefined) {
        this.sleepTimer = setTimeout(() => this.sleep(), SLEEP_AFTER_MS);
      }
    };
  };

  getSnapshot = (): PoolSnapshot<K> => this.snapshot;

  /** Re-lists now (after a create the caller made, or a "refresh" click). */
  reload(): Promise<void> {
    return this.load();
  }

  private wake(): void {
    this.unsubscribeHub = this.hub.subscribe((b) => this.onBatch(b));
    void this.load();
  }

  private sleep(): void {
    this.sleepTimer = undefined;
    if (this.listeners.size > 0) return;
    this.unsubscribeHub?.();
    this.unsubscribeHub = undefined;
    this.loadSeq++;
  }

  private publish(patch: Partial<PoolSnapshot<K>>, itemsChanged: boolean): void {
    this.snapshot = { ...this.snapshot, ...patch, ...(itemsChanged ? { items: this.items } : {}) };
    for (const l of [...this.listeners]) l();
  }

  private setAll(items: ApiObject<K>[]): void {
    this.items = items;
    this.index = new Map(items.map((o, i) => [o.id, i]));
  }

  /**
   * Applies re-read objects and removals as one new array: replacements keep
   * their position; new objects are appended (ids only grow, so the order
   * holds) and the array is re-sorted only when one is not.
   */
  private apply(changed: readonly ApiObject<K>[], removed: ReadonlySet<number>): boolean {
    let next = this.items.slice();
    let grew = false;
    let sorted = true;
    let touched = false;
    for (const o of changed) {
      const at = this.index.get(o.id);
      if (at !== undefined) {
        if (next[at]!.revision > o.revision) continue;
        next[at] = o;
      } else {
        const last = next[next.length - 1];
        if (last && last.id > o.id) sorted = false;
        next.push(o);
        grew = true;
      }
      touched = true;
    }
    const drop = [...removed].filter((id) => this.index.has(id));
    if (drop.length > 0) {
      const gone = new Set(drop);
      next = next.filter((o) => !gone.has(o.id));
      touched = true;
    }
    if (!touched) return false;
    if (!sorted) next.sort((a, b) => a.id - b.id);
    if (grew || drop.length > 0 || !sorted) this.setAll(next);
    else this.items = next;
    return true;
  }

  private load(): Promise<void> {
    const seq = ++this.loadSeq;
    this.dirty.clear();
    this.publish({ loading: true }, false);
    return (async () => {
      try {
        const query = this.kind === 'vm' && this.includeDone ? { include_done: true } : {};
        const { items } = await this.client.list(this.kind, { all: true, limit: 0, ...query });
        if (seq !== this.loadSeq) return;
        this.setAll(items.slice().sort((a, b) => a.id - b.id));
        this.publish({ loading: false, error: undefined }, true);
        if (this.dirty.size > 0) {
          const ids = [...this.dirty];
          this.dirty.clear();
          await this.refetch(ids);
        }
      } catch (err) {
        if (seq !== this.loadSeq) return;
        this.publish({ loading: false, error: toErrorInfo(err) }, false);
      }
    })();
  }

  private isGone(e: ObjectEvent): boolean {
    return e.op === 'delete' || (this.kind === 'vm' && !this.includeDone && e.state === 'DONE');
  }

  private onBatch(batch: EventBatch): void {
    if (batch.resync) {
      void this.load();
      return;
    }
    const latest = new Map<number, ObjectEvent>();
    for (const e of batch.events) if (e.kind === this.kind) latest.set(e.id, e);
    if (latest.size === 0) return;
    const removed = new Set<number>();
    const toFetch: number[] = [];
    for (const e of latest.values()) {
      if (this.isGone(e)) {
        removed.add(e.id);
        this.dirty.delete(e.id);
      } else {
        const at = this.index.get(e.id);
        if (at === undefined || this.items[at]!.revision < e.revision) toFetch.push(e.id);
      }
    }
    if (removed.size > 0 && this.apply([], removed)) this.publish({}, true);
    if (toFetch.length === 0) return;
    if (this.snapshot.loading) {
      for (const id of toFetch) this.dirty.add(id);
    } else if (toFetch.length > RELIST_THRESHOLD) {
      void this.load();
    } else {
      void this.refetch(toFetch);
    }
  }

  /** Re-reads the named objects and applies them in one update. */
  private async refetch(ids: readonly number[]): Promise<void> {
    const seq = this.loadSeq;
    const got: ApiObject<K>[] = [];
    const gone = new Set<number>();
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          const o = await this.client.get(this.kind, id);
          if (this.kind === 'vm' && !this.includeDone && o.state === 'DONE') gone.add(id);
          else got.push(o);
        } catch (err) {
          // Not found: deleted, or no longer visible to us (chown/chmod).
          if (toErrorInfo(err).code === 'E_NOT_FOUND') gone.add(id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, ids.length) }, worker));
    if (seq !== this.loadSeq) return;
    if (this.apply(got, gone)) this.publish({}, true);
  }
}
