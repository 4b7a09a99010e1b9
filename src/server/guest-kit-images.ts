/**
 * The guest kit's kernel and initramfs as images, registered at start in the
 * built-in files datastore (id 2) as `oneedge-kernel` (KERNEL) and
 * `oneedge-initrd` (RAMDISK), so a microVM template can name them like any
 * other kernel: `OS = [ KERNEL_DS = "$FILE[IMAGE=oneedge-kernel]",
 * INITRD_DS = "$FILE[IMAGE=oneedge-initrd]" ]`. Hosts fetch them through
 * their image cache. Idempotent: an unchanged kit changes nothing; a rebuilt
 * kit (new content hash) replaces both images' content. The kit is built by
 * `scripts/build-guest-kit` into `--guest-kit-dir` (scripts/up does it); when
 * no kit is there the front-end says so and goes on.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IMAGE_STATES, type ImageBody, type ImageType } from '../core/model.js';
import { ONEADMIN_GID, ONEADMIN_UID } from '../core/permissions.js';
import type { Store } from '../store/index.js';

export const KIT_KERNEL_IMAGE = 'oneedge-kernel';
export const KIT_INITRD_IMAGE = 'oneedge-initrd';
const FILES_DS = 2;

/** The newest complete kit under `dir` (`<hash>/kit.json` written last by the build), if any. */
export async function findGuestKit(dir: string): Promise<{ hash: string; kernel: string; initrd: string } | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let best: { hash: string; kernel: string; initrd: string; at: number } | undefined;
  for (const hash of names) {
    if (!/^[0-9a-f]{8,64}$/.test(hash)) continue;
    const base = join(dir, hash);
    const manifest = await stat(join(base, 'kit.json')).catch(() => undefined);
    if (!manifest || !existsSync(join(base, 'initrd.img'))) continue;
    // The uncompressed kernel boots faster and is what Firecracker needs; the bzImage otherwise.
    const kernel = existsSync(join(base, 'vmlinux')) ? join(base, 'vmlinux') : join(base, 'vmlinuz');
    if (!existsSync(kernel)) continue;
    if (!best || manifest.mtimeMs > best.at) {
      best = { hash, kernel, initrd: join(base, 'initrd.img'), at: manifest.mtimeMs };
    }
  }
  return best && { hash: best.hash, kernel: best.kernel, initrd: best.initrd };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Registers (or refreshes) the kit images; returns their ids, or undefined when there is no kit. */
export async function registerGuestKitImages(
  store: Store,
  dataDir: string,
  kitDir: string,
  log: Logger,
): Promise<{ kernelId: number; initrdId: number } | undefined> {
  const kit = await findGuestKit(kitDir);
  if (!kit) {
    log.info({ kitDir }, 'no guest kit built; KERNEL/RAMDISK images not registered (run scripts/build-guest-kit)');
    return undefined;
  }
  const dir = join(dataDir, 'datastores', String(FILES_DS));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const one = async (name: string, type: ImageType, from: string, what: string): Promise<number> => {
    const sha256 = await sha256File(from);
    const existing = await store.objects.getByName('image', name, ONEADMIN_UID);
    if (existing && existing.body.sha256 === sha256 && existsSync(existing.body.source)) return existing.id;
    const path = join(dir, `guest-kit-${sha256.slice(0, 16)}-${type.toLowerCase()}`);
    if (!existsSync(path)) {
      await copyFile(from, `${path}.tmp`);
      await rename(`${path}.tmp`, path);
    }
    const size = (await stat(path)).size;
    const body: ImageBody = {
      type,
      datastore_id: FILES_DS,
      persistent: false,
      format: 'raw',
      size_mb: Math.max(1, Math.ceil(size / 1048576)),
      size_bytes: size,
      source: path,
      sha256,
      running_vms: existing?.body.running_vms ?? [],
    };
    const template = { TYPE: type, DESCRIPTION: what, GUEST_KIT: kit.hash };
    const image = existing
      ? await store.objects.update('image', existing.id, undefined, (o) => ({
          ...o,
          template: { ...o.template, ...template },
          body: { ...o.body, ...body },
          state: o.body.running_vms.length > 0 ? o.state : IMAGE_STATES.READY,
        }))
      : await store.objects.create('image', {
          name,
          uid: ONEADMIN_UID,
          gid: ONEADMIN_GID,
          uname: 'oneadmin',
          gname: 'oneadmin',
          perms: 0o644,
          state: IMAGE_STATES.READY,
          lcmState: 0,
          template,
          body,
        });
    log.info({ imageId: image.id, name, sha256, bytes: size, kit: kit.hash }, 'registered a guest kit image');
    return image.id;
  };
  const kernelId = await one(KIT_KERNEL_IMAGE, 'KERNEL', kit.kernel, 'guest kit kernel (linux-image-cloud-amd64)');
  const initrdId = await one(KIT_INITRD_IMAGE, 'RAMDISK', kit.initrd, 'guest kit initramfs (busybox, context, virtio)');
  return { kernelId, initrdId };
}
