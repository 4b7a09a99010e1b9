import type { PlanDisk } from '../../core/agent-protocol.js';
import { diskIdOf } from '../../core/hotplug.js';
import { getVectors } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';
import type { Store } from '../../store/index.js';

const DEV_PREFIX = 'vd';
/** Filesystems a volatile disk can be created with on a host (mkfs.<fs> / mkswap); anything else is ext4. */
const VOLATILE_FS = new Set(['ext4', 'ext3', 'ext2', 'vfat', 'raw', 'swap']);

/** The next free device name: vda, vdb, … vdz, vdaa … */
function deviceName(prefix: string, index: number): string {
  const letters = index < 26 ? String.fromCharCode(97 + index) : `a${String.fromCharCode(97 + (index - 26))}`;
  return `${prefix}${letters}`;
}

/**
 * The runtime-neutral disk list of a VM (PlanSpec.disks): image disks with
 * what the host needs to fetch and verify them, volatile disks with their
 * size and filesystem. Targets follow OpenNebula's automatic order when not
 * given: OS disks first, then CDROMs, then the rest.
 */
export async function planDisks(store: Store, template: Template): Promise<PlanDisk[]> {
  const vectors = getVectors(template, 'DISK');
  const disks: (PlanDisk & { order: number })[] = [];
  for (const [index, d] of vectors.entries()) {
    const diskId = diskIdOf(d, index);
    const readonly = (d.READONLY ?? 'NO').toUpperCase() === 'YES';
    if (d.IMAGE_ID !== undefined && /^\d+$/.test(d.IMAGE_ID)) {
      const image = await store.objects.get('image', Number(d.IMAGE_ID));
      if (!image) continue;
      const type = image.body.type;
      disks.push({
        diskId,
        imageId: image.id,
        sha256: image.body.sha256,
        sizeBytes: image.body.size_bytes ?? image.body.size_mb * 1024 * 1024,
        format: image.body.format,
        type,
        target: d.TARGET ?? '',
        persistent: image.body.persistent,
        readonly: readonly || type === 'CDROM' || type === 'KERNEL' || type === 'RAMDISK' || type === 'CONTEXT',
        order: type === 'OS' ? 0 : type === 'CDROM' ? 1 : 2,
      });
      continue;
    }
    const size = Number(d.SIZE ?? Number.NaN);
    const volType = (d.TYPE ?? '').toLowerCase();
    if ((volType === 'fs' || volType === 'swap') && Number.isInteger(size) && size > 0) {
      const fs = volType === 'swap' ? 'swap' : (d.FS ?? d.FORMAT ?? 'ext4').toLowerCase();
      disks.push({
        diskId,
        imageId: null,
        sha256: null,
        sizeBytes: size * 1024 * 1024,
        format: 'raw',
        type: volType,
        target: d.TARGET ?? '',
        persistent: false,
        readonly: false,
        volatile: { sizeMb: size, fs: VOLATILE_FS.has(fs) ? fs : 'ext4' },
        order: 2,
      });
    }
  }
  const taken = new Set(disks.map((d) => d.target).filter(Boolean));
  let next = 0;
  for (const d of [...disks].sort((a, b) => a.order - b.order || a.diskId - b.diskId)) {
    if (d.target) continue;
    while (taken.has(deviceName(DEV_PREFIX, next))) next++;
    d.target = deviceName(DEV_PREFIX, next);
    taken.add(d.target);
  }
  return disks.map(({ order: _o, ...d }) => d);
}
