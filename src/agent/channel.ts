import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  type FrontEndMessage,
  type HostFacts,
  parseFrontEndMessage,
  type WorkloadReport,
} from '../core/agent-protocol.js';
import type { Outbox } from './outbox.js';
import type { AgentIdentity } from './state-files.js';
import { ResumingTls, redialDelay, retryAfterMs, tlsOptions } from './tls.js';

export interface ChannelHandlers {
  facts(): Promise<HostFacts>;
  inventory(): Promise<WorkloadReport[]>;
  plan(msg: Extract<FrontEndMessage, { t: 'plan' }>): void;
  readLog(vmId: number, maxBytes: number): Promise<{ data: string; truncated: boolean }>;
  /** A network's new peer list (VXLAN head-end replication). */
  netPeers?(msg: Extract<FrontEndMessage, { t: 'net-peers' }>): void;
  /** New firewall rules for a running workload's NICs. */
  nicRules?(msg: Extract<FrontEndMessage, { t: 'nic-rules' }>): void;
  /** The local address of the link to the front-end, learnt at each connect. */
  localAddress?(address: string): void;
  /** Uploads a VM's disk to a new image (disk save-as). */
  saveDisk?(msg: Extract<FrontEndMessage, { t: 'disk-saveas' }>): Promise<void>;
  /** The front-end welcomed us: the link is ready (monitoring sends what it kept). */
  linkUp?(): void;
  /** Opens a VM's console for a front-end session (VNC); absent: consoles are refused. */
  console?(sessionId: string, vmId: number): void;
  /** Log following (log-follow, log-credit, log-unfollow); absent: follows are refused. */
  logFollow?(msg: Extract<FrontEndMessage, { t: 'log-follow' | 'log-credit' | 'log-unfollow' }>): void;
  /** The link dropped (streams tied to it end). */
  linkDown?(): void;
}

export interface ChannelOptions {
  /** First reconnect delay; doubles per failure up to maxBackoffMs, with ±50 % jitter. */
  minBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * The agent's end of the channel: dials the front-end (TLS, pinned CA, host
 * credential), says hello with its inventory, replays what the outbox holds
 * beyond what the front-end already applied, and keeps the link alive.
 * A link that stops receiving pings is dropped and dialled again with
 * exponential backoff and jitter. Stops for good when the front-end refuses
 * the credential (revoked or forged): retrying could not fix that.
 */
export class Channel {
  private ws: WebSocket | null = null;
  private stopped = false;
  private failures = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private ready = false;
  private readonly tls = new ResumingTls();
  /** The front-end's Retry-After from a refused dial (it is shedding load), used once. */
  private retryAfter: number | undefined;
  connects = 0;

  constructor(
    private readonly identity: AgentIdentity,
    private readonly outbox: Outbox,
    private readonly handlers: ChannelHandlers,
    private readonly log: Logger,
    private readonly options: ChannelOptions,
  ) {}

  start(): void {
    this.dial();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.ws?.terminate();
  }

  get connected(): boolean {
    return this.ready;
  }

  /** Stores a result or event in the outbox and sends it now if the link is up. */
  async emit(msg: Parameters<Outbox['add']>[0]): Promise<void> {
    const stamped = await this.outbox.add(msg);
    this.sendRaw(stamped);
  }

  /** Sends a monitoring batch if the link is ready; false when it is not (the caller keeps it). */
  sendMonitor(z: string): boolean {
    if (!this.ready || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ t: 'monitor', z } satisfies AgentMessage));
    return true;
  }

  /** Sends an unsequenced stream frame (log-data, log-end) if the link is ready; false when it is not. */
  sendLive(msg: Extract<AgentMessage, { t: 'log-data' | 'log-end' }>): boolean {
    if (!this.ready || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  private sendRaw(msg: AgentMessage): void {
    if (this.ready && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private dial(): void {
    if (this.stopped) return;
    const url = `${this.identity.url.replace(/^https:/, 'wss:')}/agent/v1/channel`;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.identity.credential}` },
      ...tlsOptions({ ca: this.identity.caPem }),
      handshakeTimeout: 10_000,
      maxPayload: 4 * 1024 * 1024,
      createConnection: this.tls.connect as never,
    });
    this.ws = ws;
    ws.on('upgrade', (res) => {
      const address = res.socket.localAddress;
      if (address) this.handlers.localAddress?.(address.replace(/^::ffff:/, ''));
    });
    ws.on('open', () => void this.hello(ws));
    ws.on('message', (data) => this.onMessage(ws, data.toString()));
    ws.on('ping', () => this.armWatchdog(ws));
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 401) {
        this.log.error({ status }, 'the front-end refused this host credential (revoked or forged); not retrying');
        this.stopped = true;
      } else if (status === 503) {
        this.retryAfter = retryAfterMs(res.headers['retry-after']);
        this.log.info({ status, retryAfterMs: this.retryAfter }, 'the front-end is busy; dialling again later');
      } else {
        this.log.warn({ status }, 'the front-end refused the channel');
      }
      ws.terminate();
    });
    ws.on('close', (code, reason) => {
      const wasReady = this.ready;
      this.ready = false;
      if (wasReady) this.handlers.linkDown?.();
      if (this.watchdog) clearTimeout(this.watchdog);
      if (this.ws === ws) this.ws = null;
      this.log.info({ code, reason: reason.toString() }, 'channel closed');
      this.scheduleRedial();
    });
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'channel error'));
  }

  private async hello(ws: WebSocket): Promise<void> {
    const msg: AgentMessage = {
      t: 'hello',
      protocol: AGENT_PROTOCOL_VERSION,
      facts: await this.handlers.facts(),
      workloads: await this.handlers.inventory(),
    };
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  private onMessage(ws: WebSocket, text: string): void {
    const msg = parseFrontEndMessage(text);
    if (!msg) {
      this.log.warn('malformed message from the front-end; ignored');
      return;
    }
    switch (msg.t) {
      case 'welcome':
        this.ready = true;
        this.failures = 0;
        this.connects++;
        this.heartbeatMs = msg.heartbeatMs;
        this.armWatchdog(ws);
        this.log.info(
          { hostId: msg.hostId, lastAgentSeq: msg.lastAgentSeq, tlsResumed: this.tls.resumed },
          'channel ready',
        );
        void this.outbox.ack(msg.lastAgentSeq).then(() => {
          for (const m of this.outbox.pending()) this.sendRaw(m);
        });
        this.handlers.linkUp?.();
        return;
      case 'ack':
        void this.outbox.ack(msg.seq);
        return;
      case 'plan':
        this.handlers.plan(msg);
        return;
      case 'read-log':
        void this.handlers.readLog(msg.vmId, msg.maxBytes).then(
          (r) => this.sendRaw({ t: 'log', reqId: msg.reqId, vmId: msg.vmId, ...r }),
          (err: unknown) =>
            this.sendRaw({
              t: 'log',
              reqId: msg.reqId,
              vmId: msg.vmId,
              data: '',
              truncated: false,
              error: String(err),
            }),
        );
        return;
      case 'nic-rules':
        this.handlers.nicRules?.(msg);
        return;
      case 'net-peers':
        this.handlers.netPeers?.(msg);
        return;
      case 'disk-saveas': {
        const save = this.handlers.saveDisk?.(msg) ?? Promise.reject(new Error('disk save-as is not supported'));
        void save.then(
          () => this.sendRaw({ t: 'disk-saved', reqId: msg.reqId, vmId: msg.vmId }),
          (err: unknown) => this.sendRaw({ t: 'disk-saved', reqId: msg.reqId, vmId: msg.vmId, error: String(err) }),
        );
        return;
      }
      case 'console-open':
        this.handlers.console?.(msg.sessionId, msg.vmId);
        return;
      case 'log-follow':
      case 'log-credit':
      case 'log-unfollow':
        if (this.handlers.logFollow) this.handlers.logFollow(msg);
        else if (msg.t === 'log-follow')
          this.sendLive({
            t: 'log-end',
            streamId: msg.streamId,
            reason: 'refused',
            error: 'this agent cannot follow logs',
          });
        return;
      case 'bye':
        this.log.warn({ reason: msg.reason }, 'the front-end closed the channel');
        return;
    }
  }

  private heartbeatMs = 10_000;

  /** Missing three heartbeats means the link is dead even if TCP has not noticed. */
  private armWatchdog(ws: WebSocket): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.log.warn('no heartbeat from the front-end; dropping the link');
      ws.terminate();
    }, this.heartbeatMs * 3);
  }

  private scheduleRedial(): void {
    if (this.stopped) return;
    this.failures++;
    const delay = this.retryAfter ?? redialDelay(this.failures, this.options.minBackoffMs, this.options.maxBackoffMs);
    this.retryAfter = undefined;
    this.log.debug({ delay }, 'redialling');
    this.retry = setTimeout(() => this.dial(), delay);
  }
}
