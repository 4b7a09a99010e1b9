import type { Command } from 'commander';
import type { ApiObject } from '../client/index.js';
import { formatMegabytes } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const DATASTORE_COLUMNS: Column<ApiObject<'datastore'>>[] = [
  { header: 'ID', cell: (d) => String(d.id), align: 'right' },
  { header: 'USER', cell: (d) => d.uname },
  { header: 'GROUP', cell: (d) => d.gname },
  { header: 'NAME', cell: (d) => d.name },
  {
    header: 'SIZE',
    cell: (d) => (d.total_mb === undefined ? '-' : formatMegabytes(d.total_mb)),
    align: 'right',
  },
  {
    header: 'AVA',
    cell: (d) => (d.total_mb && d.free_mb !== undefined ? `${Math.round((d.free_mb / d.total_mb) * 100)}%` : '-'),
    align: 'right',
  },
  { header: 'CLUSTERS', cell: (d) => (d.cluster_ids ?? []).join(',') },
  { header: 'TYPE', cell: (d) => (d.type ?? '').toLowerCase().slice(0, 3) },
  { header: 'DS', cell: (d) => d.ds_mad },
  { header: 'TM', cell: (d) => d.tm_mad },
];

export function registerDatastore(program: Command, ctx: CliContext): void {
  registerPoolVerbs(program, ctx, {
    kind: 'datastore',
    summary: 'datastores (onedatastore)',
    columns: DATASTORE_COLUMNS,
    createFromFile: true,
    chown: true,
    hasState: false,
  });
}
