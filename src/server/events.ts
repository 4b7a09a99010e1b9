import type { ObjectKind } from '../core/model.js';
import { stateNames } from '../core/state-names.js';
import type { ChangeEvent, Store } from '../store/index.js';

export interface SequencedEvent {
  seq: number;
  event: ChangeEvent;
  /** The JSON the stream sends, built once for every subscriber. */
  json: string;
}

type Subscriber = (e: SequencedEvent) => void;

const BACKLOG = 10_000;

/**
 * Fans committed object changes out to event-stream subscribers. Keeps a
 * bounded backlog so a client reconnecting with Last-Event-ID misses nothing
 * that is still in it.
 */
export class EventHub {
  private seq = 0;
  private readonly backlog: SequencedEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly unsubscribe: () => void;

  constructor(store: Store) {
    this.unsubscribe = store.objects.onChange((e) => this.publish(e));
  }

  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
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
