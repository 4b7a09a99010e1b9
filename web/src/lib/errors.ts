/** What the UI shows for any failure: the API's stable code and its message. */
export interface ErrorInfo {
  code: string;
  message: string;
  details: Record<string, unknown>;
  /** HTTP status; 0 when no answer came; absent for client-side errors. */
  status?: number;
}

/**
 * Normalises anything thrown: the client's ApiError and the template parser's
 * errors carry `code`, `message` and `details`; anything else becomes E_UI.
 */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; details?: unknown; status?: unknown };
    if (typeof e.code === 'string' && typeof e.message === 'string') {
      const info: ErrorInfo = {
        code: e.code,
        message: e.message,
        details: e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {},
      };
      if (typeof e.status === 'number') info.status = e.status;
      return info;
    }
  }
  return { code: 'E_UI', message: err instanceof Error ? err.message : String(err), details: {} };
}

/** Whether the error means the session is over (unknown, revoked or expired token). */
export function isSessionError(err: unknown): boolean {
  const { code } = toErrorInfo(err);
  return code === 'E_UNAUTHENTICATED' || code === 'E_TOKEN_EXPIRED';
}

/** 1-based line and column an API template error points at, when it names one. */
export function errorPosition(info: ErrorInfo): { line: number; column: number } | undefined {
  const line = Number(info.details.line);
  const column = Number(info.details.column);
  if (Number.isInteger(line) && line > 0) return { line, column: Number.isInteger(column) && column > 0 ? column : 1 };
  const m = /^line (\d+), column (\d+)/.exec(info.message);
  if (m) return { line: Number(m[1]), column: Number(m[2]) };
  return undefined;
}
