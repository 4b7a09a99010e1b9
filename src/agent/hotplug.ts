import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { FrontEndMessage, PlanDisk, PlanNic } from '../core/agent-protocol.js';
import { OneError } from '../core/errors.js';
import type { RuntimeDriver } from '../drivers/runtime/types.js';
import type { DiskManager } from './disks.js';
import { type MachineDriver, MicrovmHotplug } from './microvm-hotplug.js';
import type { NetworkHost } from './network-host.js';
import type { WorkloadRecord, WorkloadRegistry } from './workload-registry.js';

type Plan = Extract<FrontEndMessage, { t: 'plan' }>;

const run = promisify(execFile);
/** How long a mount made on the host may take to show inside the container (propagation is synchronous; margin). */
const VISIBLE_WITHIN_MS = 2000;

/**
 * The host side of NIC and disk hot-plug (ops attach-nic, detach-nic,
 * attach-disk, detach-disk). Each op is idempotent, since the front-end may
 * send a plan again, and leaves the host as it was when it fails:
 *
 *   attach-nic   veth into the workload's namespace (IP, routes, MTU), the network's host side
 *                if this is its first NIC here, firewall rules for every NIC; undone on failure
 *   detach-nic   the veth goes, and the network's host side with its last NIC
 *   attach-disk  fetch/stage like PROLOG; a running container: loop-mount under the VM's
 *                mount root, verified visible inside the container at /mnt/<target>
 *   detach-disk  unmount (inside too), copy a persistent disk back to its image, delete it
 *
 * MicroVMs whose runtime declares machineHotplug (qemu) go to MicrovmHotplug;
 * other microVM runtimes (Firecracker) refuse with E_HOTPLUG_UNSUPPORTED.
 */
export class Hotplugger {
  private readonly vms: MicrovmHotplug;

  constructor(
    private readonly registry: WorkloadRegistry,
    private readonly driver: (name: string) => RuntimeDriver,
    private readonly log: Logger,
    private readonly network?: NetworkHost,
    private readonly disks?: DiskManager,
  ) {
    this.vms = new MicrovmHotplug(registry, log, network, disks);
  }

  async attachNic(plan: Plan, signal: AbortSignal): Promise<void> {
    const vm = this.microvm(plan, 'attach-nic');
    if (vm) return this.vms.attachNic(plan, vm.record, vm.driver, signal);
    const r = this.containerRecord(plan, 'attach-nic');
    const network = this.mustNetwork();
    const nic = findNic(plan.spec.nics, plan.spec.hotplug?.nicId);
    const wired = r.nics;
    if (!wired) {
      throw new OneError(
        'E_HOTPLUG_UNSUPPORTED',
        `VM ${plan.vmId} runs in the host's network namespace (it started without NICs); a NIC cannot be added`,
      );
    }
    const others = wired.nics.filter((n) => n.nicId !== nic.nicId);
    await network.attach(plan.vmId, nic, signal);
    try {
      await network.applyRules(plan.vmId, [...others, nic], signal);
    } catch (err) {
      await network.detach(plan.vmId, nic, AbortSignal.timeout(10_000)).catch(() => undefined);
      throw err;
    }
    await this.registry.patch(plan.vmId, { nics: { ...wired, nics: [...others, nic] } });
    this.log.info({ vmId: plan.vmId, nicId: nic.nicId, networkId: nic.networkId }, 'nic hot-attached');
  }

  async detachNic(plan: Plan, signal: AbortSignal): Promise<void> {
    const vm = this.microvm(plan, 'detach-nic');
    if (vm) return this.vms.detachNic(plan, vm.record, vm.driver, signal);
    const r = this.containerRecord(plan, 'detach-nic');
    const network = this.mustNetwork();
    const nicId = plan.spec.hotplug?.nicId;
    const wired = r.nics;
    const nic = wired?.nics.find((n) => n.nicId === nicId) ?? plan.spec.nics?.find((n) => n.nicId === nicId);
    if (!nic || !wired) return; // never wired here: nothing to remove
    const rest = wired.nics.filter((n) => n.nicId !== nic.nicId);
    await network.detach(plan.vmId, nic, signal);
    if (rest.length > 0) await network.applyRules(plan.vmId, rest, signal);
    await this.registry.patch(plan.vmId, { nics: { ...wired, nics: rest } });
    this.log.info({ vmId: plan.vmId, nicId: nic.nicId, networkId: nic.networkId }, 'nic hot-detached');
  }

  /**
   * Boot of an existing (powered-off) workload: NICs attached or detached
   * while it was off are plugged or unplugged now, before it starts.
   */
  async syncNics(plan: Plan, record: WorkloadRecord, signal: AbortSignal): Promise<void> {
    const caps = this.driver(record.runtime).capabilities;
    // A microVM runtime without hot-plug (Firecracker) never gets NIC changes: the front-end refuses them.
    if (caps.kind === 'microvm' && !caps.machineHotplug) return;
    const vm = this.microvm(plan, 'nic changes while off');
    if (vm) return this.vms.syncNics(plan, vm.record, vm.driver, signal);
    const wired = record.nics;
    if (!wired || !this.network) return;
    const wanted = plan.spec.nics ?? [];
    const have = new Set(wired.nics.map((n) => n.nicId));
    const keep = new Set(wanted.map((n) => n.nicId));
    const gone = wired.nics.filter((n) => !keep.has(n.nicId));
    const added = wanted.filter((n) => !have.has(n.nicId));
    if (gone.length === 0 && added.length === 0) return;
    for (const nic of gone) await this.network.detach(plan.vmId, nic, signal);
    for (const nic of added) await this.network.attach(plan.vmId, nic, signal);
    if (wanted.length > 0) await this.network.applyRules(plan.vmId, wanted, signal);
    await this.registry.patch(plan.vmId, { nics: { ...wired, nics: wanted } });
    this.log.info({ vmId: plan.vmId, added: added.length, removed: gone.length }, 'nics changed while off applied');
  }

  async attachDisk(plan: Plan, signal: AbortSignal): Promise<void> {
    const vm = this.microvm(plan, 'attach-disk');
    if (vm) return this.vms.attachDisk(plan, vm.record, vm.driver, signal);
    const r = this.containerRecord(plan, 'attach-disk');
    const disks = this.mustDisks();
    const disk = findDisk(plan.spec.disks, plan.spec.hotplug?.diskId);
    // Recorded before the transfer, so a cache eviction meanwhile cannot take the image.
    if (disk.sha256 && !(r.images ?? []).includes(disk.sha256)) {
      await this.registry.patch(plan.vmId, { images: [...(r.images ?? []), disk.sha256] });
    }
    try {
      const [prepared] = await disks.prepare(r.workDir, [disk], 'container', signal);
      const status = r.handle ? await this.driver(r.runtime).inspect(r.handle, signal) : undefined;
      const pid = status?.state === 'running' || status?.state === 'paused' ? status.pid : undefined;
      if (!prepared || pid === undefined) return; // powered off: the next boot mounts it
      const at = await disks.mountOne(r.workDir, prepared);
      if (!at) throw new OneError('E_HOTPLUG_UNSUPPORTED', `disk ${disk.diskId} (${disk.format}) cannot be mounted`);
      if (!(await visibleInside(pid, `/mnt/${disk.target}`, true))) {
        await disks.unmountOne(r.workDir, disk.target);
        throw new OneError(
          'E_HOTPLUG_UNSUPPORTED',
          `VM ${plan.vmId}'s container was started without the hot-plug mount at /mnt (an older agent); ` +
            'power it off and on, then attach again',
        );
      }
      this.log.info({ vmId: plan.vmId, diskId: disk.diskId, target: disk.target }, 'disk hot-attached');
    } catch (err) {
      await disks.removeDisk(r.workDir, disk.diskId).catch(() => undefined);
      await this.forgetImage(plan, disk);
      throw err;
    }
  }

  async detachDisk(plan: Plan, signal: AbortSignal): Promise<void> {
    const vm = this.microvm(plan, 'detach-disk');
    if (vm) return this.vms.detachDisk(plan, vm.record, vm.driver, signal);
    const r = this.containerRecord(plan, 'detach-disk');
    const disks = this.mustDisks();
    const disk = findDisk(plan.spec.disks, plan.spec.hotplug?.diskId);
    await disks.unmountOne(r.workDir, disk.target);
    const status = r.handle ? await this.driver(r.runtime).inspect(r.handle, signal) : undefined;
    if (status?.pid !== undefined && (await visibleInside(status.pid, `/mnt/${disk.target}`, false))) {
      // Propagation could not remove a busy mount inside: detach it there lazily (it goes when unused).
      await run('nsenter', ['-t', String(status.pid), '-m', '--', 'umount', '-l', `/mnt/${disk.target}`]);
    }
    await disks.copyBack(r.workDir, [disk], signal);
    await disks.removeDisk(r.workDir, disk.diskId);
    await this.forgetImage(plan, disk);
    this.log.info({ vmId: plan.vmId, diskId: disk.diskId, persistent: disk.persistent }, 'disk hot-detached');
  }

  /** The image of a disk that left is no longer pinned in the cache, unless another disk uses it. */
  private async forgetImage(plan: Plan, disk: PlanDisk): Promise<void> {
    const r = this.registry.get(plan.vmId);
    if (!r || !disk.sha256) return;
    const others = (plan.spec.disks ?? []).filter((d) => d.diskId !== disk.diskId).map((d) => d.sha256);
    if (others.includes(disk.sha256) || plan.spec.image?.sha256 === disk.sha256) return;
    await this.registry.patch(plan.vmId, { images: (r.images ?? []).filter((s) => s !== disk.sha256) });
  }

  /** A microVM whose runtime hot-plugs devices: its record and driver; undefined for containers. */
  private microvm(plan: Plan, op: string): { record: WorkloadRecord; driver: MachineDriver } | undefined {
    const r = this.registry.get(plan.vmId);
    if (!r) return undefined;
    const driver = this.driver(r.runtime);
    if (driver.capabilities.kind !== 'microvm') return undefined;
    const { attachDevice, detachDevice, updateContext } = driver;
    if (!driver.capabilities.machineHotplug || !attachDevice || !detachDevice || !updateContext) {
      throw new OneError('E_HOTPLUG_UNSUPPORTED', `${op} is not supported by the ${r.runtime} runtime`, {
        runtime: r.runtime,
      });
    }
    return {
      record: r,
      driver: {
        attachDevice: attachDevice.bind(driver),
        detachDevice: detachDevice.bind(driver),
        updateContext: updateContext.bind(driver),
      },
    };
  }

  private containerRecord(plan: Plan, op: string): WorkloadRecord {
    const r = this.registry.get(plan.vmId);
    if (!r) throw new OneError('E_DRIVER_FAILED', `VM ${plan.vmId} has no workload on this host`);
    const kind = this.driver(r.runtime).capabilities.kind;
    if (kind !== 'container') {
      throw new OneError('E_HOTPLUG_UNSUPPORTED', `${op} is not supported by the ${r.runtime} runtime (a ${kind})`, {
        runtime: r.runtime,
      });
    }
    return r;
  }

  private mustNetwork(): NetworkHost {
    if (!this.network) throw new OneError('E_DRIVER_UNSUPPORTED', 'this agent has no network support');
    return this.network;
  }

  private mustDisks(): DiskManager {
    if (!this.disks) throw new OneError('E_DRIVER_UNSUPPORTED', 'this agent cannot manage disks');
    return this.disks;
  }
}

function findNic(nics: PlanNic[] | undefined, nicId: number | undefined): PlanNic {
  const nic = nics?.find((n) => n.nicId === nicId);
  if (!nic) throw new OneError('E_DRIVER_FAILED', `the plan has no NIC ${String(nicId)} to attach`);
  return nic;
}

function findDisk(disks: PlanDisk[] | undefined, diskId: number | undefined): PlanDisk {
  const disk = disks?.find((d) => d.diskId === diskId);
  if (!disk) throw new OneError('E_DRIVER_FAILED', `the plan has no DISK ${String(diskId)}`);
  return disk;
}

/** Whether `path` is a mount point in the mount namespace of process `pid`, waiting for `expected` briefly. */
async function visibleInside(pid: number, path: string, expected: boolean): Promise<boolean> {
  const deadline = Date.now() + VISIBLE_WITHIN_MS;
  for (;;) {
    const text = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
    const seen = text.split('\n').some((l) => (l.split(' ')[4] ?? '') === path);
    if (seen === expected || Date.now() >= deadline) return seen;
    await new Promise((r) => setTimeout(r, 50));
  }
}
