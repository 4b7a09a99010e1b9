/**
 * `oneedge vm vnc --listen`: a local TCP port a VNC viewer connects to; each
 * connection gets a fresh console token and its own WebSocket to the
 * front-end's console proxy, and bytes are piped both ways.
 */
import { createServer } from 'node:net';
import WebSocket from 'ws';

export async function serveVncLocally(port: number, wsUrl: () => Promise<string>): Promise<number> {
  const server = createServer((tcp) => {
    tcp.pause();
    void wsUrl().then(
      (url) => {
        const ws = new WebSocket(url, { maxPayload: 1024 * 1024 });
        ws.on('open', () => tcp.resume());
        ws.on('message', (data: Buffer) => tcp.write(data));
        tcp.on('data', (d: Buffer) => ws.readyState === WebSocket.OPEN && ws.send(d, { binary: true }));
        ws.on('close', () => tcp.end());
        ws.on('error', () => tcp.destroy());
        tcp.on('close', () => ws.close());
        tcp.on('error', () => ws.terminate());
      },
      () => tcp.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}
