import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { OneError } from '../core/errors.js';
import { unpackRootfs } from '../drivers/runtime/busybox-rootfs.js';
import type { AgentIdentity } from './state-files.js';
import { tlsOptions } from './tls.js';

const ATTEMPTS = 5;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The host's content-addressed image cache: images are fetched from the
 * front-end once (authenticated with the host credential), resumed with HTTP
 * range requests after a cut, verified against their SHA-256 before use, and
 * unpacked to `<state>/images/<sha256>/rootfs`. Concurrent requests for the
 * same image share one download.
 */
export class ImageCache {
  private readonly inFlight = new Map<string, Promise<string>>();
  downloads = 0;

  constructor(
    private readonly dir: string,
    private readonly identity: AgentIdentity,
    private readonly log: Logger,
  ) {}

  /** The unpacked root filesystem of an image, fetching it first if needed. */
  rootfs(image: { id: number; sha256: string }, signal: AbortSignal): Promise<string> {
    const key = image.sha256;
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.fetchAndUnpack(image, signal).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async fetchAndUnpack(image: { id: number; sha256: string }, signal: AbortSignal): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(image.sha256)) {
      throw new OneError('E_DRIVER_FAILED', `image ${image.id} has no valid sha256; refusing to use it`);
    }
    const base = join(this.dir, image.sha256);
    const rootfs = join(base, 'rootfs');
    if (existsSync(rootfs)) return rootfs;
    await mkdir(base, { recursive: true, mode: 0o700 });
    const tarPath = join(base, 'image.tar');
    if (!existsSync(tarPath)) await this.download(image, tarPath, signal);
    await unpackRootfs(tarPath, rootfs);
    return rootfs;
  }

  private async download(image: { id: number; sha256: string }, tarPath: string, signal: AbortSignal): Promise<void> {
    const part = `${tarPath}.part`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetchRange(image.id, part, signal);
        const got = await sha256File(part);
        if (got !== image.sha256) {
          await rm(part, { force: true });
          throw new OneError('E_DRIVER_FAILED', `image ${image.id} failed its checksum (got ${got.slice(0, 12)}…)`);
        }
        await rename(part, tarPath);
        this.downloads++;
        this.log.info({ imageId: image.id, sha256: image.sha256 }, 'image downloaded and verified');
        return;
      } catch (err) {
        if (attempt >= ATTEMPTS || signal.aborted) throw err;
        this.log.warn({ imageId: image.id, attempt, err: String(err) }, 'image download failed; retrying');
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }

  /** Appends the missing bytes of the image to `part` (resuming from its size). */
  private async fetchRange(imageId: number, part: string, signal: AbortSignal): Promise<void> {
    const have = existsSync(part) ? (await stat(part)).size : 0;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${this.identity.url}/agent/v1/images/${imageId}`,
        {
          headers: {
            authorization: `Bearer ${this.identity.credential}`,
            ...(have > 0 ? { range: `bytes=${have}-` } : {}),
          },
          ...tlsOptions({ ca: this.identity.caPem }),
          signal,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 416) {
            res.resume();
            return resolve();
          }
          if (status !== 200 && status !== 206) {
            res.resume();
            return reject(new OneError('E_DRIVER_FAILED', `image ${imageId} download failed: HTTP ${status}`));
          }
          const flags = status === 206 ? 'a' : 'w';
          pipeline(res, createWriteStream(part, { flags, mode: 0o600 })).then(resolve, reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
}
