import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentMessage, FrontEndMessage } from '../../core/agent-protocol.js';
import { OneError } from '../../core/errors.js';
import type { LogFrameSink } from './agent-gateway.js';

/** What a follower of a VM's log hears. */
export interface LogSink {
  /** New output (the first call carries the tail; `truncated`: older output was cut). */
  data(text: string, truncated: boolean): void;
  /** The stream is over: the log went away (`gone`), or an error (host disconnected, refused). */
  end(reason: string, error?: OneError): void;
}

export interface LogStream {
  /** The viewer consumed `chars` characters: the agent may send that many more. */
  credit(chars: number): void;
  /** The viewer left: the agent stops following (releases its watch). */
  close(): void;
}

interface Entry {
  hostId: number;
  vmId: number;
  sink: LogSink;
}

/** Unacknowledged characters a stream may have in flight (agent → front-end → viewer). */
export const LOG_WINDOW_CHARS = 256 * 1024;

/**
 * The front-end's side of log following: each viewer of `GET /vms/:id/log?follow`
 * gets a stream id; the agent of the VM's host sends `log-data` frames for it
 * on the host's channel, bounded by the credit this side grants as the viewer
 * reads (so a slow viewer slows the agent down instead of filling memory).
 * A host that disconnects ends its streams with E_HOST_UNREACHABLE.
 */
export class LogStreams implements LogFrameSink {
  private readonly streams = new Map<string, Entry>();

  constructor(
    private readonly send: (hostId: number, msg: FrontEndMessage) => boolean,
    private readonly log: Logger,
  ) {}

  /** Streams open now. */
  get active(): number {
    return this.streams.size;
  }

  open(hostId: number, vmId: number, tail: number, sink: LogSink, window = LOG_WINDOW_CHARS): LogStream {
    const streamId = `lf-${randomBytes(9).toString('base64url')}`;
    const entry: Entry = { hostId, vmId, sink };
    this.streams.set(streamId, entry);
    if (!this.send(hostId, { t: 'log-follow', streamId, vmId, tail, window })) {
      this.streams.delete(streamId);
      queueMicrotask(() => sink.end('error', new OneError('E_HOST_UNREACHABLE', `host ${hostId} is not connected`)));
    } else {
      this.log.debug({ hostId, vmId, streamId, active: this.streams.size }, 'log stream opened');
    }
    return {
      credit: (chars) => {
        if (chars <= 0 || !this.streams.has(streamId)) return;
        this.send(hostId, { t: 'log-credit', streamId, chars });
      },
      close: () => {
        if (!this.streams.delete(streamId)) return;
        this.send(hostId, { t: 'log-unfollow', streamId });
        this.log.debug({ hostId, vmId, streamId, active: this.streams.size }, 'log stream closed by its viewer');
      },
    };
  }

  // --- LogFrameSink (the gateway) ---------------------------------------------------------------

  frame(hostId: number, msg: Extract<AgentMessage, { t: 'log-data' | 'log-end' }>): void {
    const entry = this.streams.get(msg.streamId);
    // Frames of a stream this host does not own are ignored (a host cannot write into another's stream).
    if (!entry || entry.hostId !== hostId) return;
    if (msg.t === 'log-data') {
      entry.sink.data(msg.data, msg.truncated === true);
      return;
    }
    this.streams.delete(msg.streamId);
    const error = msg.error
      ? new OneError(msg.reason === 'gone' ? 'E_NOT_FOUND' : 'E_DRIVER_FAILED', msg.error, {
          host_id: hostId,
          vm_id: entry.vmId,
        })
      : undefined;
    entry.sink.end(msg.reason, error);
  }

  hostGone(hostId: number): void {
    for (const [id, entry] of this.streams) {
      if (entry.hostId !== hostId) continue;
      this.streams.delete(id);
      entry.sink.end(
        'error',
        new OneError('E_HOST_UNREACHABLE', `host ${hostId} disconnected while its log was followed`, {
          host_id: hostId,
        }),
      );
    }
  }
}
