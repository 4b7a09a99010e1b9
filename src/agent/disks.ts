import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, rmdir, stat, truncate, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { PlanDisk } from '../core/agent-protocol.js';
import { OneError } from '../core/errors.js';
import type { ImageCache } from './image-cache.js';
import type { AgentIdentity } from './state-files.js';
import { tlsOptions } from './tls.js';

const run = promisify(execFile);
const TARGET = /^[a-z]{2,3}[a-z]{1,2}$/;
const COPY_BACK_ATTEMPTS = 5;

/** A disk ready on the host. */
export interface PreparedDisk {
  disk: PlanDisk;
  /** The file the workload uses: the cached image (read-only), a per-VM copy, an overlay, or a volatile file. */
  path: string;
  /** Format of `path` (a qcow2 overlay over a raw image is qcow2). */
  format: string;
}

export type RuntimeKind = 'container' | 'microvm';

/** A host directory bind-mounted into a container. */
export interface ContainerMount {
  source: string;
  destination: string;
  readonly: boolean;
  propagation?: 'rslave';
}

/**
 * A VM's disks on the host, in `<vm dir>/disks/`:
 *
 *   - non-persistent image disks: copy-on-write over the cached image — a
 *     qcow2 overlay (`qemu-img create -b <cache> -F <fmt>`) for microVMs; for
 *     containers a reflink/copy of a raw filesystem (they mount it through a
 *     loop device), or the cached file itself when read-only;
 *   - persistent image disks: the VM's own copy, uploaded back to the
 *     front-end at EPILOG / undeploy (the image stays USED_PERS meanwhile);
 *   - volatile disks: a sparse file, formatted (mkfs / mkswap).
 *
 * Containers see raw filesystem disks at `/mnt/<target>` (loop mount on the
 * host, bind-mounted into the container).
 */
export class DiskManager {
  constructor(
    private readonly images: ImageCache,
    private readonly identity: AgentIdentity,
    private readonly log: Logger,
  ) {}

  /** PROLOG: fetches and stages every disk; idempotent. Returns the staged disks (not rootfs tarballs). */
  async prepare(vmDir: string, disks: PlanDisk[], kind: RuntimeKind, signal: AbortSignal): Promise<PreparedDisk[]> {
    const dir = join(vmDir, 'disks');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const out: PreparedDisk[] = [];
    for (const disk of disks) {
      if (!TARGET.test(disk.target)) {
        throw new OneError('E_VALIDATION', `disk ${disk.diskId}: bad target ${JSON.stringify(disk.target)}`);
      }
      if (disk.format === 'rootfs-tar') {
        // The root filesystem: unpacked once in the cache, overlaid by the runtime.
        if (disk.imageId !== null && disk.sha256) await this.images.rootfs(cacheRef(disk), signal);
        continue;
      }
      out.push(await this.stage(dir, disk, kind, signal));
    }
    return out;
  }

  private async stage(dir: string, disk: PlanDisk, kind: RuntimeKind, signal: AbortSignal): Promise<PreparedDisk> {
    const own = join(dir, `disk.${disk.diskId}`);
    if (disk.volatile) {
      if (!existsSync(own)) await makeVolatile(own, disk.volatile.sizeMb, disk.volatile.fs);
      return { disk, path: own, format: 'raw' };
    }
    if (disk.imageId === null || !disk.sha256) {
      throw new OneError('E_DRIVER_FAILED', `disk ${disk.diskId} has neither an image nor a volatile size`);
    }
    const cached = await this.images.file(cacheRef(disk), signal);
    if (disk.persistent) {
      if (!existsSync(own)) await copyAtomic(cached, own);
      return { disk, path: own, format: disk.format };
    }
    if (disk.readonly || disk.format === 'iso') return { disk, path: cached, format: disk.format };
    if (kind === 'microvm' && (disk.format === 'raw' || disk.format === 'qcow2')) {
      const overlay = `${own}.qcow2`;
      if (!existsSync(overlay)) {
        const tmp = `${overlay}.tmp`;
        await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', cached, '-F', disk.format, tmp]);
        await rename(tmp, overlay);
      }
      return { disk, path: overlay, format: 'qcow2' };
    }
    if (!existsSync(own)) await copyAtomic(cached, own);
    return { disk, path: own, format: disk.format };
  }

  /**
   * Containers: loop-mounts the raw filesystem disks under `<vm dir>/mnt/<target>`
   * and returns the one mount the workload gets: that directory at `/mnt`, a
   * shared mount on the host joined as a slave (`rslave`), so disks mounted
   * there later (hot attach) appear inside the running container and unmounts
   * (hot detach) disappear from it.
   */
  async mountAll(vmDir: string, prepared: PreparedDisk[]): Promise<ContainerMount[]> {
    const root = await this.ensureMountRoot(vmDir);
    for (const p of prepared) {
      try {
        await this.mountOne(vmDir, p);
      } catch (err) {
        this.log.warn({ disk: p.disk.diskId, err: String(err) }, 'disk has no mountable filesystem; not mounted');
      }
    }
    return [{ source: root, destination: '/mnt', readonly: false, propagation: 'rslave' }];
  }

  /** `<vm dir>/mnt` as a shared mount point of its own (idempotent): what hot-plug propagation needs. */
  async ensureMountRoot(vmDir: string): Promise<string> {
    const root = join(vmDir, 'mnt');
    await mkdir(root, { recursive: true, mode: 0o700 });
    if (!(await isMounted(root))) {
      await run('mount', ['--bind', root, root]);
      await run('mount', ['--make-shared', root]);
    }
    return root;
  }

  /** Loop-mounts one raw filesystem disk at `<vm dir>/mnt/<target>` (idempotent); throws when it cannot. */
  async mountOne(vmDir: string, p: PreparedDisk): Promise<string | undefined> {
    if (p.format !== 'raw' || p.disk.type.toLowerCase() === 'swap') return undefined;
    const at = join(vmDir, 'mnt', p.disk.target);
    const readonly = p.disk.readonly || (!p.disk.persistent && p.path.includes('/images/'));
    if (await isMounted(at)) return at;
    await mkdir(at, { recursive: true, mode: 0o700 });
    const options = `loop,nosuid,nodev${readonly ? ',ro' : ''}`;
    try {
      await run('mount', ['-o', options, p.path, at]);
    } catch (err) {
      await rm(at, { recursive: false, force: true }).catch(() => undefined);
      throw new OneError('E_DRIVER_FAILED', `disk ${p.disk.diskId} has no filesystem the host can mount`, {
        disk_id: p.disk.diskId,
        reason: String(err).slice(0, 300),
      });
    }
    return at;
  }

  /** Unmounts one disk (hot detach) and removes its mount point; false when it was not mounted. */
  async unmountOne(vmDir: string, target: string): Promise<boolean> {
    const at = join(vmDir, 'mnt', target);
    const was = await isMounted(at);
    if (was) await run('umount', [at]).catch(async () => run('umount', ['-l', at]));
    if (existsSync(at)) await rmdir(at).catch(() => undefined);
    return was;
  }

  /** Deletes a disk's files on the host (after a hot detach). */
  async removeDisk(vmDir: string, diskId: number): Promise<void> {
    const own = join(vmDir, 'disks', `disk.${diskId}`);
    for (const f of [own, `${own}.qcow2`, `${own}.tmp`]) await rm(f, { force: true });
  }

  /** Unmounts every disk of a VM and the mount root (before copy-back and before its directory goes). */
  async unmountAll(vmDir: string): Promise<void> {
    const root = join(vmDir, 'mnt');
    if (!existsSync(root)) return;
    const mounted = (await mountPoints()).filter((m) => m === root || m.startsWith(`${root}/`));
    for (const m of mounted.sort((a, b) => b.length - a.length)) {
      await run('umount', [m]).catch(async () => run('umount', ['-l', m]));
    }
  }

  /** EPILOG: uploads each persistent disk to its image on the front-end (verified by sha256 there). */
  async copyBack(vmDir: string, disks: PlanDisk[], signal: AbortSignal): Promise<void> {
    for (const disk of disks) {
      if (!disk.persistent || disk.imageId === null || disk.volatile) continue;
      const own = join(vmDir, 'disks', `disk.${disk.diskId}`);
      if (!existsSync(own)) continue;
      const sha256 = await sha256File(own);
      const size = (await stat(own)).size;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.upload(disk.imageId, own, size, sha256, signal);
          this.log.info({ imageId: disk.imageId, sha256, bytes: size }, 'persistent disk copied back');
          break;
        } catch (err) {
          if (attempt >= COPY_BACK_ATTEMPTS || signal.aborted) throw err;
          this.log.warn({ imageId: disk.imageId, attempt, err: String(err) }, 'copy-back failed; retrying');
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    }
  }

  /**
   * Disk save-as: a consistent copy of the VM's disk as it is now (flushed,
   * then reflinked; qcow2 overlays flattened; root filesystems packed from
   * the mounted overlay) uploaded to the new image.
   */
  async saveAs(vmDir: string, disk: PlanDisk, imageId: number, signal: AbortSignal): Promise<void> {
    const tmp = join(vmDir, `saveas-${imageId}.tmp`);
    try {
      if (disk.format === 'rootfs-tar') {
        const merged = join(vmDir, 'workload', 'rootfs-merged');
        if (!(await isMounted(merged))) {
          throw new OneError(
            'E_DRIVER_FAILED',
            `the root filesystem of this VM is not mounted (is it running or powered off?)`,
          );
        }
        await run('tar', ['-C', merged, '--one-file-system', '-cf', tmp, '.']);
      } else {
        const own = join(vmDir, 'disks', `disk.${disk.diskId}`);
        await run('sync', []);
        if (existsSync(`${own}.qcow2`)) {
          await run('qemu-img', [
            'convert',
            '-q',
            '-O',
            disk.format === 'qcow2' ? 'qcow2' : 'raw',
            `${own}.qcow2`,
            tmp,
          ]);
        } else if (existsSync(own)) {
          await copyFile(own, tmp, constants.COPYFILE_FICLONE);
        } else {
          throw new OneError('E_DRIVER_FAILED', `disk ${disk.diskId} has no writable copy on this host`);
        }
      }
      const size = (await stat(tmp)).size;
      await this.upload(imageId, tmp, size, await sha256File(tmp), signal);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private upload(imageId: number, path: string, size: number, sha256: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = request(
        `${this.identity.url}/agent/v1/images/${imageId}`,
        {
          method: 'PUT',
          headers: {
            authorization: `Bearer ${this.identity.credential}`,
            'content-type': 'application/octet-stream',
            'content-length': String(size),
            'x-content-sha256': sha256,
          },
          ...tlsOptions({ ca: this.identity.caPem }),
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode === 200) return resolve();
            let code = 'E_DRIVER_FAILED';
            let message = `copy-back of image ${imageId} failed: HTTP ${res.statusCode}`;
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                error?: { code?: string; message?: string };
              };
              code = body.error?.code ?? code;
              message = `copy-back of image ${imageId}: ${body.error?.message ?? message}`;
            } catch {
              // not JSON
            }
            reject(new OneError('E_DRIVER_FAILED', `${code}: ${message}`));
          });
        },
      );
      req.on('error', reject);
      createReadStream(path).on('error', reject).pipe(req);
    });
  }
}

function cacheRef(disk: PlanDisk): { id: number; sha256: string; sizeBytes: number } {
  return { id: disk.imageId as number, sha256: disk.sha256 as string, sizeBytes: disk.sizeBytes };
}

async function copyAtomic(from: string, to: string): Promise<void> {
  const tmp = `${to}.tmp`;
  await copyFile(from, tmp, constants.COPYFILE_FICLONE);
  await rename(tmp, to);
}

async function makeVolatile(path: string, sizeMb: number, fs: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, '', { mode: 0o600 });
  await truncate(tmp, sizeMb * 1024 * 1024);
  const f = fs.toLowerCase();
  if (f === 'swap') await run('mkswap', [tmp]);
  else if (f !== 'raw' && /^[a-z0-9]+$/.test(f)) await run(`mkfs.${f}`, f === 'vfat' ? [tmp] : ['-q', '-F', tmp]);
  await rename(tmp, path);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter(Boolean);
}

async function isMounted(dir: string): Promise<boolean> {
  return (await mountPoints()).includes(dir);
}
