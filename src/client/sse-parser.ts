/** One dispatched server-sent event. */
export interface SseMessage {
  /** `event:` field; "message" when absent. */
  event: string;
  data: string;
  /** The last `id:` seen so far on the stream (what Last-Event-ID must carry on reconnect). */
  lastEventId: string;
}

/**
 * Incremental parser of the `text/event-stream` format (WHATWG HTML §9.2):
 * feed it decoded text in any chunking, it calls `onMessage` for each complete
 * event. Handles CRLF/CR/LF line ends, comments, multi-line `data:` and
 * `retry:`. Pure, so it is unit-tested without a server.
 */
export class SseParser {
  lastEventId = '';
  /** Reconnection delay the server asked for, in ms. */
  retryMs: number | undefined;
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private pendingCr = false;

  constructor(private readonly onMessage: (msg: SseMessage) => void) {}

  feed(chunk: string): void {
    let text = chunk;
    // A CR at the end of the previous chunk may be the first half of CRLF.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    let start = 0;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer.slice(start));
      if (!m) break;
      const end = start + m.index;
      if (m[0] === '\r' && end + 1 === this.buffer.length) this.pendingCr = true;
      this.line(this.buffer.slice(start, end));
      start = end + m[0].length;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
  }

  private dispatch(): void {
    const event = this.event || 'message';
    const data = this.data;
    this.event = '';
    this.data = [];
    if (data.length === 0) return;
    this.onMessage({ event, data: data.join('\n'), lastEventId: this.lastEventId });
  }
}
