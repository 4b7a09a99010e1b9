import type { FastifyReply } from 'fastify';
import { isOneError, OneError } from '../../core/errors.js';
import type { AppContext } from '../app.js';

/** How long the host may take to start the stream (its first frame). */
const START_TIMEOUT_MS = 10_000;
/** A blank line every so often keeps proxies and idle timers from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/**
 * `GET /vms/:id/log?follow=true`: the VM's console log as it grows, relayed
 * from its host's agent (`kubectl logs -f`). The answer is NDJSON, one
 * object per line: `{"data": "…", "truncated"?: true}` for output (the first
 * one carries the last `tail` bytes), `{"end": "gone"}` when the workload's
 * log went away, or `{"end": "error", "error": {code, message}}`; blank lines
 * are keep-alives. Errors before the first byte (host not connected, no
 * workload there) are ordinary error answers.
 *
 * Backpressure: the agent may have at most LOG_WINDOW_CHARS characters
 * unacknowledged; they are acknowledged as the HTTP socket takes them, so a
 * viewer that stops reading stops the agent reading the file. When the
 * viewer disconnects the agent is told to stop following at once.
 */
export async function followLog(
  ctx: AppContext,
  reply: FastifyReply,
  vmId: number,
  hostId: number,
  tail: number,
): Promise<void> {
  const logs = ctx.agents?.logs;
  if (!logs) throw new OneError('E_UNAVAILABLE', 'following logs needs the agent listener on this front-end');
  if (!ctx.agents?.gateway.isConnected(hostId)) {
    throw new OneError('E_HOST_UNREACHABLE', `host ${hostId} is not connected`, { host_id: hostId });
  }
  const raw = reply.raw;
  let headersSent = false;
  let ended = false;
  /** Characters written but not yet taken by the socket (credited on drain). */
  let unacked = 0;
  let keepalive: NodeJS.Timeout | undefined;
  let settle: ((err?: OneError) => void) | undefined;
  const started = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  const write = (obj: unknown, chars: number) => {
    if (raw.destroyed) return;
    const flushed = raw.write(`${JSON.stringify(obj)}\n`);
    if (chars === 0) return;
    if (flushed) stream.credit(chars);
    else {
      unacked += chars;
      if (unacked === chars) {
        raw.once('drain', () => {
          const n = unacked;
          unacked = 0;
          stream.credit(n);
        });
      }
    }
  };
  const finish = () => {
    ended = true;
    if (keepalive) clearInterval(keepalive);
    if (!raw.destroyed) raw.end();
  };
  const stream = logs.open(hostId, vmId, tail, {
    data: (text, truncated) => {
      if (ended) return;
      if (!headersSent) {
        settle?.();
        begin();
      }
      write(truncated ? { data: text, truncated } : { data: text }, text.length);
    },
    end: (reason, error) => {
      if (!headersSent) {
        ended = true;
        settle?.(error ?? new OneError('E_NOT_FOUND', `VM ${vmId} has no log on host ${hostId} (${reason})`));
        return;
      }
      if (ended) return;
      raw.write(
        `${JSON.stringify(error ? { end: reason, error: { code: error.code, message: error.message } } : { end: reason })}\n`,
      );
      finish();
    },
  });
  const begin = () => {
    headersSent = true;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    keepalive = setInterval(() => raw.write('\n'), KEEPALIVE_MS);
    const stop = () => {
      if (!ended) stream.close();
      finish();
    };
    raw.on('close', stop);
    raw.on('error', stop);
  };
  const timer = setTimeout(
    () =>
      settle?.(
        new OneError(
          'E_HOST_UNREACHABLE',
          `host ${hostId} did not start the log stream within ${START_TIMEOUT_MS / 1000} s`,
          {
            host_id: hostId,
          },
        ),
      ),
    START_TIMEOUT_MS,
  );
  // The viewer may leave before the host answered.
  const early = () => {
    if (!headersSent) {
      ended = true;
      stream.close();
    }
  };
  raw.once('close', early);
  try {
    await started;
  } catch (err) {
    ended = true;
    stream.close();
    throw isOneError(err) ? err : new OneError('E_INTERNAL', String(err));
  } finally {
    clearTimeout(timer);
  }
}
