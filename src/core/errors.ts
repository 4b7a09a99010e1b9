/**
 * The one error registry. Every error that crosses a process boundary (HTTP,
 * CLI exit, agent channel) carries one of these stable codes. Add new codes
 * here only; never invent a code string elsewhere.
 */
export const ERRORS = {
  // request shape and authentication
  E_BAD_REQUEST: { status: 400, exit: 2, summary: 'the request is malformed' },
  E_VALIDATION: { status: 400, exit: 2, summary: 'a field has an invalid value' },
  E_UNAUTHENTICATED: { status: 401, exit: 3, summary: 'authentication is required or failed' },
  E_TOKEN_EXPIRED: { status: 401, exit: 3, summary: 'the session token has expired' },
  E_FORBIDDEN: { status: 403, exit: 4, summary: 'not allowed by permissions' },
  E_NOT_FOUND: { status: 404, exit: 5, summary: 'no such object' },
  E_ROUTE_NOT_FOUND: { status: 404, exit: 5, summary: 'no such API route' },
  E_CONFLICT: { status: 409, exit: 6, summary: 'the object changed or conflicts with another' },
  E_REVISION_MISMATCH: { status: 409, exit: 6, summary: 'stale revision (If-Match)' },
  E_NAME_TAKEN: { status: 409, exit: 6, summary: 'the name is already used' },
  E_IN_USE: { status: 409, exit: 6, summary: 'the object is in use' },
  E_PRECONDITION_REQUIRED: { status: 428, exit: 2, summary: 'If-Match header required' },
  E_PAYLOAD_TOO_LARGE: { status: 413, exit: 2, summary: 'the request body is too large' },
  E_RATE_LIMITED: { status: 429, exit: 7, summary: 'too many requests' },
  // templates
  E_TEMPLATE_SYNTAX: { status: 400, exit: 2, summary: 'the template has a syntax error' },
  E_TEMPLATE_INVALID: { status: 400, exit: 2, summary: 'the template has an invalid attribute' },
  E_TEMPLATE_SUBSTITUTION: { status: 400, exit: 2, summary: 'a $VARIABLE could not be resolved' },
  E_USER_INPUT: { status: 400, exit: 2, summary: 'a user input answer is missing or invalid' },
  E_EXPRESSION_SYNTAX: { status: 400, exit: 2, summary: 'a requirement or rank expression is malformed' },
  // VM lifecycle
  E_VM_ACTION_STATE: { status: 409, exit: 6, summary: 'the action is not allowed in the current state' },
  E_VM_ACTION_UNKNOWN: { status: 400, exit: 2, summary: 'no such VM action' },
  E_HOST_REQUIRED: { status: 400, exit: 2, summary: 'the action needs a target host' },
  E_SCHED_ACTION: { status: 400, exit: 2, summary: 'a scheduled action (SCHED_ACTION) is invalid' },
  // hosts, agents and drivers
  E_DRIVER_UNSUPPORTED: { status: 409, exit: 6, summary: 'the runtime driver does not support this action' },
  E_DRIVER_FAILED: { status: 502, exit: 9, summary: 'a host-side driver operation failed' },
  E_DRIVER_TIMEOUT: { status: 504, exit: 9, summary: 'a host-side driver operation timed out' },
  E_HOST_UNREACHABLE: { status: 503, exit: 8, summary: 'the host is not connected' },
  E_AGENT_AUTH: { status: 401, exit: 3, summary: 'the agent credential was refused' },
  E_JOIN_TOKEN: { status: 401, exit: 3, summary: 'the join token is unknown, used or expired' },
  E_HOTPLUG_UNSUPPORTED: {
    status: 409,
    exit: 6,
    summary: 'the workload cannot hot-plug this NIC or disk (runtime, format or how it was started)',
  },
  E_HOTPLUG_SLOTS_FULL: { status: 409, exit: 6, summary: 'every hot-plug slot of the microVM is in use' },
  E_HOTPLUG_GUEST: {
    status: 504,
    exit: 9,
    summary: 'the guest did not release a hot-plugged device in time (no PCIe hot-plug in its kernel, or busy)',
  },
  // virtual networks
  E_LEASE_EXHAUSTED: { status: 409, exit: 6, summary: 'the virtual network has no free address left' },
  E_IP_OUT_OF_RANGE: { status: 400, exit: 2, summary: 'the address is outside every address range of the network' },
  E_LEASE_IN_USE: { status: 409, exit: 6, summary: 'the address is already leased' },
  E_MAC_IN_USE: { status: 409, exit: 6, summary: 'the MAC address is already leased' },
  E_AR_OVERLAP: { status: 409, exit: 6, summary: 'the address range overlaps another range of the network' },
  E_NETWORK_DRIVER: { status: 409, exit: 6, summary: 'no usable host offers the network driver' },
  E_VHOST_USER: {
    status: 409,
    exit: 6,
    summary: 'a vhost-user NIC (BRIDGE_TYPE=openvswitch_dpdk) cannot be given here or cannot have this',
  },
  // users and groups
  E_USER_PASSWORD: { status: 400, exit: 2, summary: 'the password does not meet requirements' },
  E_GROUP_NOT_EMPTY: { status: 409, exit: 6, summary: 'the group still has members' },
  E_PROTECTED: { status: 403, exit: 4, summary: 'built-in objects cannot be removed' },
  // images and datastores
  E_IMAGE_STATE: { status: 409, exit: 6, summary: 'the image is not in a state that allows this' },
  E_DATASTORE_FULL: { status: 507, exit: 6, summary: 'the datastore has not enough free space' },
  E_URL_SCHEME: { status: 400, exit: 2, summary: 'only http and https URLs can be imported' },
  E_URL_FORBIDDEN: { status: 403, exit: 4, summary: 'the URL resolves to a loopback, private or link-local address' },
  E_PATH_INVALID: { status: 400, exit: 2, summary: 'the path is not allowed (traversal or a front-end local file)' },
  E_CHECKSUM_MISMATCH: { status: 422, exit: 2, summary: 'the content does not match the expected sha256' },
  E_IMPORT_FAILED: { status: 502, exit: 9, summary: 'fetching the image content failed' },
  // server side
  E_UNAVAILABLE: { status: 503, exit: 8, summary: 'the service is not ready' },
  E_INTERNAL: { status: 500, exit: 1, summary: 'internal error' },
} as const satisfies Record<string, { status: number; exit: number; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** A position inside a template or expression source, 1-based. */
export interface SourcePosition {
  line: number;
  column: number;
}

export type ErrorDetails = Record<string, unknown>;

/**
 * The one error type of ONEedge. `code` is stable and documented; `message`
 * is for people; `details` is structured data (e.g. `{line, column}`).
 */
export class OneError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OneError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  /** Adds short lowercase context in front of the message, keeping code and cause. */
  wrap(context: string): OneError {
    return new OneError(this.code, `${context}: ${this.message}`, this.details, { cause: this });
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

export function isOneError(err: unknown): err is OneError {
  return err instanceof OneError;
}
