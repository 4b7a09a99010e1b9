import { OneError } from '../../core/errors.js';
import { IMAGE_STATES, type PoolObject } from '../../core/model.js';
import type { Principal } from '../../core/permissions.js';
import { getVectors, setValue } from '../../core/template/index.js';
import type { Template, TemplateVector } from '../../core/template/types.js';
import type { TxStore } from '../../store/index.js';

/** The image ids a VM's DISKs name (after {@link resolveDiskImages} every image DISK has IMAGE_ID). */
export function diskImageIds(template: Template): number[] {
  return getVectors(template, 'DISK')
    .map((d) => d.IMAGE_ID)
    .filter((v): v is string => v !== undefined && /^\d+$/.test(v))
    .map(Number);
}

/**
 * Every image a VM uses: its DISKs and the KERNEL/RAMDISK files its OS section
 * names (KERNEL_ID, INITRD_ID, filled in when the VM is created), so none of them can
 * be deleted or disabled under it.
 */
export function usedImageIds(template: Template): number[] {
  const os = getVectors(template, 'OS')[0];
  const files = [os?.KERNEL_ID, os?.INITRD_ID].filter((v): v is string => v !== undefined && /^\d+$/.test(v));
  return [...diskImageIds(template), ...files.map(Number)];
}

/** The state an image has with these users. */
export function usageState(image: PoolObject<'image'>, runningVms: number[]): number {
  if (runningVms.length === 0) return IMAGE_STATES.READY;
  return image.body.persistent ? IMAGE_STATES.USED_PERS : IMAGE_STATES.USED;
}

/**
 * Fills IMAGE_ID into every DISK that names its image by IMAGE (+ IMAGE_UID /
 * IMAGE_UNAME), like OpenNebula does when a VM is created, so later steps
 * (transfer, usage, copy-back) only deal with ids.
 */
export async function resolveDiskImages(tx: TxStore, who: Principal, template: Template): Promise<Template> {
  const disks = getVectors(template, 'DISK');
  if (disks.length === 0 || disks.every((d) => d.IMAGE === undefined || d.IMAGE_ID !== undefined)) return template;
  const images = await tx.list('image', { visibleTo: who });
  const users = disks.some((d) => d.IMAGE_UNAME !== undefined) ? await tx.list('user') : [];
  const out: TemplateVector[] = disks.map((d) => {
    if (d.IMAGE === undefined || d.IMAGE_ID !== undefined) return d;
    let uid = who.uid;
    if (d.IMAGE_UID !== undefined) uid = Number(d.IMAGE_UID);
    else if (d.IMAGE_UNAME !== undefined) uid = users.find((u) => u.name === d.IMAGE_UNAME)?.id ?? -1;
    const hit =
      images.find((i) => i.name === d.IMAGE && i.uid === uid) ??
      (d.IMAGE_UID === undefined && d.IMAGE_UNAME === undefined ? images.find((i) => i.name === d.IMAGE) : undefined);
    return hit ? { ...d, IMAGE_ID: String(hit.id) } : d;
  });
  return setValue(template, 'DISK', out.length === 1 ? (out[0] as TemplateVector) : out);
}

/**
 * A new VM takes its images: each must be usable (READY, or USED for a
 * non-persistent one); a persistent image serves one VM at a time.
 */
export async function acquireImages(tx: TxStore, vmId: number, template: Template): Promise<void> {
  for (const id of new Set(usedImageIds(template))) {
    const image = await tx.get('image', id);
    if (!image) throw new OneError('E_NOT_FOUND', `image ${id} does not exist`, { kind: 'image', id });
    const s = image.state;
    const usable = s === IMAGE_STATES.READY || (s === IMAGE_STATES.USED && !image.body.persistent);
    if (!usable) {
      const why =
        s === IMAGE_STATES.USED_PERS
          ? `is persistent and already used by VM ${image.body.running_vms.join(', ')}`
          : `is ${stateName(s)}`;
      throw new OneError('E_IMAGE_STATE', `image ${id} (${image.name}) ${why}`, { id, state: stateName(s) });
    }
    await tx.update('image', id, image.revision, (o) => {
      const running = [...new Set([...o.body.running_vms, vmId])];
      return { ...o, state: usageState(o, running), body: { ...o.body, running_vms: running } };
    });
  }
}

/** A VM that is DONE gives its images back. */
export async function releaseImages(tx: TxStore, vmId: number, template: Template): Promise<void> {
  for (const id of new Set(usedImageIds(template))) {
    const image = await tx.get('image', id);
    if (!image?.body.running_vms.includes(vmId)) continue;
    await tx.update('image', id, image.revision, (o) => {
      const running = o.body.running_vms.filter((v) => v !== vmId);
      const busy = o.state === IMAGE_STATES.USED || o.state === IMAGE_STATES.USED_PERS;
      return { ...o, state: busy ? usageState(o, running) : o.state, body: { ...o.body, running_vms: running } };
    });
  }
}

export function stateName(state: number): string {
  return Object.entries(IMAGE_STATES).find(([, v]) => v === state)?.[0] ?? String(state);
}
