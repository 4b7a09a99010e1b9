import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { OneError } from '../../core/errors.js';
import { detectImageFormat, FORMAT_PROBE_BYTES, type ImageFormat } from '../../core/image-format.js';

export interface Capacity {
  total_mb: number;
  free_mb: number;
  used_mb: number;
}

export interface WriteOptions {
  /** Refuse (E_DATASTORE_FULL) once the content grows past this many bytes. */
  maxBytes: number;
  /** When given, the content must hash to it (E_CHECKSUM_MISMATCH) or nothing is kept. */
  expectedSha256?: string | undefined;
  /** Called at most every ~256 KiB with the bytes written so far. */
  onProgress?: ((doneBytes: number) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface StoredFile {
  path: string;
  sha256: string;
  bytes: number;
  format: ImageFormat;
}

const MB = 1024 * 1024;
const PROGRESS_STEP = 256 * 1024;

/**
 * The `fs` datastore driver: image files live in `<data-dir>/datastores/<id>/`
 * named by image id. Content is always written to a temporary file in the same
 * directory, hashed while it streams, fsynced and then renamed over the final
 * name (and the directory fsynced), so a reader never sees a partial image and
 * a failure leaves nothing behind.
 */
export class FsDatastores {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'datastores');
  }

  dir(dsId: number): string {
    if (!Number.isSafeInteger(dsId) || dsId < 0) throw new OneError('E_VALIDATION', `bad datastore id ${dsId}`);
    return join(this.root, String(dsId));
  }

  /** The file name of an image's content in its datastore. */
  imagePath(dsId: number, imageId: number): string {
    return join(this.dir(dsId), `image-${imageId}`);
  }

  /** Whether a path lies inside the datastores tree (guards every delete). */
  owns(path: string): boolean {
    const rel = relative(this.root, resolve(path));
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  }

  async capacity(dsId: number): Promise<Capacity> {
    const dir = this.dir(dsId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const s = await statfs(dir);
    const total = Math.floor((s.blocks * s.bsize) / MB);
    const free = Math.floor((s.bavail * s.bsize) / MB);
    return { total_mb: total, free_mb: free, used_mb: Math.max(0, total - Math.floor((s.bfree * s.bsize) / MB)) };
  }

  /** Free bytes available to an unprivileged writer. */
  async freeBytes(dsId: number): Promise<number> {
    const dir = this.dir(dsId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  }

  /** Streams `source` into `finalPath` atomically (see the class comment). */
  async write(finalPath: string, source: AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<StoredFile> {
    if (!this.owns(finalPath)) throw new OneError('E_PATH_INVALID', `refusing to write outside the datastores`);
    const dir = resolve(finalPath, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    const head = Buffer.alloc(FORMAT_PROBE_BYTES);
    let headLen = 0;
    let bytes = 0;
    let reported = 0;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      for await (const chunk of source) {
        opts.signal?.throwIfAborted();
        const buf = chunk instanceof Buffer ? chunk : Buffer.from(chunk);
        bytes += buf.length;
        if (bytes > opts.maxBytes) {
          throw new OneError('E_DATASTORE_FULL', `the content exceeds the datastore's free space`, {
            limit_bytes: opts.maxBytes,
          });
        }
        if (headLen < head.length) headLen += buf.copy(head, headLen, 0, Math.min(buf.length, head.length - headLen));
        hash.update(buf);
        let off = 0;
        while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
        if (bytes - reported >= PROGRESS_STEP) {
          reported = bytes;
          opts.onProgress?.(bytes);
        }
      }
      await fh.sync();
      await fh.close();
      const sha256 = hash.digest('hex');
      if (opts.expectedSha256 && opts.expectedSha256.toLowerCase() !== sha256) {
        throw new OneError(
          'E_CHECKSUM_MISMATCH',
          `content sha256 ${sha256} does not match the expected ${opts.expectedSha256.toLowerCase()}`,
          { expected: opts.expectedSha256.toLowerCase(), actual: sha256 },
        );
      }
      await rename(tmp, finalPath);
      await syncDir(dir);
      opts.onProgress?.(bytes);
      return { path: finalPath, sha256, bytes, format: detectImageFormat(head.subarray(0, headLen)) };
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Copies a stored file (reflink where the filesystem can), atomically. */
  async copy(from: string, to: string): Promise<void> {
    if (!this.owns(to)) throw new OneError('E_PATH_INVALID', `refusing to write outside the datastores`);
    const dir = resolve(to, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      await copyFile(from, tmp, constants.COPYFILE_FICLONE);
      const fh = await open(tmp, 'r+');
      await fh.sync();
      await fh.close();
      await rename(tmp, to);
      await syncDir(dir);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** A temporary path in a datastore for tools that write files themselves (mkfs, qemu-img). */
  tempPath(dsId: number): string {
    return join(this.dir(dsId), `.tmp-${randomBytes(8).toString('hex')}`);
  }

  /** Moves a finished temporary file into place (fsync + rename + dir fsync). */
  async commit(tmp: string, finalPath: string): Promise<void> {
    if (!this.owns(tmp) || !this.owns(finalPath)) throw new OneError('E_PATH_INVALID', 'path outside the datastores');
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, finalPath);
    await syncDir(resolve(finalPath, '..'));
  }

  async remove(path: string): Promise<void> {
    if (!path || !this.owns(path)) return;
    await rm(path, { force: true });
  }

  async size(path: string): Promise<number> {
    return existsSync(path) ? (await stat(path)).size : 0;
  }

  /** Removes temporary files a crash left behind. */
  async sweep(dsId: number): Promise<void> {
    const dir = this.dir(dsId);
    if (!existsSync(dir)) return;
    for (const name of await readdir(dir)) if (name.startsWith('.tmp-')) await rm(join(dir, name), { force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
