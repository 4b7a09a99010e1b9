import type { Command } from 'commander';
import type { ApiObject, VnetAddress, VnetLease } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';
import { resolveOne } from './id-refs.js';
import { withOutputOptions } from './output.js';
import { emit, registerPoolVerbs } from './pool-verbs.js';
import { type Column, renderTable } from './table.js';
import { readTemplateArg } from './template-source.js';

type OutputOpts = { json?: boolean; yaml?: boolean };

export const VNET_COLUMNS: Column<ApiObject<'vnet'>>[] = [
  { header: 'ID', cell: (n) => String(n.id), align: 'right' },
  { header: 'USER', cell: (n) => n.uname },
  { header: 'GROUP', cell: (n) => n.gname },
  { header: 'NAME', cell: (n) => n.name },
  { header: 'CLUSTERS', cell: (n) => (n.cluster_ids ?? []).join(',') },
  { header: 'BRIDGE', cell: (n) => n.bridge ?? '' },
  { header: 'VN_MAD', cell: (n) => n.vn_mad ?? '' },
  { header: 'LEASES', cell: (n) => String(n.used_leases ?? 0), align: 'right' },
  { header: 'STATE', cell: (n) => (n.state ?? '').toLowerCase().slice(0, 4) },
];

export const LEASE_COLUMNS: Column<VnetLease>[] = [
  { header: 'AR', cell: (l) => String(l.ar_id), align: 'right' },
  { header: 'IP', cell: (l) => l.ip ?? '' },
  { header: 'IP6', cell: (l) => l.ip6 ?? '' },
  { header: 'MAC', cell: (l) => l.mac },
  {
    header: 'USED BY',
    cell: (l) =>
      l.kind === 'vm'
        ? `VM ${l.vm_id} ${l.vm_name ?? ''} NIC ${l.nic_id}`
        : l.kind === 'hold'
          ? 'HOLD'
          : `NETWORK ${l.reserved_by}`,
  },
];

function address(opts: { ip?: string; ip6?: string; mac?: string }): VnetAddress {
  const a: VnetAddress = {};
  if (opts.ip) a.ip = opts.ip;
  if (opts.ip6) a.ip6 = opts.ip6;
  if (opts.mac) a.mac = opts.mac;
  if (!a.ip && !a.ip6 && !a.mac) throw new UsageError('give --ip, --ip6 or --mac');
  return a;
}

const addressOptions = (cmd: Command) =>
  cmd.option('--ip <ip>', 'IPv4 address').option('--ip6 <ip6>', 'IPv6 address').option('--mac <mac>', 'MAC address');

export function registerVnet(program: Command, ctx: CliContext): void {
  const vnet = registerPoolVerbs(program, ctx, {
    kind: 'vnet',
    summary: 'virtual networks (onevnet)',
    columns: VNET_COLUMNS,
    createFromFile: true,
    chown: true,
    hasState: false,
  });

  withOutputOptions(vnet.command('addar').description('add an address range (file with AR = [ … ])'))
    .argument('<vnet>', 'network id or name')
    .argument('<file>', "template file ('-' for stdin)")
    .action(async (ref: string, file: string, opts: OutputOpts) => {
      const src = await readTemplateArg(ctx, file);
      await ctx.withClient(async (c) => {
        const net = await c.vnetAddAr(await resolveOne(c, 'vnet', ref), src.text);
        emit(ctx, opts, [net], () => `address ranges: ${(net.ar_pool ?? []).length}`);
      });
    });
  withOutputOptions(vnet.command('updatear').description('change an address range (file with AR attributes)'))
    .argument('<vnet>', 'network id or name')
    .argument('<ar_id>', 'address range id')
    .argument('<file>', "template file ('-' for stdin)")
    .action(async (ref: string, arId: string, file: string, opts: OutputOpts) => {
      const src = await readTemplateArg(ctx, file);
      await ctx.withClient(async (c) => {
        emit(ctx, opts, [await c.vnetUpdateAr(await resolveOne(c, 'vnet', ref), Number(arId), src.text)]);
      });
    });
  withOutputOptions(vnet.command('rmar').description('remove an address range with no leases'))
    .argument('<vnet>', 'network id or name')
    .argument('<ar_id>', 'address range id')
    .action(async (ref: string, arId: string, opts: OutputOpts) => {
      await ctx.withClient(async (c) => {
        emit(ctx, opts, [await c.vnetRmAr(await resolveOne(c, 'vnet', ref), Number(arId))]);
      });
    });
  for (const verb of ['hold', 'release'] as const) {
    withOutputOptions(
      addressOptions(
        vnet.command(verb).description(verb === 'hold' ? 'keep an address out of use' : 'free a held address'),
      ),
    )
      .argument('<vnet>', 'network id or name')
      .action(async (ref: string, opts: OutputOpts & { ip?: string; ip6?: string; mac?: string }) => {
        const a = address(opts);
        await ctx.withClient(async (c) => {
          const id = await resolveOne(c, 'vnet', ref);
          emit(ctx, opts, [verb === 'hold' ? await c.vnetHold(id, a) : await c.vnetRelease(id, a)]);
        });
      });
  }
  withOutputOptions(vnet.command('reserve').description('reserve addresses of a network as a new network of yours'))
    .argument('<vnet>', 'network id or name')
    .requiredOption('--size <n>', 'how many consecutive addresses')
    .requiredOption('--name <name>', 'name of the new network')
    .option('--ar <ar_id>', 'take them from this address range')
    .action(async (ref: string, opts: OutputOpts & { size: string; name: string; ar?: string }) => {
      await ctx.withClient(async (c) => {
        const id = await resolveOne(c, 'vnet', ref);
        const net = await c.vnetReserve(
          id,
          Number(opts.size),
          opts.name,
          opts.ar === undefined ? undefined : Number(opts.ar),
        );
        emit(ctx, opts, [net], () => `ID: ${net.id}`);
      });
    });
  withOutputOptions(vnet.command('leases').description('list the leases and which VM holds each'))
    .argument('<vnet>', 'network id or name')
    .action(async (ref: string, opts: OutputOpts) => {
      await ctx.withClient(async (c) => {
        const leases = await c.vnetLeases(await resolveOne(c, 'vnet', ref));
        emit(ctx, opts, [leases], () => renderTable(LEASE_COLUMNS, leases));
      });
    });
}
