import type { ObjectKind } from '../core/model.js';
import { errorFromResponse, isApiError } from './api-error.js';
import type { HttpTransport } from './http-transport.js';
import { type SseMessage, SseParser } from './sse-parser.js';
import type { ObjectEvent, StreamEvent, VmMonitoringEvent } from './types.js';

export interface EventStreamOptions {
  /**
   * After the first successful connection, reconnect with Last-Event-ID when
   * the stream breaks or the front-end goes away (default true). A failure to
   * connect the first time is always thrown, so callers learn of a wrong URL.
   */
  reconnect?: boolean;
  /** Resume after this event id (`seq`). */
  lastEventId?: string;
  /** Called each time the stream is (re)established. */
  onConnect?: () => void;
  /** Also deliver `monitoring` events (VM usage samples stored), for VMs the caller may see. */
  monitoring?: boolean;
}

const DEFAULT_RETRY_MS = 2000;
const MAX_RETRY_MS = 30_000;

/** Waits `ms`, or less if `signal` aborts; never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Maps one SSE message to what the caller sees; unknown event types are ignored. */
export function toStreamEvent(msg: SseMessage): StreamEvent | undefined {
  if (msg.event === 'change') return { type: 'change', event: JSON.parse(msg.data) as ObjectEvent };
  if (msg.event === 'resync') return { type: 'resync', seq: (JSON.parse(msg.data) as { seq: number }).seq };
  if (msg.event === 'monitoring') return { type: 'monitoring', event: JSON.parse(msg.data) as VmMonitoringEvent };
  return undefined;
}

type PumpEnd = 'ended' | 'broken';

async function pump(res: Response, parser: SseParser): Promise<PumpEnd> {
  if (!res.body) return 'ended';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    let chunk: { done: boolean; value?: Uint8Array | undefined };
    try {
      chunk = await reader.read();
    } catch {
      return 'broken';
    }
    if (chunk.done) return 'ended';
    // Errors thrown by the caller's callback propagate from here, ending the stream.
    parser.feed(decoder.decode(chunk.value, { stream: true }));
  }
}

/**
 * Reads `GET /api/v1/events` until `signal` aborts, calling `onEvent` for each
 * change (and for `resync`, when the server's backlog no longer reaches the
 * last event seen: re-list then). Resolves when aborted.
 */
export async function streamEvents(
  transport: HttpTransport,
  kinds: readonly ObjectKind[] | undefined,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
  options: EventStreamOptions = {},
): Promise<void> {
  const reconnect = options.reconnect ?? true;
  const url = transport.url('/events', {
    kinds: kinds && kinds.length > 0 ? kinds.join(',') : undefined,
    monitoring: options.monitoring ? true : undefined,
  });
  let lastId = options.lastEventId ?? '';
  let retryMs = DEFAULT_RETRY_MS;
  let connected = false;
  let failures = 0;
  const backoff = () => Math.min(MAX_RETRY_MS, retryMs * 2 ** Math.min(failures++, 4));

  while (!signal.aborted) {
    const headers = transport.headers({ accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) });
    let res: Response;
    try {
      res = await transport.send(url, { method: 'GET', headers, signal }, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (!connected || !reconnect || !(isApiError(err) && err.code === 'E_UNAVAILABLE')) throw err;
      await sleep(backoff(), signal);
      continue;
    }
    if (!res.ok) {
      const err = errorFromResponse(res.status, await res.text().catch(() => ''), url);
      if (!connected || !reconnect || res.status < 500) throw err;
      await sleep(backoff(), signal);
      continue;
    }
    connected = true;
    failures = 0;
    options.onConnect?.();
    const parser = new SseParser((msg) => {
      const e = toStreamEvent(msg);
      if (e) onEvent(e);
    });
    parser.lastEventId = lastId;
    await pump(res, parser);
    lastId = parser.lastEventId;
    retryMs = parser.retryMs ?? retryMs;
    if (signal.aborted || !reconnect) return;
    await sleep(backoff(), signal);
  }
}
