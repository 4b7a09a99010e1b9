/**
 * Follows workloads' console logs for the front-end (`log-follow`), like
 * `tail -f`: sends the last `tail` bytes, then what the runtime appends, as
 * `log-data` frames on the agent channel. Growth is noticed through inotify
 * on the VM's directory (no polling), which also sees the log replaced or the
 * directory removed when the workload goes away.
 *
 * Flow control is credit-based: a stream never has more than the credit the
 * front-end granted (`window`, then `log-credit` as its viewer reads) in
 * flight, so a slow viewer leaves the unread bytes in the file, not in
 * memory. A stream stops on `log-unfollow`, when the channel drops, or when
 * the log goes away; each stop releases its inotify watch.
 */
import { existsSync, type FSWatcher, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';
import type { AgentMessage, FrontEndMessage } from '../core/agent-protocol.js';

/** Most bytes read (and characters sent) per frame. */
const CHUNK_BYTES = 64 * 1024;
/** Most streams followed at once by this agent (each costs an inotify watch). */
export const MAX_LOG_FOLLOWS = 64;

interface Follow {
  streamId: string;
  vmId: number;
  path: string;
  offset: number;
  credit: number;
  decoder: StringDecoder;
  watcher: FSWatcher | null;
  /** Bytes of existing output to send first. */
  tail: number;
  started: boolean;
  reading: boolean;
  again: boolean;
  closed: boolean;
}

type Send = (msg: Extract<AgentMessage, { t: 'log-data' | 'log-end' }>) => boolean;

export class LogFollowers {
  private readonly follows = new Map<string, Follow>();

  constructor(
    /** Where a VM's console log is on this host. */
    private readonly logPath: (vmId: number) => string,
    /** Sends a frame now; false when the channel is down (the stream then stops). */
    private readonly send: Send,
    private readonly log: Logger,
  ) {}

  /** Streams being followed now. */
  get active(): number {
    return this.follows.size;
  }

  start(msg: Extract<FrontEndMessage, { t: 'log-follow' }>): void {
    if (this.follows.has(msg.streamId)) return;
    const end = (reason: string, error?: string) =>
      this.send({ t: 'log-end', streamId: msg.streamId, reason, ...(error ? { error } : {}) });
    if (this.follows.size >= MAX_LOG_FOLLOWS) {
      end('refused', `this host already follows ${MAX_LOG_FOLLOWS} logs; close another viewer first`);
      return;
    }
    const path = this.logPath(msg.vmId);
    const dir = dirname(path);
    if (!existsSync(dir)) {
      end('gone', `VM ${msg.vmId} has no workload on this host`);
      return;
    }
    const f: Follow = {
      streamId: msg.streamId,
      vmId: msg.vmId,
      path,
      offset: -1,
      credit: msg.window,
      decoder: new StringDecoder('utf8'),
      watcher: null,
      tail: msg.tail,
      started: false,
      reading: false,
      again: false,
      closed: false,
    };
    try {
      const name = basename(path);
      f.watcher = watch(dir, { persistent: false }, (_event, file) => {
        if (file === null || file === name || file === basename(dir)) this.pump(f);
      });
      f.watcher.on('error', (err) => this.finish(f, 'error', `watching the log failed: ${err.message}`));
    } catch (err) {
      end('error', `cannot watch the log of VM ${msg.vmId}: ${(err as Error).message}`);
      return;
    }
    this.follows.set(f.streamId, f);
    this.log.info({ vmId: f.vmId, streamId: f.streamId, active: this.follows.size }, 'log follow started');
    this.pump(f);
  }

  credit(msg: Extract<FrontEndMessage, { t: 'log-credit' }>): void {
    const f = this.follows.get(msg.streamId);
    if (!f) return;
    f.credit += msg.chars;
    this.pump(f);
  }

  stop(streamId: string, why = 'the viewer left'): void {
    const f = this.follows.get(streamId);
    if (f) this.release(f, why);
  }

  /** The channel dropped: every stream's viewer is gone with it. */
  stopAll(why: string): void {
    for (const f of [...this.follows.values()]) this.release(f, why);
  }

  private release(f: Follow, why: string): void {
    if (f.closed) return;
    f.closed = true;
    f.watcher?.close();
    f.watcher = null;
    this.follows.delete(f.streamId);
    this.log.info({ vmId: f.vmId, streamId: f.streamId, why, active: this.follows.size }, 'log follow stopped');
  }

  private finish(f: Follow, reason: string, error?: string): void {
    if (f.closed) return;
    this.send({ t: 'log-end', streamId: f.streamId, reason, ...(error ? { error } : {}) });
    this.release(f, error ?? reason);
  }

  /** Sends what the log has beyond the offset, within the credit; coalesces events that arrive meanwhile. */
  private pump(f: Follow): void {
    if (f.closed) return;
    if (f.reading) {
      f.again = true;
      return;
    }
    f.reading = true;
    void this.drain(f)
      .catch((err: unknown) => this.finish(f, 'error', `reading the log failed: ${String(err)}`))
      .finally(() => {
        f.reading = false;
        if (f.again && !f.closed) {
          f.again = false;
          this.pump(f);
        }
      });
  }

  private async drain(f: Follow): Promise<void> {
    f.again = false;
    const size = await stat(f.path).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0) {
      // No log (yet): a removed directory ends the stream; otherwise wait for the file.
      if (!existsSync(dirname(f.path))) return this.finish(f, 'gone');
      f.offset = Math.max(f.offset, 0);
      this.frame(f, '', false);
      return;
    }
    let truncated = false;
    if (f.offset < 0) {
      f.offset = Math.max(0, size - f.tail);
      truncated = f.offset > 0;
    } else if (size < f.offset) {
      // Truncated or replaced: start again from its beginning.
      f.offset = 0;
      f.decoder = new StringDecoder('utf8');
    }
    if (size > f.offset && f.credit > 0) {
      const fh = await open(f.path, 'r');
      try {
        while (!f.closed && f.credit > 0 && f.offset < size) {
          const want = Math.min(CHUNK_BYTES, f.credit, size - f.offset);
          const buf = Buffer.alloc(want);
          const { bytesRead } = await fh.read(buf, 0, want, f.offset);
          if (bytesRead === 0) break;
          f.offset += bytesRead;
          if (!this.frame(f, f.decoder.write(buf.subarray(0, bytesRead)), truncated)) return;
        }
      } finally {
        await fh.close();
      }
    }
    this.frame(f, '', truncated);
  }

  /**
   * Sends one log-data frame; empty ones only as a stream's first frame (so
   * the front-end knows it started). False when the channel is down.
   */
  private frame(f: Follow, data: string, truncated: boolean): boolean {
    if (f.closed) return false;
    if (data === '' && f.started) return true;
    const first = !f.started;
    f.started = true;
    f.credit -= data.length;
    const sent = this.send({
      t: 'log-data',
      streamId: f.streamId,
      data,
      ...(first && truncated ? { truncated: true } : {}),
    });
    if (!sent) this.release(f, 'the channel is down');
    return sent;
  }
}
