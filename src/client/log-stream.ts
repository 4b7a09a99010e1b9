import { isErrorCode } from '../core/errors.js';
import { ApiError, errorFromResponse } from './api-error.js';
import type { HttpTransport } from './http-transport.js';
import type { LogChunk, LogFollowEnd } from './types.js';

export interface FollowLogOptions {
  /** Bytes of existing output to start with (default 64 KiB on the server). */
  tail?: number;
}

/**
 * Reads `GET /vms/:id/log?follow=true` (NDJSON) until the server ends it or
 * `signal` aborts: each `{"data"}` line goes to `onChunk`. Resolves with how
 * it ended (`gone`: the workload's log went away; `aborted`: the caller
 * stopped); an `{"end": "error"}` line rejects with its ApiError.
 */
export async function followLog(
  transport: HttpTransport,
  id: number,
  onChunk: (chunk: LogChunk) => void,
  signal: AbortSignal,
  options: FollowLogOptions = {},
): Promise<LogFollowEnd> {
  const url = transport.url(`/vms/${id}/log`, {
    follow: true,
    ...(options.tail !== undefined ? { tail: Math.max(0, Math.floor(options.tail)) } : {}),
  });
  let res: Response;
  try {
    res = await transport.send(
      url,
      { method: 'GET', headers: transport.headers({ accept: 'application/x-ndjson' }), signal },
      signal,
    );
  } catch (err) {
    if (signal.aborted) return { end: 'aborted' };
    throw err;
  }
  if (!res.ok) throw errorFromResponse(res.status, await res.text().catch(() => ''), url);
  if (!res.body) return { end: 'gone' };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    let chunk: { done: boolean; value?: Uint8Array | undefined };
    try {
      chunk = await reader.read();
    } catch (err) {
      if (signal.aborted) return { end: 'aborted' };
      throw new ApiError('E_UNAVAILABLE', `the log stream from ${url} broke: ${String(err)}`, { url }, 0, {
        cause: err,
      });
    }
    if (chunk.done) {
      if (signal.aborted) return { end: 'aborted' };
      throw new ApiError('E_UNAVAILABLE', `the log stream from ${url} ended without an end line`, { url }, 0);
    }
    buffer += decoder.decode(chunk.value, { stream: true });
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      if (line === '') continue; // keep-alive
      const end = handleLine(line, url, onChunk);
      if (end) {
        await reader.cancel().catch(() => undefined);
        return end;
      }
    }
  }
}

function handleLine(line: string, url: string, onChunk: (chunk: LogChunk) => void): LogFollowEnd | undefined {
  let obj: { data?: unknown; truncated?: unknown; end?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    obj = JSON.parse(line);
  } catch (err) {
    throw new ApiError('E_INTERNAL', `invalid line in the log stream from ${url}`, { url }, 200, { cause: err });
  }
  if (typeof obj.data === 'string') {
    onChunk({ data: obj.data, truncated: obj.truncated === true });
    return undefined;
  }
  if (typeof obj.end !== 'string') return undefined;
  if (obj.error) {
    const code = isErrorCode(obj.error.code) ? obj.error.code : 'E_INTERNAL';
    throw new ApiError(code, String(obj.error.message ?? obj.end), { url }, 200);
  }
  return { end: obj.end };
}
