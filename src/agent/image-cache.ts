import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { OneError } from '../core/errors.js';
import { unpackRootfs } from '../drivers/runtime/busybox-rootfs.js';
import type { AgentIdentity } from './state-files.js';
import { tlsOptions } from './tls.js';

export interface CachedImage {
  id: number;
  sha256: string;
  sizeBytes?: number;
}

export interface ImageCacheOptions {
  /** Cache size limit; images no VM uses are evicted (least recently used first) beyond it. 0 = no limit. */
  limitBytes?: number;
  /** A transfer that receives nothing for this long is dropped and resumed (ms). */
  stallMs?: number;
  /** How many times a transfer is resumed or restarted before the prolog fails. */
  attempts?: number;
  /** sha256s some workload on this host uses right now (never evicted). */
  inUse?: () => Set<string>;
}

const SHA = /^[0-9a-f]{64}$/;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function treeSize(path: string): Promise<number> {
  const s = await stat(path).catch(() => undefined);
  if (!s) return 0;
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true })) {
    if (e.isSymbolicLink()) continue;
    total += e.isDirectory() ? await treeSize(join(path, e.name)) : (await stat(join(path, e.name))).size;
  }
  return total;
}

/**
 * The host's content-addressed image cache, `<state>/images/<sha256>/`:
 *
 *   blob        the image file, exactly as stored on the front-end, verified
 *   blob.part   a transfer in progress (resumed with an HTTP range request)
 *   rootfs/     root-filesystem tarballs, unpacked (the overlay's lower dir)
 *   used        its mtime is the last use (LRU)
 *
 * Images are fetched from the front-end once (authenticated with the host
 * credential), resumed after a cut, and verified against their SHA-256
 * before use: a corrupted transfer is discarded and fetched again.
 * Concurrent requests for one image share one download. Beyond the size
 * limit, images no workload uses are evicted, least recently used first.
 */
export class ImageCache {
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly unpacking = new Map<string, Promise<string>>();
  private readonly limitBytes: number;
  private readonly stallMs: number;
  private readonly attempts: number;
  /** Verified downloads completed (tests and logs). */
  downloads = 0;

  constructor(
    private readonly dir: string,
    private readonly identity: AgentIdentity,
    private readonly log: Logger,
    private readonly options: ImageCacheOptions = {},
  ) {
    this.limitBytes = options.limitBytes ?? 0;
    this.stallMs = options.stallMs ?? 30_000;
    this.attempts = options.attempts ?? 40;
  }

  /** The verified image file, fetching it first if needed. */
  file(image: CachedImage, signal: AbortSignal): Promise<string> {
    if (!SHA.test(image.sha256)) {
      return Promise.reject(
        new OneError('E_DRIVER_FAILED', `image ${image.id} has no valid sha256; refusing to use it`),
      );
    }
    let p = this.inFlight.get(image.sha256);
    if (!p) {
      p = this.fetch(image, signal).finally(() => this.inFlight.delete(image.sha256));
      this.inFlight.set(image.sha256, p);
    }
    return p;
  }

  /** The unpacked root filesystem of a tarball image. */
  rootfs(image: CachedImage, signal: AbortSignal): Promise<string> {
    let p = this.unpacking.get(image.sha256);
    if (!p) {
      p = (async () => {
        const blob = await this.file(image, signal);
        const rootfs = join(this.dir, image.sha256, 'rootfs');
        if (!existsSync(rootfs)) await unpackRootfs(blob, rootfs);
        return rootfs;
      })().finally(() => this.unpacking.delete(image.sha256));
      this.unpacking.set(image.sha256, p);
    }
    return p;
  }

  /** Whether the verified file of an image is cached. */
  has(sha256: string): boolean {
    return SHA.test(sha256) && existsSync(join(this.dir, sha256, 'blob'));
  }

  private async fetch(image: CachedImage, signal: AbortSignal): Promise<string> {
    const base = join(this.dir, image.sha256);
    const blob = join(base, 'blob');
    await mkdir(base, { recursive: true, mode: 0o700 });
    // Older agents kept tarballs as image.tar.
    if (!existsSync(blob) && existsSync(join(base, 'image.tar'))) await rename(join(base, 'image.tar'), blob);
    if (!existsSync(blob)) {
      await this.download(image, blob, signal);
      await this.touch(image.sha256);
      await this.evict().catch((err) => this.log.warn({ err: String(err) }, 'cache eviction failed'));
    } else await this.touch(image.sha256);
    return blob;
  }

  private async touch(sha256: string): Promise<void> {
    const f = join(this.dir, sha256, 'used');
    const now = new Date();
    await utimes(f, now, now).catch(() => writeFile(f, ''));
  }

  private async download(image: CachedImage, blob: string, signal: AbortSignal): Promise<void> {
    const part = `${blob}.part`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetchRange(image.id, part, signal);
        const got = await sha256File(part);
        if (got !== image.sha256) {
          await rm(part, { force: true });
          throw new OneError(
            'E_DRIVER_FAILED',
            `image ${image.id} failed its checksum (got ${got.slice(0, 12)}…, want ${image.sha256.slice(0, 12)}…); discarded`,
          );
        }
        await rename(part, blob);
        this.downloads++;
        this.log.info({ imageId: image.id, sha256: image.sha256, attempt }, 'image downloaded and verified');
        return;
      } catch (err) {
        if (attempt >= this.attempts || signal.aborted) throw err;
        const have = existsSync(part) ? (await stat(part)).size : 0;
        this.log.warn({ imageId: image.id, attempt, have, err: String(err) }, 'image transfer failed; resuming');
        await new Promise((r) => setTimeout(r, Math.min(3000, 200 * 2 ** attempt)));
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
          // Also bounds the connect: a cut link answers nothing at all.
          timeout: this.stallMs,
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
          pipeline(res, createWriteStream(part, { flags, mode: 0o600, highWaterMark: 1 << 20 })).then(resolve, reject);
        },
      );
      // A cut link sends no RST: without data for stallMs the transfer is dropped and resumed.
      req.on('timeout', () => req.destroy(new Error(`no data for ${this.stallMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Evicts least recently used images no workload uses until the cache fits its limit. */
  async evict(): Promise<string[]> {
    if (this.limitBytes <= 0 || !existsSync(this.dir)) return [];
    const keep = new Set([...(this.options.inUse?.() ?? []), ...this.inFlight.keys(), ...this.unpacking.keys()]);
    const entries: { sha: string; bytes: number; used: number }[] = [];
    for (const name of await readdir(this.dir)) {
      if (!SHA.test(name)) continue;
      const base = join(this.dir, name);
      const used = (await stat(join(base, 'used')).catch(() => stat(base))).mtimeMs;
      entries.push({ sha: name, bytes: await treeSize(base), used });
    }
    let total = entries.reduce((a, e) => a + e.bytes, 0);
    const evicted: string[] = [];
    for (const e of entries.sort((a, b) => a.used - b.used)) {
      if (total <= this.limitBytes) break;
      if (keep.has(e.sha)) continue;
      await rm(join(this.dir, e.sha), { recursive: true, force: true });
      total -= e.bytes;
      evicted.push(e.sha);
      this.log.info({ sha256: e.sha, bytes: e.bytes }, 'image evicted from the cache');
    }
    return evicted;
  }
}
