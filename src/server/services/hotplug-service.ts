import { OneError } from '../../core/errors.js';
import {
  findDevice,
  type HotplugKind,
  type HotplugRecord,
  hotplugTransition,
  nextId,
  updateDevice,
  withDiskIds,
} from '../../core/hotplug.js';
import { MICROVM_RUNTIMES } from '../../core/machine-spec.js';
import type { PoolObject, VmBody } from '../../core/model.js';
import type { Principal } from '../../core/permissions.js';
import { addValue, getVectors } from '../../core/template/index.js';
import type { Template, TemplateVector } from '../../core/template/types.js';
import { isVhostUserNic } from '../../core/vhost-user.js';
import { LCM_STATES, VM_STATES } from '../../core/vm-states.js';
import type { Store, TxStore } from '../../store/index.js';
import { planDisks } from '../agents/plan-disks.js';
import { runtimeFor } from '../agents/runtime-choice.js';
import { acquireImages, resolveDiskImages } from './image-usage.js';
import type { ObjectService } from './object-service.js';
import { readTemplate, type TemplateInput } from './template-input.js';
import { phaseOf } from './vm-service.js';
import type { VnetService } from './vnet-service.js';

const NIC_ATTRIBUTES = new Set([
  'NETWORK',
  'NETWORK_ID',
  'NETWORK_UID',
  'NETWORK_UNAME',
  'IP',
  'IP6',
  'MAC',
  'AR_ID',
  'SECURITY_GROUPS',
  'NAME',
  'MODEL',
]);
const DISK_ATTRIBUTES = new Set([
  'IMAGE',
  'IMAGE_ID',
  'IMAGE_UID',
  'IMAGE_UNAME',
  'TYPE',
  'SIZE',
  'FORMAT',
  'FS',
  'TARGET',
  'READONLY',
]);
const VOLATILE_FS = new Set(['ext4', 'ext3', 'ext2', 'vfat', 'raw']);
/** microVM runtimes whose driver plugs disks and NICs into a running machine (PCIe hot-plug slots). */
const MACHINE_HOTPLUG_RUNTIMES: ReadonlySet<string> = new Set(['qemu']);
const TARGET = /^[a-z]{2,3}[a-z]{1,2}$/;
/** A volatile disk larger than this is refused (it is a sparse file, but mkfs and copies are not free). */
const MAX_VOLATILE_MB = 1024 * 1024;

/**
 * NIC and disk hot-plug on a VM (reference: OpenNebula's one.vm.attachnic /
 * detachnic / attach / detach). Each request is one transaction: the lease
 * or image is taken, the NIC/DISK is written with ATTACH=YES and the VM moves
 * to its hot-plug state with the host op pending; the lifecycle controller
 * sends the op to the VM's host and {@link settleInTx} finishes (or rolls
 * back) when the result comes. Anything refused changes nothing.
 */
export class HotplugService {
  constructor(
    private readonly store: Store,
    private readonly objects: ObjectService,
    private readonly nets: VnetService | undefined,
  ) {}

  /** `onevm nic-attach`: `input` holds one NIC vector (text `NIC = [ … ]` or JSON `{NIC: {…}}`). */
  async attachNic(who: Principal, vmId: number, input: TemplateInput): Promise<PoolObject<'vm'>> {
    const nic = oneVector(input, 'NIC', NIC_ATTRIBUTES);
    if ((nic.NETWORK_MODE ?? '').toLowerCase() === 'auto') {
      throw new OneError('E_TEMPLATE_INVALID', 'NIC: NETWORK_MODE=auto is for the scheduler; name the network', {
        attribute: 'NIC/NETWORK_MODE',
      });
    }
    const nets = this.nets;
    if (!nets) throw new OneError('E_UNAVAILABLE', 'virtual networks are not available on this front-end');
    return this.store.objects.transaction(async (tx) => {
      const vm = await this.objects.mustGetTx(tx, who, 'vm', vmId, 'manage');
      const step = hotplugTransition(phaseOf(vm), 'nic-attach');
      const runtime = await this.refuseMicroVm(tx, vm, 'nic-attach');
      // A microVM's NICs are taps on the host: one with none yet can still get one.
      if (getVectors(vm.template, 'NIC').length === 0 && !MICROVM_RUNTIMES.has(runtime)) {
        throw new OneError(
          'E_HOTPLUG_UNSUPPORTED',
          `VM ${vm.id} has no NIC: its container shares the host's network, so it has no namespace to plug a NIC into; ` +
            'create the VM with at least one NIC',
          { vm_id: vm.id },
        );
      }
      await this.checkGroups(tx, who, nic);
      const nicId = nextId(vm.template, 'NIC');
      // IPAM errors (exhaustion, out of range, duplicate MAC) are thrown here, before anything is written.
      const leased = await nets.leaseNic(tx, who, nic, vm.id, nicId, 'NIC');
      const hot = step.op !== undefined;
      if (isVhostUserNic(leased) && (hot || runtime !== 'qemu')) {
        // Boot-time vhost-user NICs need shared guest memory from the start, and only qemu microVMs have them.
        throw new OneError(
          'E_VHOST_USER',
          hot
            ? `NIC: network ${leased.NETWORK_ID} gives vhost-user NICs (BRIDGE_TYPE = openvswitch_dpdk), which cannot be hot-plugged; power VM ${vm.id} off, attach the NIC, resume it`
            : `NIC: network ${leased.NETWORK_ID} gives vhost-user NICs (BRIDGE_TYPE = openvswitch_dpdk), which only qemu microVMs can have; VM ${vm.id} runs on ${runtime}`,
          { vm_id: vm.id, attribute: 'NIC/NETWORK_ID' },
        );
      }
      await this.checkHostDriver(tx, vm, leased);
      const template = addValue(vm.template, 'NIC', hot ? { ...leased, ATTACH: 'YES' } : leased);
      return this.write(tx, vm, template, step, hot ? { kind: 'nic-attach', id: nicId } : null);
    });
  }

  /** `onevm nic-detach`. */
  async detachNic(who: Principal, vmId: number, nicId: number): Promise<PoolObject<'vm'>> {
    return this.store.objects.transaction(async (tx) => {
      const vm = await this.objects.mustGetTx(tx, who, 'vm', vmId, 'manage');
      const step = hotplugTransition(phaseOf(vm), 'nic-detach');
      if (!findDevice(vm.template, 'NIC', nicId)) {
        throw new OneError('E_NOT_FOUND', `VM ${vm.id} has no NIC ${nicId}`, { vm_id: vm.id, nic_id: nicId });
      }
      await this.refuseMicroVm(tx, vm, 'nic-detach');
      if (step.op === undefined) {
        // Powered off: the template changes now, the next boot removes the interface.
        await this.nets?.releaseVm(tx, vm.id, nicId);
        return this.write(
          tx,
          vm,
          updateDevice(vm.template, 'NIC', nicId, () => undefined),
          step,
          null,
        );
      }
      const template = updateDevice(vm.template, 'NIC', nicId, (v) => ({ ...v, ATTACH: 'YES' }));
      return this.write(tx, vm, template, step, { kind: 'nic-detach', id: nicId });
    });
  }

  /** `onevm disk-attach`: an image (IMAGE / IMAGE_ID) or a volatile disk (TYPE=fs|swap, SIZE in MB). */
  async attachDisk(who: Principal, vmId: number, input: TemplateInput): Promise<PoolObject<'vm'>> {
    const disk = oneVector(input, 'DISK', DISK_ATTRIBUTES);
    return retryOnRace(() => this.attachDiskOnce(who, vmId, disk));
  }

  private async attachDiskOnce(who: Principal, vmId: number, disk: TemplateVector): Promise<PoolObject<'vm'>> {
    // Targets in use come from the stored disks (read outside the transaction: planDisks reads through the store).
    const before = await this.objects.get(who, 'vm', vmId, 'manage');
    const taken = new Set((await planDisks(this.store, before.template)).map((d) => d.target));
    return this.store.objects.transaction(async (tx) => {
      const vm = await this.objects.mustGetTx(tx, who, 'vm', vmId, 'manage');
      if (vm.revision !== before.revision) {
        throw new OneError('E_CONFLICT', `VM ${vm.id} changed while the disk was prepared; try again`, {
          vm_id: vm.id,
          race: true,
        });
      }
      const step = hotplugTransition(phaseOf(vm), 'disk-attach');
      const runtime = await this.refuseMicroVm(tx, vm, 'disk-attach');
      const diskId = nextId(vm.template, 'DISK');
      let checked = await this.checkDisk(tx, who, disk, MICROVM_RUNTIMES.has(runtime));
      if (checked.TARGET !== undefined && taken.has(checked.TARGET)) {
        throw new OneError('E_TEMPLATE_INVALID', `DISK/TARGET: VM ${vm.id} already has a disk at ${checked.TARGET}`, {
          attribute: 'DISK/TARGET',
        });
      }
      checked = { ...checked, DISK_ID: String(diskId), TARGET: checked.TARGET ?? freeTarget(taken) };
      await acquireImages(tx, vm.id, { DISK: checked });
      const template = addValue(withDiskIds(vm.template), 'DISK', { ...checked, ATTACH: 'YES' });
      return this.write(tx, vm, template, step, { kind: 'disk-attach', id: diskId });
    });
  }

  /** `onevm disk-detach`: the disk is unmounted on the host, copied back if persistent, then removed. */
  async detachDisk(who: Principal, vmId: number, diskId: number): Promise<PoolObject<'vm'>> {
    return retryOnRace(() => this.detachDiskOnce(who, vmId, diskId));
  }

  private async detachDiskOnce(who: Principal, vmId: number, diskId: number): Promise<PoolObject<'vm'>> {
    const before = await this.objects.get(who, 'vm', vmId, 'manage');
    const plan = (await planDisks(this.store, before.template)).find((d) => d.diskId === diskId);
    return this.store.objects.transaction(async (tx) => {
      const vm = await this.objects.mustGetTx(tx, who, 'vm', vmId, 'manage');
      if (vm.revision !== before.revision) {
        throw new OneError('E_CONFLICT', `VM ${vm.id} changed meanwhile; try again`, { vm_id: vm.id, race: true });
      }
      const step = hotplugTransition(phaseOf(vm), 'disk-detach');
      const template = withDiskIds(vm.template);
      if (!findDevice(template, 'DISK', diskId)) {
        throw new OneError('E_NOT_FOUND', `VM ${vm.id} has no DISK ${diskId}`, { vm_id: vm.id, disk_id: diskId });
      }
      await this.refuseMicroVm(tx, vm, 'disk-detach');
      if (plan?.format === 'rootfs-tar') {
        throw new OneError(
          'E_HOTPLUG_UNSUPPORTED',
          `DISK ${diskId} is the VM's root filesystem; it cannot be detached`,
          {
            vm_id: vm.id,
            disk_id: diskId,
          },
        );
      }
      const marked = updateDevice(template, 'DISK', diskId, (v) => ({ ...v, ATTACH: 'YES' }));
      return this.write(tx, vm, marked, step, { kind: 'disk-detach', id: diskId });
    });
  }

  private async write(
    tx: TxStore,
    vm: PoolObject<'vm'>,
    template: Template,
    step: ReturnType<typeof hotplugTransition>,
    hotplug: HotplugRecord | null,
  ): Promise<PoolObject<'vm'>> {
    const body: VmBody = { ...vm.body, pending_op: step.op ?? null, hotplug };
    if (hotplug) body.error = null;
    return tx.replace(vm, {
      ...vm,
      template,
      state: VM_STATES[step.to.state],
      lcmState: LCM_STATES[step.to.lcm],
      body,
    });
  }

  /**
   * microVM runtimes without hot-plug slots (Firecracker: its devices are fixed at boot) are refused
   * by name; returns the VM's runtime.
   */
  private async refuseMicroVm(tx: TxStore, vm: PoolObject<'vm'>, kind: HotplugKind): Promise<string> {
    const host = vm.body.host_id === null ? undefined : await tx.get('host', vm.body.host_id);
    const runtime = runtimeFor(vm.template, host?.body.facts?.runtimes ?? []);
    if (MICROVM_RUNTIMES.has(runtime) && !MACHINE_HOTPLUG_RUNTIMES.has(runtime)) {
      throw new OneError(
        'E_HOTPLUG_UNSUPPORTED',
        `${kind} is not supported for ${runtime} microVMs (their devices are fixed at boot); ` +
          'change the template and re-create the VM',
        { vm_id: vm.id, runtime },
      );
    }
    return runtime;
  }

  /** The VM's host must offer the network's driver (its agent reported it usable). */
  private async checkHostDriver(tx: TxStore, vm: PoolObject<'vm'>, nic: TemplateVector): Promise<void> {
    const host = vm.body.host_id === null ? undefined : await tx.get('host', vm.body.host_id);
    const offered = host?.body.facts?.networkDrivers;
    const mad = nic.VN_MAD ?? 'bridge';
    if (offered && !offered.includes(mad)) {
      const why = host?.body.facts?.networkUnusable?.[mad];
      throw new OneError(
        'E_NETWORK_DRIVER',
        `host ${host?.name} of VM ${vm.id} cannot use network driver ${mad}${why ? `: ${why}` : ''}`,
        { host_id: host?.id, driver: mad },
      );
    }
  }

  private async checkGroups(tx: TxStore, who: Principal, nic: TemplateVector): Promise<void> {
    const raw = (nic.SECURITY_GROUPS ?? '').split(',').map((s) => s.trim());
    for (const id of raw.filter(Boolean)) {
      if (!/^\d+$/.test(id)) {
        throw new OneError('E_TEMPLATE_INVALID', `NIC/SECURITY_GROUPS: '${id}' is not a security group id`, {
          attribute: 'NIC/SECURITY_GROUPS',
        });
      }
    }
    // Only the groups named: the default group 0 always applies (and works even where its row is absent).
    for (const id of new Set(raw.filter(Boolean).map(Number))) {
      const g = await tx.get('secgroup', id);
      try {
        if (!g) throw new Error('missing');
        this.objects.authorize(who, 'secgroup', id, g, 'use');
      } catch {
        throw new OneError('E_TEMPLATE_INVALID', `NIC/SECURITY_GROUPS: security group ${id} does not exist`, {
          attribute: 'NIC/SECURITY_GROUPS',
        });
      }
    }
  }

  /**
   * An image disk the caller may use — a raw filesystem for a container, a raw or qcow2 disk image
   * for a microVM — or a well-formed volatile disk.
   */
  private async checkDisk(
    tx: TxStore,
    who: Principal,
    disk: TemplateVector,
    microvm: boolean,
  ): Promise<TemplateVector> {
    if (disk.TARGET !== undefined && !TARGET.test(disk.TARGET)) {
      throw new OneError('E_TEMPLATE_INVALID', `DISK/TARGET: '${disk.TARGET}' is not a device name like vdb`, {
        attribute: 'DISK/TARGET',
      });
    }
    if (disk.IMAGE !== undefined || disk.IMAGE_ID !== undefined) {
      const resolved = (await resolveDiskImages(tx, who, { DISK: disk })).DISK as TemplateVector;
      const id = resolved.IMAGE_ID;
      const image = id !== undefined && /^\d+$/.test(id) ? await tx.get('image', Number(id)) : undefined;
      const label = disk.IMAGE_ID !== undefined ? `image ${disk.IMAGE_ID}` : `image '${disk.IMAGE}'`;
      try {
        if (!image) throw new Error('missing');
        this.objects.authorize(who, 'image', image.id, image, 'use');
      } catch {
        throw new OneError('E_TEMPLATE_INVALID', `DISK: ${label} does not exist or you may not use it`, {
          attribute: disk.IMAGE_ID !== undefined ? 'DISK/IMAGE_ID' : 'DISK/IMAGE',
        });
      }
      const formats = microvm ? ['raw', 'qcow2'] : ['raw'];
      if (!formats.includes(image.body.format)) {
        throw new OneError(
          'E_HOTPLUG_UNSUPPORTED',
          microvm
            ? `image ${image.id} (${image.name}) is ${image.body.format}; microVMs hot-plug raw and qcow2 disk images`
            : `image ${image.id} (${image.name}) is ${image.body.format}; containers hot-plug raw filesystem images only`,
          { image_id: image.id, format: image.body.format },
        );
      }
      return resolved;
    }
    const type = (disk.TYPE ?? '').toLowerCase();
    const size = Number(disk.SIZE ?? Number.NaN);
    if (type === 'swap' && !microvm) {
      throw new OneError('E_HOTPLUG_UNSUPPORTED', 'a swap disk cannot be used by a container; attach TYPE=fs', {
        attribute: 'DISK/TYPE',
      });
    }
    if (type !== 'fs' && type !== 'swap') {
      throw new OneError('E_TEMPLATE_INVALID', 'DISK needs IMAGE, IMAGE_ID, or TYPE=fs|swap with SIZE', {
        attribute: 'DISK/TYPE',
      });
    }
    if (!Number.isInteger(size) || size < 1 || size > MAX_VOLATILE_MB) {
      throw new OneError('E_TEMPLATE_INVALID', `DISK/SIZE must be a whole number of MB from 1 to ${MAX_VOLATILE_MB}`, {
        attribute: 'DISK/SIZE',
      });
    }
    const fs = (disk.FS ?? disk.FORMAT ?? 'ext4').toLowerCase();
    if (type === 'fs' && !VOLATILE_FS.has(fs)) {
      throw new OneError('E_TEMPLATE_INVALID', `DISK/FORMAT: '${fs}' is not one of ${[...VOLATILE_FS].join(', ')}`, {
        attribute: 'DISK/FORMAT',
      });
    }
    return { ...disk, TYPE: type, SIZE: String(size), ...(type === 'fs' ? { FORMAT: fs } : {}) };
  }
}

/** The one NIC or DISK vector of a hot-plug request, with only the attributes a user may set. */
function oneVector(input: TemplateInput, name: 'NIC' | 'DISK', allowed: ReadonlySet<string>): TemplateVector {
  const parsed = readTemplate(input).template;
  const extra = Object.keys(parsed).filter((k) => k !== name);
  const vectors = getVectors(parsed, name);
  if (extra.length > 0 || vectors.length !== 1) {
    throw new OneError('E_TEMPLATE_INVALID', `the template must hold exactly one ${name} = [ … ] and nothing else`, {
      attribute: extra[0] ?? name,
    });
  }
  const v = vectors[0] as TemplateVector;
  for (const key of Object.keys(v)) {
    if (!allowed.has(key)) {
      throw new OneError('E_TEMPLATE_INVALID', `${name}/${key} cannot be set on a hot-plugged ${name}`, {
        attribute: `${name}/${key}`,
        allowed: [...allowed],
      });
    }
  }
  return v;
}

/** Disk requests read the VM once outside their transaction: a change in between is retried, not reported. */
async function retryOnRace<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= 3 || !(err instanceof OneError) || err.details.race !== true) throw err;
    }
  }
}

function freeTarget(taken: Set<string>): string {
  for (let i = 1; i < 52; i++) {
    const name = i < 26 ? `vd${String.fromCharCode(97 + i)}` : `vda${String.fromCharCode(97 + (i - 26))}`;
    if (!taken.has(name)) return name;
  }
  throw new OneError('E_TEMPLATE_INVALID', 'the VM has no free disk target left', { attribute: 'DISK/TARGET' });
}
