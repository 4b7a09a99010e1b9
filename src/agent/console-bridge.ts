/**
 * The host's leg of a VNC console session: on the front-end's `console-open`
 * the agent connects the VM's VNC unix socket and dials a dedicated
 * WebSocket back to the front-end (`/agent/v1/console/{sessionId}`, host
 * credential, pinned CA), then pipes bytes both ways until either side
 * closes. The host needs no inbound connection.
 */
import { connect } from 'node:net';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { AgentIdentity } from './state-files.js';
import { tlsOptions } from './tls.js';

export function openConsole(identity: AgentIdentity, sessionId: string, vncSocket: string, log: Logger): void {
  const vnc = connect(vncSocket);
  const url = `${identity.url.replace(/^https:/, 'wss:')}/agent/v1/console/${encodeURIComponent(sessionId)}`;
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${identity.credential}` },
    ...tlsOptions({ ca: identity.caPem }),
    handshakeTimeout: 10_000,
    maxPayload: 1024 * 1024,
  });
  const early: Buffer[] = [];
  vnc.on('data', (d: Buffer) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(d, { binary: true });
    else early.push(d);
  });
  ws.on('open', () => {
    for (const d of early.splice(0)) ws.send(d, { binary: true });
    log.info('console session open');
  });
  ws.on('message', (data: Buffer) => vnc.write(data));
  const close = (why: string): void => {
    log.info({ why }, 'console session closed');
    vnc.destroy();
    ws.terminate();
  };
  vnc.on('error', (err) => close(`vnc socket: ${err.message}`));
  vnc.on('close', () => ws.readyState !== WebSocket.CLOSED && ws.close());
  ws.on('close', () => vnc.destroy());
  ws.on('error', (err) => close(`websocket: ${err.message}`));
}
