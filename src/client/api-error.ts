import { ERRORS, type ErrorCode, type ErrorDetails, isErrorCode } from '../core/errors.js';

/**
 * The one error the client throws: the API's `{error: {code, message, details}}`
 * with the HTTP status it came with. Network failures are `E_UNAVAILABLE` with
 * status 0 and the URL in the message, so callers (the CLI's exit codes) never
 * see a bare `TypeError: fetch failed`.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  /** HTTP status, or 0 when no response arrived. */
  readonly status: number;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, status = 0, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
    this.status = status;
  }

  /** The process exit code the CLI uses for this error (from the error registry). */
  get exitCode(): number {
    return ERRORS[this.code].exit;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

/** Best code for a status when the body is not the API's error shape (a proxy page, say). */
export function codeForStatus(status: number): ErrorCode {
  if (status === 502 || status === 503 || status === 504) return 'E_UNAVAILABLE';
  const exact = (Object.keys(ERRORS) as ErrorCode[]).find((c) => ERRORS[c].status === status);
  if (exact) return exact;
  return status >= 500 ? 'E_INTERNAL' : 'E_BAD_REQUEST';
}

/**
 * Turns an HTTP error response body into an ApiError. Accepts the API's error
 * shape; anything else keeps the status and a short excerpt of the body.
 */
export function errorFromResponse(status: number, bodyText: string, url: string): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const err = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (err && isErrorCode(err.code) && typeof err.message === 'string') {
    const details = err.details && typeof err.details === 'object' ? (err.details as ErrorDetails) : {};
    return new ApiError(err.code, err.message, details, status);
  }
  const excerpt = bodyText.trim().slice(0, 200);
  return new ApiError(codeForStatus(status), `HTTP ${status} from ${url}${excerpt ? `: ${excerpt}` : ''}`, {}, status);
}
