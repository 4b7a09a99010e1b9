import type { Command } from 'commander';
import { type ApiObject, type CreateInput, HOST_OPERATOR_ACTIONS } from '../client/index.js';
import { hostShortState } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { forEachId, resolveOne } from './id-refs.js';
import { registerHostMonitoring } from './monitoring.js';
import { withOutputOptions } from './output.js';
import { emit, registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const HOST_COLUMNS: Column<ApiObject<'host'>>[] = [
  { header: 'ID', cell: (h) => String(h.id), align: 'right' },
  { header: 'NAME', cell: (h) => h.name },
  { header: 'CLUSTER', cell: (h) => String(h.cluster_id), align: 'right' },
  { header: 'IM_MAD', cell: (h) => h.im_mad },
  { header: 'VM_MAD', cell: (h) => h.vm_mad },
  { header: 'STAT', cell: (h) => hostShortState(h) },
];

const DESCRIPTIONS: Record<(typeof HOST_OPERATOR_ACTIONS)[number], string> = {
  enable: 'enable hosts: back to INIT until the next monitoring report',
  disable: 'disable hosts: monitored, but the scheduler places nothing there',
  offline: 'set hosts OFFLINE: neither monitored nor used',
};

export function registerHost(program: Command, ctx: CliContext): void {
  const host = registerPoolVerbs(program, ctx, {
    kind: 'host',
    summary: 'hosts (onehost)',
    columns: HOST_COLUMNS,
    createFromFile: false,
    chown: true,
    hasState: true,
  });

  withOutputOptions(host.command('create').description('add a host'))
    .argument('<name>', 'host name (as the agent will report it)')
    .option('-c, --cluster <cluster>', 'cluster id or name (default 0)')
    .option('--im-mad <driver>', 'monitoring driver (default oneedge)')
    .option('--vm-mad <driver>', 'virtualization driver (default oneedge)')
    .action(
      async (
        name: string,
        opts: { cluster?: string; imMad?: string; vmMad?: string; json?: boolean; yaml?: boolean },
      ) =>
        ctx.withClient(async (one) => {
          const input: CreateInput = { name };
          if (opts.cluster !== undefined) input.cluster_id = await resolveOne(one, 'cluster', opts.cluster);
          if (opts.imMad !== undefined) input.im_mad = opts.imMad;
          if (opts.vmMad !== undefined) input.vm_mad = opts.vmMad;
          const obj = await one.create('host', input);
          const join = await one.hostJoinToken(obj.id).catch(() => undefined);
          emit(ctx, opts, [obj], () =>
            join ? `ID: ${obj.id}\nOn the host, run:\n  ${join.command}\n` : `ID: ${obj.id}\n`,
          );
        }),
    );

  for (const action of HOST_OPERATOR_ACTIONS) {
    withOutputOptions(host.command(action).description(DESCRIPTIONS[action]))
      .argument('<ids>', 'host id, name, or list like 1,2,5..7')
      .action(async (ref: string, opts: { json?: boolean; yaml?: boolean }) =>
        ctx.withClient(async (one) => {
          emit(ctx, opts, await forEachId(ctx, one, 'host', ref, (id) => one.hostAction(id, action)));
        }),
      );
  }

  registerHostMonitoring(host, ctx);

  withOutputOptions(host.command('join-token').description("issue a one-time join token for the host's agent (1 h)"))
    .argument('<id>', 'host id or name')
    .action(async (ref: string, opts: { json?: boolean; yaml?: boolean }) =>
      ctx.withClient(async (one) => {
        const join = await one.hostJoinToken(await resolveOne(one, 'host', ref));
        emit(ctx, opts, [join], () => `${join.command}\n`);
      }),
    );

  withOutputOptions(host.command('revoke').description("revoke the host agent's credential and disconnect it"))
    .argument('<ids>', 'host id, name, or list like 1,2,5..7')
    .action(async (ref: string, opts: { json?: boolean; yaml?: boolean }) =>
      ctx.withClient(async (one) => {
        emit(ctx, opts, await forEachId(ctx, one, 'host', ref, (id) => one.revokeHost(id)));
      }),
    );
}
