import { isHotplugState, settleHotplug } from '../../core/hotplug.js';
import type { PoolObject } from '../../core/model.js';
import { getVectors } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';
import type { Transition } from '../../core/vm-state-machine.js';
import type { TxStore } from '../../store/index.js';
import { releaseImages } from './image-usage.js';
import type { VnetService } from './vnet-service.js';

/** Whether a transition ends the VM's hot-plug (a driver result or recover leaving a HOTPLUG* state). */
export function endsHotplug(vm: PoolObject<'vm'>, t: Transition): boolean {
  return !!vm.body.hotplug && t.from.state === 'ACTIVE' && isHotplugState(t.from.lcm) && !isHotplugState(t.to.lcm);
}

/**
 * After the host answered (or recover decided): the VM's template and body
 * once its hot-plug is settled; a NIC/DISK that left gives its lease or image
 * back in the same transaction. Used by the lifecycle controller and recover.
 */
export async function settleInTx(
  tx: TxStore,
  nets: VnetService | undefined,
  vm: PoolObject<'vm'>,
  success: boolean,
): Promise<Template> {
  const hp = vm.body.hotplug;
  if (!hp) return vm.template;
  const { template, removed } = settleHotplug(vm.template, hp, success);
  if (removed?.name === 'NIC') await nets?.releaseVm(tx, vm.id, hp.id);
  if (removed?.name === 'DISK') {
    const imageId = removed.vector.IMAGE_ID;
    const stillUsed = getVectors(template, 'DISK').some((d) => d.IMAGE_ID === imageId);
    if (imageId !== undefined && !stillUsed) await releaseImages(tx, vm.id, { DISK: removed.vector });
  }
  return template;
}
