/**
 * The KERNEL and RAMDISK images a microVM boots, from `OS = [KERNEL_ID, INITRD_ID]`
 * (filled in from `KERNEL_DS`/`INITRD_DS` when the VM was created, see
 * services/os-files.ts), as the image references the agent fetches through
 * its image cache like any disk image.
 */
import type { PlanMachine } from '../../core/agent-protocol.js';
import { OneError } from '../../core/errors.js';
import { getVector } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';
import type { Store } from '../../store/index.js';

export async function planOsFiles(store: Store, t: Template): Promise<Pick<PlanMachine, 'kernel' | 'initrd'>> {
  const os = getVector(t, 'OS');
  const out: Pick<PlanMachine, 'kernel' | 'initrd'> = {};
  for (const [attr, key] of [
    ['KERNEL_ID', 'kernel'],
    ['INITRD_ID', 'initrd'],
  ] as const) {
    const id = os?.[attr];
    if (id === undefined || !/^\d+$/.test(id)) continue;
    const image = await store.objects.get('image', Number(id));
    if (!image?.body.sha256) {
      throw new OneError('E_NOT_FOUND', `OS/${attr}: image ${id} does not exist or has no content`, {
        kind: 'image',
        id: Number(id),
      });
    }
    out[key] = {
      id: image.id,
      sha256: image.body.sha256,
      sizeBytes: image.body.size_bytes ?? image.body.size_mb * 1024 * 1024,
    };
  }
  return out;
}
