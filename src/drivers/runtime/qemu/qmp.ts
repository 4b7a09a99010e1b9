/**
 * A minimal QMP client (QEMU Machine Protocol: newline-delimited JSON on a
 * unix socket). One short connection per call — QEMU serves one QMP client
 * at a time, and a connection per call is what lets any agent process
 * (including one restarted after `kill -9`) talk to a running VM.
 *
 *   greeting {"QMP":…} → {"execute":"qmp_capabilities"} → {"return":{}}
 *   → {"execute":cmd,"arguments":…} → {"return":…} | {"error":{class,desc}}
 * Asynchronous {"event":…} lines in between are skipped.
 */
import { connect, type Socket } from 'node:net';
import { OneError } from '../../../core/errors.js';

export class QmpError extends Error {
  constructor(
    readonly errorClass: string,
    message: string,
  ) {
    super(message);
    this.name = 'QmpError';
  }
}

/** Runs `commands` in order on one connection and returns their results. */
export async function qmp(
  socketPath: string,
  commands: ReadonlyArray<{ execute: string; arguments?: Record<string, unknown> }>,
  signal: AbortSignal,
): Promise<unknown[]> {
  signal.throwIfAborted();
  const sock = await open(socketPath, signal);
  try {
    const lines = lineReader(sock, signal);
    const greeting = await lines.next();
    if (!greeting || typeof greeting !== 'object' || !('QMP' in greeting)) {
      throw new OneError('E_DRIVER_FAILED', `no QMP greeting on ${socketPath}`);
    }
    const results: unknown[] = [];
    for (const cmd of [{ execute: 'qmp_capabilities' }, ...commands]) {
      sock.write(`${JSON.stringify(cmd)}\n`);
      for (;;) {
        const msg = (await lines.next()) as Record<string, unknown> | undefined;
        if (msg === undefined) {
          // QEMU closes the socket as it exits after `quit`.
          if (cmd.execute === 'quit') {
            results.push({});
            break;
          }
          throw new OneError('E_DRIVER_FAILED', `QMP connection closed during ${cmd.execute}`);
        }
        if ('event' in msg) continue;
        if ('error' in msg) {
          const e = msg.error as { class?: string; desc?: string };
          throw new QmpError(e.class ?? 'GenericError', `QMP ${cmd.execute}: ${e.desc ?? 'error'}`);
        }
        if ('return' in msg) {
          if (cmd.execute !== 'qmp_capabilities') results.push(msg.return);
          break;
        }
      }
    }
    return results;
  } finally {
    sock.destroy();
  }
}

/** One QMP command's result. */
export async function qmpOne(
  socketPath: string,
  execute: string,
  signal: AbortSignal,
  args?: Record<string, unknown>,
): Promise<unknown> {
  const [result] = await qmp(socketPath, [args ? { execute, arguments: args } : { execute }], signal);
  return result;
}

/**
 * Runs `commands` on one connection, then reads on until an event for which
 * `match` is true arrives (true) or `timeoutMs` passes (false). One connection,
 * so an event the commands cause cannot slip by between command and wait
 * (device_del → DEVICE_DELETED). Events that arrive while the commands run count too.
 */
export async function qmpUntilEvent(
  socketPath: string,
  commands: ReadonlyArray<{ execute: string; arguments?: Record<string, unknown> }>,
  match: (event: { event: string; data?: Record<string, unknown> }) => boolean,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  signal.throwIfAborted();
  const timeout = AbortSignal.timeout(timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  const sock = await open(socketPath, signal);
  try {
    const lines = lineReader(sock, both);
    const greeting = await lines.next();
    if (!greeting || typeof greeting !== 'object' || !('QMP' in greeting)) {
      throw new OneError('E_DRIVER_FAILED', `no QMP greeting on ${socketPath}`);
    }
    let seen = false;
    const see = (msg: Record<string, unknown>): void => {
      if (typeof msg.event === 'string' && match(msg as { event: string; data?: Record<string, unknown> })) seen = true;
    };
    for (const cmd of [{ execute: 'qmp_capabilities' }, ...commands]) {
      sock.write(`${JSON.stringify(cmd)}\n`);
      for (;;) {
        const msg = (await lines.next()) as Record<string, unknown> | undefined;
        if (msg === undefined) throw new OneError('E_DRIVER_FAILED', `QMP connection closed during ${cmd.execute}`);
        if ('event' in msg) {
          see(msg);
          continue;
        }
        if ('error' in msg) {
          const e = msg.error as { class?: string; desc?: string };
          throw new QmpError(e.class ?? 'GenericError', `QMP ${cmd.execute}: ${e.desc ?? 'error'}`);
        }
        if ('return' in msg) break;
      }
    }
    while (!seen) {
      let msg: Record<string, unknown> | undefined;
      try {
        msg = (await lines.next()) as Record<string, unknown> | undefined;
      } catch (err) {
        if (timeout.aborted && !signal.aborted) return false;
        throw err;
      }
      if (msg === undefined) return false;
      see(msg);
    }
    return true;
  } finally {
    sock.destroy();
  }
}

function open(path: string, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const onAbort = (): void => {
      sock.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(sock);
    });
    sock.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new OneError('E_DRIVER_FAILED', `cannot reach QMP at ${path}: ${err.message}`, {}, { cause: err }));
    });
  });
}

/** Parsed JSON lines from the socket; next() resolves undefined at end of stream. */
function lineReader(sock: Socket, signal: AbortSignal): { next: () => Promise<unknown> } {
  let buf = '';
  const queue: unknown[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) {
        try {
          queue.push(JSON.parse(line));
        } catch {
          failure = new OneError('E_DRIVER_FAILED', `QMP sent malformed JSON: ${line.slice(0, 200)}`);
        }
      }
    }
    wake?.();
  });
  const end = (): void => {
    ended = true;
    wake?.();
  };
  sock.on('end', end);
  sock.on('close', end);
  sock.on('error', end);
  return {
    next: async () => {
      for (;;) {
        if (failure) throw failure;
        if (queue.length > 0) return queue.shift();
        if (ended) return undefined;
        signal.throwIfAborted();
        await new Promise<void>((resolve, reject) => {
          const onAbort = (): void => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
          wake = () => {
            signal.removeEventListener('abort', onAbort);
            wake = undefined;
            resolve();
          };
        });
      }
    },
  };
}
