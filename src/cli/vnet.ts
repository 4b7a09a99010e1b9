import type { Command } from 'commander';
import type { ApiObject } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const VNET_COLUMNS: Column<ApiObject<'vnet'>>[] = [
  { header: 'ID', cell: (n) => String(n.id), align: 'right' },
  { header: 'USER', cell: (n) => n.uname },
  { header: 'GROUP', cell: (n) => n.gname },
  { header: 'NAME', cell: (n) => n.name },
  { header: 'CLUSTERS', cell: (n) => (n.cluster_ids ?? []).join(',') },
  { header: 'BRIDGE', cell: (n) => n.bridge ?? '' },
  { header: 'VN_MAD', cell: (n) => n.vn_mad ?? '' },
  { header: 'STATE', cell: (n) => (n.state ?? '').toLowerCase().slice(0, 4) },
];

export function registerVnet(program: Command, ctx: CliContext): void {
  registerPoolVerbs(program, ctx, {
    kind: 'vnet',
    summary: 'virtual networks (onevnet)',
    columns: VNET_COLUMNS,
    createFromFile: true,
    chown: true,
    hasState: false,
  });
}
