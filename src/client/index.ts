export { ApiError, codeForStatus, errorFromResponse, isApiError } from './api-error.js';
export * from './core-exports.js';
export { type EventStreamOptions, streamEvents, toStreamEvent } from './event-stream.js';
export { type FetchLike, normalizeBaseUrl, type TransportOptions } from './http-transport.js';
export { type FollowLogOptions, followLog } from './log-stream.js';
export { isObjectKind, OneEdgeClient, PLURALS, type VnetAddress, type VnetLease } from './one-edge-client.js';
export { type SseMessage, SseParser } from './sse-parser.js';
export type * from './types.js';
