import type { Command } from 'commander';
import { ApiError, type ApiObject, type OneEdgeClient } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';
import { resolveOne } from './id-refs.js';
import { withOutputOptions } from './output.js';
import { emit } from './pool-verbs.js';

type OutputOpts = { json?: boolean; yaml?: boolean };
type WaitOpts = OutputOpts & { wait?: boolean; timeout?: string };

const HOTPLUG_STATES = new Set(['HOTPLUG', 'HOTPLUG_NIC', 'HOTPLUG_PROLOG_POWEROFF', 'HOTPLUG_EPILOG_POWEROFF']);

/**
 * `oneedge vm nic-attach|nic-detach|disk-attach|disk-detach`: hot-plug on a
 * RUNNING container (or a POWEROFF VM). Without `--wait` the command returns
 * once the front-end accepted the request; with it, once the host is done,
 * exiting non-zero with the VM's recorded error when the host refused.
 */
export function registerVmHotplug(vm: Command, ctx: CliContext): void {
  waitOptions(withOutputOptions(vm.command('nic-attach').description('hot-attach a NIC to a VM')))
    .argument('<vm>', 'VM id or name')
    .option('--network <network>', 'virtual network id or name')
    .option('--ip <ip>', 'a specific IPv4 address from the network')
    .option('--mac <mac>', 'a specific MAC address')
    .option('--secgroups <ids>', 'security group ids, comma separated (the default group 0 always applies)')
    .option('--file <file>', 'a NIC = [ … ] template instead of the options ("-" reads stdin)')
    .option('--template <text>', "the NIC inline: 'NIC = [ NETWORK = net, IP = 10.0.0.5 ]'")
    .action(
      async (
        ref: string,
        opts: WaitOpts & {
          network?: string;
          ip?: string;
          mac?: string;
          secgroups?: string;
          file?: string;
          template?: string;
        },
      ) => {
        const given = [opts.network, opts.file, opts.template].filter((o) => o !== undefined).length;
        if (given !== 1) throw new UsageError('give exactly one of --network NETWORK, --file FILE or --template TEXT');
        await ctx.withClient(async (one) => {
          const vmId = await resolveOne(one, 'vm', ref);
          let nic: Record<string, string> | string;
          if (opts.template !== undefined) nic = opts.template;
          else if (opts.file !== undefined) nic = await readText(ctx, opts.file);
          else {
            nic = { NETWORK_ID: String(await resolveOne(one, 'vnet', opts.network as string)) };
            if (opts.ip) nic.IP = opts.ip;
            if (opts.mac) nic.MAC = opts.mac;
            if (opts.secgroups) nic.SECURITY_GROUPS = opts.secgroups;
          }
          const before = await one.get('vm', vmId);
          let v = await one.attachNic(vmId, nic);
          if (opts.wait) v = await settled(one, vmId, opts, before, 'NIC', true);
          emit(ctx, opts, [v], () => `VM ${v.id}: ${stateOf(v)}\n`);
        });
      },
    );

  waitOptions(withOutputOptions(vm.command('nic-detach').description('hot-detach a NIC from a VM')))
    .argument('<vm>', 'VM id or name')
    .argument('<nic_id>', 'NIC_ID of the NIC (see vm show)')
    .action(async (ref: string, nic: string, opts: WaitOpts) => {
      const nicId = wholeNumber(nic, 'nic_id');
      await ctx.withClient(async (one) => {
        const vmId = await resolveOne(one, 'vm', ref);
        const before = await one.get('vm', vmId);
        let v = await one.detachNic(vmId, nicId);
        if (opts.wait) v = await settled(one, vmId, opts, before, 'NIC', false);
        emit(ctx, opts, [v], () => `VM ${v.id}: ${stateOf(v)}\n`);
      });
    });

  waitOptions(withOutputOptions(vm.command('disk-attach').description('hot-attach an image or a new volatile disk')))
    .argument('<vm>', 'VM id or name')
    .option('--image <image>', 'image id or name (a raw filesystem: DATABLOCK or OS)')
    .option('--size <mb>', 'a new volatile disk of this many MB')
    .option('--type <type>', 'volatile disk type: fs', 'fs')
    .option('--format <fs>', 'volatile disk filesystem: ext4, ext3, ext2, vfat, raw', 'ext4')
    .option('--target <dev>', 'device name (vdb, vdc …); containers see the disk at /mnt/<target>')
    .option('--readonly', 'attach read-only')
    .option('--file <file>', 'a DISK = [ … ] template instead of the options ("-" reads stdin)')
    .option('--template <text>', "the DISK inline: 'DISK = [ IMAGE = data, TARGET = vdc ]'")
    .action(
      async (
        ref: string,
        opts: WaitOpts & {
          image?: string;
          size?: string;
          type: string;
          format: string;
          target?: string;
          readonly?: boolean;
          file?: string;
          template?: string;
        },
      ) => {
        const given = [opts.image, opts.size, opts.file, opts.template].filter((o) => o !== undefined).length;
        if (given !== 1) {
          throw new UsageError('give exactly one of --image IMAGE, --size MB, --file FILE or --template TEXT');
        }
        await ctx.withClient(async (one) => {
          const vmId = await resolveOne(one, 'vm', ref);
          let disk: Record<string, string> | string;
          if (opts.template !== undefined) disk = opts.template;
          else if (opts.file !== undefined) disk = await readText(ctx, opts.file);
          else if (opts.image !== undefined) disk = { IMAGE_ID: String(await resolveOne(one, 'image', opts.image)) };
          else {
            wholeNumber(opts.size as string, '--size');
            disk = { TYPE: opts.type, SIZE: opts.size as string, FORMAT: opts.format };
          }
          if (typeof disk !== 'string') {
            if (opts.target) disk.TARGET = opts.target;
            if (opts.readonly) disk.READONLY = 'YES';
          }
          const before = await one.get('vm', vmId);
          let v = await one.attachDisk(vmId, disk);
          if (opts.wait) v = await settled(one, vmId, opts, before, 'DISK', true);
          emit(ctx, opts, [v], () => `VM ${v.id}: ${stateOf(v)}\n`);
        });
      },
    );

  waitOptions(withOutputOptions(vm.command('disk-detach').description('hot-detach a disk from a VM')))
    .argument('<vm>', 'VM id or name')
    .argument('<disk_id>', 'DISK_ID of the disk (see vm show)')
    .action(async (ref: string, disk: string, opts: WaitOpts) => {
      const diskId = wholeNumber(disk, 'disk_id');
      await ctx.withClient(async (one) => {
        const vmId = await resolveOne(one, 'vm', ref);
        const before = await one.get('vm', vmId);
        let v = await one.detachDisk(vmId, diskId);
        if (opts.wait) v = await settled(one, vmId, opts, before, 'DISK', false);
        emit(ctx, opts, [v], () => `VM ${v.id}: ${stateOf(v)}\n`);
      });
    });
}

function waitOptions(cmd: Command): Command {
  return cmd
    .option('--wait', 'wait until the host is done; fail with the VM error if it refused')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '120');
}

function wholeNumber(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n))
    throw new UsageError(`${what} must be a whole number, got '${text}'`);
  return n;
}

async function readText(ctx: CliContext, file: string): Promise<string> {
  const { readTemplateArg } = await import('./template-source.js');
  return (await readTemplateArg(ctx, file)).text;
}

function stateOf(v: ApiObject<'vm'>): string {
  const s = v as unknown as { state?: string; lcm_state?: string };
  return s.state === 'ACTIVE' ? (s.lcm_state ?? 'ACTIVE') : (s.state ?? '?');
}

function count(v: ApiObject<'vm'>, name: 'NIC' | 'DISK'): number {
  const value = (v.template as Record<string, unknown>)[name];
  return value === undefined ? 0 : Array.isArray(value) ? value.length : 1;
}

/** Polls until the VM left its hot-plug state; an attach that did not add (or detach that did not remove) fails. */
async function settled(
  one: OneEdgeClient,
  vmId: number,
  opts: WaitOpts,
  before: ApiObject<'vm'>,
  name: 'NIC' | 'DISK',
  attach: boolean,
): Promise<ApiObject<'vm'>> {
  const deadline = Date.now() + Number(opts.timeout ?? '120') * 1000;
  for (;;) {
    const v = await one.get('vm', vmId);
    const lcm = (v as unknown as { lcm_state?: string }).lcm_state ?? '';
    if (!HOTPLUG_STATES.has(lcm)) {
      const expected = count(before, name) + (attach ? 1 : -1);
      if (count(v, name) !== expected) {
        const error = (v as unknown as { error?: string | null }).error ?? 'the host refused';
        throw new ApiError(
          'E_DRIVER_FAILED',
          `VM ${vmId}: ${name.toLowerCase()} ${attach ? 'attach' : 'detach'} failed: ${error}`,
        );
      }
      return v;
    }
    if (Date.now() > deadline) throw new ApiError('E_DRIVER_TIMEOUT', `VM ${vmId} is still in ${lcm}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
