import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  type FrontEndMessage,
  type HostFacts,
  parseAgentMessage,
  type WorkloadReport,
} from '../../core/agent-protocol.js';
import { isOneError, OneError } from '../../core/errors.js';
import type { Store } from '../../store/index.js';
import type { Pki } from '../pki.js';
import type { HostCredentials } from './host-credentials.js';

/** What the gateway hands to the lifecycle controller. */
export interface AgentEvents {
  /** A session opened and said hello. */
  connected(hostId: number, facts: HostFacts, workloads: WorkloadReport[]): Promise<void>;
  disconnected(hostId: number): void;
  /**
   * A result or event. Must apply it at most once (seq) and say whether it was
   * new ('applied'), a replay ('replay'), or refused ('refused').
   */
  message(
    hostId: number,
    msg: Extract<AgentMessage, { t: 'result' | 'event' }>,
  ): Promise<'applied' | 'replay' | 'refused'>;
}

/** Where monitoring frames go (the monitor controller). */
export interface MonitorSink {
  /** A host's agent said hello: it is reporting. */
  seen(hostId: number): void;
  /** One `monitor` frame's payload from an authenticated host session. */
  ingest(hostId: number, z: string): void;
}

/** Where log-follow frames go (the log streams of `GET /vms/:id/log?follow`). */
export interface LogFrameSink {
  frame(hostId: number, msg: Extract<AgentMessage, { t: 'log-data' | 'log-end' }>): void;
  /** The host's session closed: its streams end. */
  hostGone(hostId: number): void;
}

export interface GatewayOptions {
  heartbeatMs: number;
  /**
   * Most agent sessions between upgrade and welcome at once; more dials get
   * 503 with Retry-After and come back later (a reconnecting fleet is paced
   * instead of timing out and retrying in lockstep). Default 256.
   */
  maxConnecting?: number;
  /** Image files agents may download: id → path, size and sha256 (only images some VM of theirs uses). */
  imageFile(hostId: number, imageId: number): Promise<{ path: string; sha256: string } | undefined>;
  /** Copy-back of a persistent image from a host (EPILOG); absent: refused. */
  storeImage?(
    hostId: number,
    imageId: number,
    body: IncomingMessage,
    contentLength: number | undefined,
    sha256: string | undefined,
  ): Promise<{ sha256: string; bytes: number }>;
}

/** Per image and host: downloads served and copy-backs received (since start). */
export interface TransferCount {
  host_id: number;
  requests: number;
  bytes: number;
  uploads: number;
  upload_bytes: number;
}

interface Session {
  hostId: number;
  ws: WebSocket;
  alive: boolean;
  timer: NodeJS.Timeout;
}

/** Takes an authenticated console upgrade from host `hostId` for `sessionId`. */
export type ConsoleUpgrade = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  hostId: number,
  sessionId: string,
) => void;

const HELLO_TIMEOUT_MS = 10_000;
const MAX_FRAME = 4 * 1024 * 1024;

/**
 * The agent listener: HTTPS with the front-end's own CA. It serves the CA
 * certificate (agents pin its hash), join-token redemption, image downloads
 * and the channel WebSocket. Every refusal is logged with its reason.
 */
export class AgentGateway {
  private server: Server | null = null;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  private readonly sessions = new Map<number, Session>();
  private events: AgentEvents | null = null;
  private readonly waiting = new Map<string, { hostId: number; resolve: (m: AgentMessage) => void }>();
  private nextReq = 0;
  private readonly transferCounts = new Map<number, Map<number, TransferCount>>();
  private consoleHandler: ConsoleUpgrade | null = null;

  constructor(
    private readonly store: Store,
    private readonly pki: Pki,
    private readonly credentials: HostCredentials,
    private readonly log: Logger,
    private readonly options: GatewayOptions,
  ) {}

  bind(events: AgentEvents): void {
    this.events = events;
  }

  private monitor: MonitorSink | null = null;

  bindMonitor(sink: MonitorSink): void {
    this.monitor = sink;
  }

  private logFrames: LogFrameSink | null = null;

  bindLogStreams(sink: LogFrameSink): void {
    this.logFrames = sink;
  }

  /** Who takes authenticated `/agent/v1/console/{sessionId}` upgrades (the console proxy). */
  setConsoleHandler(handler: ConsoleUpgrade): void {
    this.consoleHandler = handler;
  }

  async listen(host: string, port: number): Promise<number> {
    const server = createServer(
      {
        cert: this.pki.certPem,
        key: this.pki.keyPem,
        ca: this.pki.caPem,
        // Tickets survive a restart (keys in the PKI dir) and a day: reconnecting agents resume.
        ticketKeys: this.pki.ticketKeys,
        sessionTimeout: 86_400,
        // Node's default context hashes the command line, which a restart with other flags changes.
        sessionIdContext: 'oneedge-agent-channel',
      },
      (req, res) => void this.handleHttp(req, res).catch((err) => this.fail(res, 500, 'E_INTERNAL', String(err))),
    );
    server.on('upgrade', (req, socket, head) => void this.handleUpgrade(req, socket, head));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  /** Transfer counters of one image, per host. */
  transfers(imageId: number): TransferCount[] {
    return [...(this.transferCounts.get(imageId)?.values() ?? [])].map((c) => ({ ...c }));
  }

  private count(imageId: number, hostId: number): TransferCount {
    let perHost = this.transferCounts.get(imageId);
    if (!perHost) {
      perHost = new Map();
      this.transferCounts.set(imageId, perHost);
    }
    let c = perHost.get(hostId);
    if (!c) {
      c = { host_id: hostId, requests: 0, bytes: 0, uploads: 0, upload_bytes: 0 };
      perHost.set(hostId, c);
    }
    return c;
  }

  isConnected(hostId: number): boolean {
    return this.sessions.has(hostId);
  }

  /** Channel dials since start: accepted, refused while busy (503), and TLS handshakes that resumed a session. */
  readonly connectStats = { accepted: 0, busy: 0, resumed: 0 };
  private connecting = 0;

  connectedHosts(): number[] {
    return [...this.sessions.keys()];
  }

  send(hostId: number, msg: FrontEndMessage): boolean {
    const s = this.sessions.get(hostId);
    if (!s || s.ws.readyState !== s.ws.OPEN) return false;
    s.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Reads the tail of a workload's console/log from its host (no state changes, so no sequence number). */
  async readLog(
    hostId: number,
    vmId: number,
    maxBytes: number,
    timeoutMs = 10_000,
  ): Promise<{ data: string; truncated: boolean }> {
    const reqId = `log-${++this.nextReq}`;
    const reply = new Promise<AgentMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(reqId);
        reject(new OneError('E_HOST_UNREACHABLE', `host ${hostId} did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(reqId, {
        hostId,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
    if (!this.send(hostId, { t: 'read-log', reqId, vmId, maxBytes })) {
      this.waiting.get(reqId)?.resolve({ t: 'log', reqId, vmId, data: '', truncated: false, error: 'not connected' });
      throw new OneError('E_HOST_UNREACHABLE', `host ${hostId} is not connected`);
    }
    const m = await reply;
    if (m.t !== 'log') throw new OneError('E_INTERNAL', 'unexpected reply');
    if (m.error) throw new OneError('E_DRIVER_FAILED', m.error);
    return { data: m.data, truncated: m.truncated };
  }

  /**
   * Asks a host to upload a VM's disk into a new image (disk save-as) and
   * waits for its answer; the bytes arrive through PUT /agent/v1/images/:id.
   */
  async saveDisk(
    hostId: number,
    vmId: number,
    imageId: number,
    disk: Extract<FrontEndMessage, { t: 'disk-saveas' }>['disk'],
    timeoutMs = 30 * 60_000,
  ): Promise<void> {
    const reqId = `saveas-${++this.nextReq}`;
    const reply = new Promise<AgentMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(reqId);
        reject(new OneError('E_DRIVER_TIMEOUT', `host ${hostId} did not save the disk within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(reqId, {
        hostId,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
    if (!this.send(hostId, { t: 'disk-saveas', reqId, vmId, imageId, disk })) {
      this.waiting.get(reqId)?.resolve({ t: 'disk-saved', reqId, vmId, error: 'not connected' });
      throw new OneError('E_HOST_UNREACHABLE', `host ${hostId} is not connected`);
    }
    const m = await reply;
    if (m.t === 'disk-saved' && m.error) throw new OneError('E_DRIVER_FAILED', m.error);
  }

  /** Closes a host's session (revoked credential, deleted host). */
  disconnect(hostId: number, reason: string): void {
    const s = this.sessions.get(hostId);
    if (!s) return;
    this.log.info({ hostId, reason }, 'closing agent session');
    s.ws.send(JSON.stringify({ t: 'bye', reason } satisfies FrontEndMessage));
    s.ws.close(4000, reason.slice(0, 100));
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.ws.terminate();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    if (req.method === 'GET' && url.pathname === '/agent/v1/ca.crt') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(this.pki.caPem);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/agent/v1/join') {
      const body = await readJson(req);
      const token = typeof body?.token === 'string' ? body.token : '';
      try {
        const { host, credential } = await this.credentials.redeemJoinToken(token);
        this.log.info({ hostId: host.id, host: host.name, from: req.socket.remoteAddress }, 'host joined');
        this.disconnect(host.id, 'the host joined again with a new credential');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ host_id: host.id, host_name: host.name, credential }));
      } catch (err) {
        this.log.warn(
          { from: req.socket.remoteAddress, reason: isOneError(err) ? err.message : String(err) },
          'join refused',
        );
        this.fail(res, 401, 'E_JOIN_TOKEN', 'the join token is unknown, already used or expired');
      }
      return;
    }
    const image = /^\/agent\/v1\/images\/(\d+)$/.exec(url.pathname);
    if (req.method === 'GET' && image) {
      const auth = await this.authenticate(req);
      if (auth === undefined) return this.fail(res, 401, 'E_AGENT_AUTH', 'the host credential was refused');
      const file = await this.options.imageFile(auth, Number(image[1]));
      if (!file) return this.fail(res, 404, 'E_NOT_FOUND', `image ${image[1]} is not available to this host`);
      const counter = this.count(Number(image[1]), auth);
      counter.requests++;
      sendFile(req, res, file.path, file.sha256, (n) => {
        counter.bytes += n;
      });
      return;
    }
    if (req.method === 'PUT' && image) {
      const auth = await this.authenticate(req);
      if (auth === undefined) return this.fail(res, 401, 'E_AGENT_AUTH', 'the host credential was refused');
      if (!this.options.storeImage) return this.fail(res, 404, 'E_ROUTE_NOT_FOUND', 'copy-back is not available');
      const length = req.headers['content-length'] ? Number(req.headers['content-length']) : undefined;
      const sha = typeof req.headers['x-content-sha256'] === 'string' ? req.headers['x-content-sha256'] : undefined;
      try {
        const stored = await this.options.storeImage(auth, Number(image[1]), req, length, sha);
        const counter = this.count(Number(image[1]), auth);
        counter.uploads++;
        counter.upload_bytes += stored.bytes;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stored));
      } catch (err) {
        const one = isOneError(err) ? err : new OneError('E_INTERNAL', String(err));
        this.log.warn({ hostId: auth, imageId: image[1], code: one.code, err: one.message }, 'copy-back refused');
        req.resume();
        this.fail(res, one.status, one.code, one.message);
      }
      return;
    }
    this.fail(res, 404, 'E_ROUTE_NOT_FOUND', `no route ${req.method} ${url.pathname}`);
  }

  private fail(res: ServerResponse, status: number, code: string, message: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message, details: {} } }));
  }

  /** The host id behind a request's bearer credential, or undefined (logged). */
  private async authenticate(req: IncomingMessage): Promise<number | undefined> {
    const header = req.headers.authorization ?? '';
    const credential = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const check = await this.credentials.check(credential);
    if (check.ok) return check.host.id;
    this.log.warn({ from: req.socket.remoteAddress, reason: check.reason }, 'agent credential refused');
    return undefined;
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const reject = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const pathname = new URL(req.url ?? '/', 'https://agent').pathname;
    const consoleSession = /^\/agent\/v1\/console\/([A-Za-z0-9_-]{16,64})$/.exec(pathname);
    if (consoleSession && this.consoleHandler) {
      const host = await this.authenticate(req);
      if (host === undefined) return reject(401, 'Unauthorized');
      this.consoleHandler(req, socket, head, host, consoleSession[1] as string);
      return;
    }
    if (pathname !== '/agent/v1/channel') return reject(404, 'Not Found');
    const hostId = await this.authenticate(req);
    if (hostId === undefined) return reject(401, 'Unauthorized');
    if (this.sessions.has(hostId)) {
      this.log.warn({ hostId, from: req.socket.remoteAddress }, 'duplicate agent session refused');
      return reject(409, 'Conflict');
    }
    if (this.connecting >= (this.options.maxConnecting ?? 256)) {
      // Shed load: the agent waits (Retry-After, jittered on its side) instead of queueing here.
      this.connectStats.busy++;
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${busyRetryAfter(this.connecting)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    this.connectStats.accepted++;
    if ((req.socket as TLSSocket).isSessionReused?.()) this.connectStats.resumed++;
    this.connecting++;
    let counted = true;
    const done = () => {
      if (counted) this.connecting--;
      counted = false;
    };
    socket.once('close', done);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(hostId, ws, done));
  }

  private open(hostId: number, ws: WebSocket, welcomed: () => void = () => {}): void {
    const log = this.log.child({ hostId });
    let session: Session | null = null;
    const helloTimer = setTimeout(() => {
      log.warn('no hello from agent; closing');
      ws.terminate();
    }, HELLO_TIMEOUT_MS);
    // Messages are applied strictly in order, one at a time.
    let chain = Promise.resolve();
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(4400, 'binary frames are not part of the protocol');
      const msg = parseAgentMessage(data.toString());
      if (!msg) {
        log.warn('malformed agent message; closing');
        return ws.close(4400, 'malformed message');
      }
      if (msg.t === 'monitor') {
        // Not sequenced and not ordered with plans: the monitor drops stale records itself.
        if (session) this.monitor?.ingest(hostId, msg.z);
        return;
      }
      if (msg.t === 'log-data' || msg.t === 'log-end') {
        // Stream frames change no state: delivered at once, outside the ordered chain.
        if (session) this.logFrames?.frame(hostId, msg);
        return;
      }
      chain = chain.then(async () => {
        if (msg.t === 'hello') {
          if (session) return;
          clearTimeout(helloTimer);
          if (msg.protocol !== AGENT_PROTOCOL_VERSION) {
            log.warn({ protocol: msg.protocol }, 'unsupported agent protocol');
            return ws.close(4426, `protocol ${AGENT_PROTOCOL_VERSION} required`);
          }
          if (this.sessions.has(hostId)) return ws.close(4409, 'duplicate session');
          session = this.track(hostId, ws);
          const host = await this.store.objects.get('host', hostId);
          this.monitor?.seen(hostId);
          await this.events?.connected(hostId, msg.facts, msg.workloads);
          const welcome: FrontEndMessage = {
            t: 'welcome',
            protocol: AGENT_PROTOCOL_VERSION,
            hostId,
            lastAgentSeq: host?.body.last_agent_seq ?? 0,
            heartbeatMs: this.options.heartbeatMs,
          };
          ws.send(JSON.stringify(welcome));
          welcomed();
          log.info({ agent: msg.facts.agentVersion, runtimes: msg.facts.runtimes }, 'agent connected');
          return;
        }
        if (!session) return ws.close(4401, 'hello first');
        if (msg.t === 'log' || msg.t === 'disk-saved') {
          const w = this.waiting.get(msg.reqId);
          if (w?.hostId === hostId) {
            this.waiting.delete(msg.reqId);
            w.resolve(msg);
          }
          return;
        }
        const outcome = (await this.events?.message(hostId, msg)) ?? 'refused';
        if (outcome === 'replay') log.warn({ seq: msg.seq }, 'replayed agent message dropped');
        ws.send(JSON.stringify({ t: 'ack', seq: msg.seq } satisfies FrontEndMessage));
      });
      chain = chain.catch((err) => log.error({ err }, 'agent message failed'));
    });
    ws.on('pong', () => {
      if (session) session.alive = true;
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (session && this.sessions.get(hostId) === session) {
        clearInterval(session.timer);
        this.sessions.delete(hostId);
        log.info('agent disconnected');
        this.logFrames?.hostGone(hostId);
        this.events?.disconnected(hostId);
      }
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'agent socket error'));
  }

  private track(hostId: number, ws: WebSocket): Session {
    const session: Session = {
      hostId,
      ws,
      alive: true,
      timer: setInterval(() => {
        if (!session.alive) {
          this.log.warn({ hostId }, 'agent missed heartbeats; dropping the link');
          ws.terminate();
          return;
        }
        session.alive = false;
        ws.ping();
      }, this.options.heartbeatMs),
    };
    this.sessions.set(hostId, session);
    return session;
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Streams a file, honouring a single `Range: bytes=N-` so interrupted downloads resume. */
function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  sha256: string,
  sent: (bytes: number) => void,
): void {
  const size = statSync(path).size;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  if (start > size) {
    res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    return;
  }
  res.writeHead(range ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': String(size - start),
    'accept-ranges': 'bytes',
    'x-content-sha256': sha256,
    ...(range ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
  });
  const stream = createReadStream(path, { start, highWaterMark: 1 << 20 });
  // Bytes handed to the response (at most one socket buffer more than what left the host), reported when it ends.
  let handed = 0;
  stream.on('data', (chunk) => {
    handed += chunk.length;
  });
  let counted = false;
  const done = () => {
    if (counted) return;
    counted = true;
    sent(handed);
  };
  res.on('close', done);
  res.on('finish', done);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Seconds a refused agent should wait: longer the deeper the backlog (1 s per 100 dials in progress, 2–30 s). */
function busyRetryAfter(connecting: number): number {
  return Math.min(30, Math.max(2, Math.ceil(connecting / 100)));
}
