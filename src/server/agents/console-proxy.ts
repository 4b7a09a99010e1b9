/**
 * VNC consoles through the front-end, for hosts behind NAT:
 *
 *   browser / `oneedge vm vnc`               front-end                      agent (on the host)
 *     POST /api/v1/vms/{id}/vnc-token  ──►  ACL check (MANAGE), token
 *     WS /api/v1/vms/{id}/vnc?token=…  ──►  token checked and spent,
 *                                           channel: console-open {sessionId, vmId} ──►
 *                                           ◄── WS /agent/v1/console/{sessionId}   (host credential)
 *     RFB bytes  ◄════════════════════════ paired, piped both ways ════════════════► unix socket vnc.sock
 *
 * Tokens are random, single-use, bound to one VM and short-lived; a session
 * is bound to the host that runs the VM, so another host's credential cannot
 * pick it up. Binary frames carry the RFB stream unchanged (noVNC speaks it).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentGateway } from './agent-gateway.js';

/** How long a console token may wait to be used, ms. */
export const CONSOLE_TOKEN_TTL_MS = 30_000;
/** How long the agent has to dial back for a console session, ms. */
const AGENT_DIAL_TIMEOUT_MS = 10_000;
const MAX_FRAME = 1024 * 1024;

interface Token {
  vmId: number;
  hostId: number;
  expires: number;
}

interface Pending {
  hostId: number;
  client: WebSocket;
  timer: NodeJS.Timeout;
}

export class ConsoleProxy {
  private readonly tokens = new Map<string, Token>();
  private readonly pending = new Map<string, Pending>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });

  constructor(
    private readonly gateway: AgentGateway,
    private readonly log: Logger,
    private readonly ttlMs = CONSOLE_TOKEN_TTL_MS,
  ) {
    gateway.setConsoleHandler((req, socket, head, hostId, sessionId) =>
      this.agentUpgrade(req, socket, head, hostId, sessionId),
    );
  }

  /** A single-use token for one VM's console (the caller has checked the ACL). */
  issue(vmId: number, hostId: number): { token: string; expiresInMs: number } {
    const now = Date.now();
    for (const [t, v] of this.tokens) if (v.expires <= now) this.tokens.delete(t);
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { vmId, hostId, expires: now + this.ttlMs });
    return { token, expiresInMs: this.ttlMs };
  }

  /** Serves `GET /api/v1/vms/{id}/vnc?token=…` WebSocket upgrades on the API server. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://api');
      const m = /^\/api\/v1\/vms\/(\d+)\/vnc$/.exec(url.pathname);
      if (!m) {
        refuse(socket, 404, 'Not Found');
        return;
      }
      this.clientUpgrade(req, socket, head, Number(m[1]), url.searchParams.get('token') ?? '');
    });
  }

  private clientUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, vmId: number, token: string): void {
    const entry = this.tokens.get(token);
    if (!entry || entry.vmId !== vmId || entry.expires <= Date.now()) {
      if (entry && entry.expires <= Date.now()) this.tokens.delete(token);
      this.log.warn({ vmId, from: req.socket.remoteAddress }, 'console refused: unknown, spent or expired token');
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    this.tokens.delete(token);
    const sessionId = randomBytes(18).toString('base64url');
    this.wss.handleUpgrade(req, socket, head, (client) => {
      const timer = setTimeout(() => {
        this.pending.delete(sessionId);
        this.log.warn({ vmId, hostId: entry.hostId }, 'console: the host did not dial back');
        client.close(4504, 'the host did not open the console');
      }, AGENT_DIAL_TIMEOUT_MS);
      this.pending.set(sessionId, { hostId: entry.hostId, client, timer });
      client.on('close', () => {
        const p = this.pending.get(sessionId);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(sessionId);
        }
      });
      if (!this.gateway.send(entry.hostId, { t: 'console-open', sessionId, vmId })) {
        client.close(4503, 'the host is not connected');
        return;
      }
      this.log.info({ vmId, hostId: entry.hostId }, 'console session opening');
    });
  }

  /** The agent's leg, already authenticated as `hostId` by the gateway. */
  private agentUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, hostId: number, sessionId: string): void {
    const p = this.pending.get(sessionId);
    if (!p || p.hostId !== hostId) {
      this.log.warn({ hostId }, 'console: unknown session or session of another host');
      refuse(socket, 404, 'Not Found');
      return;
    }
    this.pending.delete(sessionId);
    clearTimeout(p.timer);
    this.wss.handleUpgrade(req, socket, head, (agent) => pipe(p.client, agent));
  }
}

/** Both directions, binary, closing each side when the other closes. */
function pipe(a: WebSocket, b: WebSocket): void {
  a.on('message', (data, isBinary) => b.readyState === b.OPEN && b.send(data, { binary: isBinary }));
  b.on('message', (data, isBinary) => a.readyState === a.OPEN && a.send(data, { binary: isBinary }));
  a.on('close', () => b.close());
  b.on('close', () => a.close());
  a.on('error', () => b.terminate());
  b.on('error', () => a.terminate());
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
