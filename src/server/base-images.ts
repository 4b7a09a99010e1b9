import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IMAGE_STATES } from '../core/model.js';
import { ONEADMIN_GID, ONEADMIN_UID } from '../core/permissions.js';
import { getVectors } from '../core/template/index.js';
import { buildBusyboxRootfsTar } from '../market/base-image.js';
import type { Store } from '../store/index.js';

export const BASE_IMAGE_NAME = 'busybox';
const DEFAULT_IMAGE_DS = 1;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The built-in base image: a busybox root filesystem (from Debian's
 * busybox-static) registered in the default image datastore on first start,
 * so containers run without any registry. VMs without an image DISK use it.
 */
export class BaseImages {
  defaultImageId: number | undefined;

  constructor(
    private readonly store: Store,
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {}

  async ensure(): Promise<void> {
    const existing = await this.store.objects.getByName('image', BASE_IMAGE_NAME, ONEADMIN_UID);
    if (existing && existsSync(existing.body.source)) {
      this.defaultImageId = existing.id;
      return;
    }
    const dir = join(this.dataDir, 'datastores', String(DEFAULT_IMAGE_DS));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, 'busybox-rootfs.tar');
    try {
      await buildBusyboxRootfsTar(`${path}.tmp`);
      await rename(`${path}.tmp`, path);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'no busybox base image: install busybox-static (scripts/up does)');
      return;
    }
    const size = (await stat(path)).size;
    const sha256 = await sha256File(path);
    const body = {
      type: 'OS' as const,
      datastore_id: DEFAULT_IMAGE_DS,
      persistent: false,
      format: 'rootfs-tar',
      size_mb: Math.max(1, Math.ceil(size / 1048576)),
      size_bytes: size,
      source: path,
      sha256,
      running_vms: [],
    };
    const image = existing
      ? await this.store.objects.update('image', existing.id, undefined, (o) => ({
          ...o,
          body,
          state: IMAGE_STATES.READY,
        }))
      : await this.store.objects.create('image', {
          name: BASE_IMAGE_NAME,
          uid: ONEADMIN_UID,
          gid: ONEADMIN_GID,
          uname: 'oneadmin',
          gname: 'oneadmin',
          perms: 0o644,
          state: IMAGE_STATES.READY,
          lcmState: 0,
          template: {
            TYPE: 'OS',
            FORMAT: 'rootfs-tar',
            DESCRIPTION: 'busybox root filesystem (Debian busybox-static)',
          },
          body,
        });
    this.defaultImageId = image.id;
    this.log.info({ imageId: image.id, sha256, bytes: size }, 'registered the busybox base image');
  }

  /** The file of an image a host may download: the base image, or one a VM on that host uses. */
  async fileFor(hostId: number, imageId: number): Promise<{ path: string; sha256: string } | undefined> {
    const image = await this.store.objects.get('image', imageId);
    if (!image?.body.source || !image.body.sha256) return undefined;
    if (imageId !== this.defaultImageId) {
      const vms = await this.store.objects.list('vm', { hostId });
      const id = String(imageId);
      const used = vms.some(
        (vm) =>
          getVectors(vm.template, 'DISK').some((d) => d.IMAGE_ID === id) ||
          getVectors(vm.template, 'OS').some((os) => os.KERNEL_ID === id || os.INITRD_ID === id),
      );
      if (!used) return undefined;
    }
    return { path: image.body.source, sha256: image.body.sha256 };
  }
}
