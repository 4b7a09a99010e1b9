import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';
import { resolveOne } from './id-refs.js';
import { waitReady } from './image.js';
import { withOutputOptions } from './output.js';
import { emit } from './pool-verbs.js';

type OutputOpts = { json?: boolean; yaml?: boolean };

/** `oneedge vm disk-saveas VM DISK_ID NAME`: a VM's disk becomes a new image (progress until it is READY). */
export function registerVmDisks(vm: Command, ctx: CliContext): void {
  withOutputOptions(vm.command('disk-saveas').description("save a VM's disk (as it is now) as a new image"))
    .argument('<vm>', 'VM id or name')
    .argument('<disk_id>', 'DISK_ID: the disk index in the VM template (0 = first DISK)')
    .argument('<name>', 'name of the new image')
    .option('--no-wait', 'return while the host is still uploading the disk')
    .action(async (ref: string, disk: string, name: string, opts: OutputOpts & { wait?: boolean }) => {
      const diskId = Number(disk);
      if (!Number.isInteger(diskId) || diskId < 0)
        throw new UsageError(`disk_id must be a whole number, got '${disk}'`);
      await ctx.withClient(async (one) => {
        let image = await one.diskSaveAs(await resolveOne(one, 'vm', ref), diskId, name);
        if (opts.wait !== false) image = await waitReady(ctx, one, image.id);
        emit(ctx, opts, [image], () => `ID: ${image.id}\n`);
      });
    });
}
