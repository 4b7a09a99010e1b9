import type { ObjectEvent, OneEdgeClient, VmMonitoringEvent } from '../api';
import { isSessionError, toErrorInfo } from '../lib/errors';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export type VmSampleNote = VmMonitoringEvent['vms'][number];

/** A batch of changes, or `resync: true` when events were missed and lists must be re-read. */
export interface EventBatch {
  events: readonly ObjectEvent[];
  resync: boolean;
  /** VMs whose usage samples were stored since the last batch (monitoring events). */
  monitoring: readonly VmSampleNote[];
}

export type BatchListener = (batch: EventBatch) => void;

/** How long events gather before listeners hear of them: bursts become one re-render. */
const BATCH_MS = 60;
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * The session's one event stream (`GET /api/v1/events`, every kind, with VM
 * monitoring events). Pages never poll: stores and detail views subscribe
 * here and re-read the objects the events name; monitoring graphs re-read
 * the samples newer than their newest when a monitoring event names their VM. Events are delivered in batches so that a burst (a
 * thousand VMs instantiated at once) costs one render, not a thousand.
 */
export class EventHub {
  private readonly listeners = new Set<BatchListener>();
  private readonly stateListeners = new Set<() => void>();
  private pending: ObjectEvent[] = [];
  private pendingSamples: VmSampleNote[] = [];
  private pendingResync = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private abort: AbortController | undefined;
  private lastSeq = '';
  private connections = 0;
  state: ConnectionState = 'connecting';
  lastError = '';

  constructor(
    private readonly client: OneEdgeClient,
    private readonly onSessionEnd: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.abort) return;
    this.abort = new AbortController();
    void this.run(this.abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  subscribe(listener: BatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** For useSyncExternalStore: the connection state badge in the masthead. */
  subscribeState = (listener: () => void): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };

  getState = (): ConnectionState => this.state;

  private setState(state: ConnectionState, error = ''): void {
    this.lastError = error;
    if (this.state === state) return;
    this.state = state;
    for (const l of this.stateListeners) l();
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.client.events(
          undefined,
          (e) => {
            if (e.type === 'resync') this.queue(undefined);
            else if (e.type === 'monitoring') this.queueSamples(e.event.vms);
            else {
              this.lastSeq = String(e.event.seq);
              this.queue(e.event);
            }
          },
          signal,
          {
            ...(this.lastSeq ? { lastEventId: this.lastSeq } : {}),
            monitoring: true,
            onConnect: () => {
              failures = 0;
              // After a break we cannot know what was missed unless the server replays it
              // (Last-Event-ID); a first connection after a failure without a seq re-lists.
              if (this.connections++ > 0 && !this.lastSeq) this.queue(undefined);
              this.setState('live');
            },
          },
        );
      } catch (err) {
        if (signal.aborted) return;
        if (isSessionError(err)) {
          this.onSessionEnd(err);
          return;
        }
        const info = toErrorInfo(err);
        this.setState('reconnecting', `${info.code}: ${info.message}`);
      }
      if (signal.aborted) return;
      this.setState('reconnecting', this.lastError);
      await sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)] ?? 30_000, signal);
    }
  }

  private queue(event: ObjectEvent | undefined): void {
    if (event) this.pending.push(event);
    else this.pendingResync = true;
    if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), BATCH_MS);
  }

  private queueSamples(vms: readonly VmSampleNote[]): void {
    for (const v of vms) this.pendingSamples.push(v);
    if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    this.timer = undefined;
    const batch: EventBatch = { events: this.pending, resync: this.pendingResync, monitoring: this.pendingSamples };
    this.pending = [];
    this.pendingSamples = [];
    this.pendingResync = false;
    for (const l of [...this.listeners]) l(batch);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
