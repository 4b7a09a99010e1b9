import type { Command } from 'commander';
import type { ApiObject } from '../client/index.js';
import { formatMegabytes, imageShortState } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { resolveOne } from './id-refs.js';
import { registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const IMAGE_COLUMNS: Column<ApiObject<'image'>>[] = [
  { header: 'ID', cell: (i) => String(i.id), align: 'right' },
  { header: 'USER', cell: (i) => i.uname },
  { header: 'GROUP', cell: (i) => i.gname },
  { header: 'NAME', cell: (i) => i.name },
  { header: 'DATASTORE', cell: (i) => String(i.datastore_id), align: 'right' },
  { header: 'SIZE', cell: (i) => formatMegabytes(i.size_mb), align: 'right' },
  { header: 'TYPE', cell: (i) => (i.type ?? '').toLowerCase().slice(0, 2) },
  { header: 'PER', cell: (i) => (i.persistent ? 'Yes' : 'No') },
  { header: 'STAT', cell: (i) => imageShortState(i) },
  { header: 'RVMS', cell: (i) => String(i.running_vms?.length ?? 0), align: 'right' },
];

export function registerImage(program: Command, ctx: CliContext): void {
  registerPoolVerbs(program, ctx, {
    kind: 'image',
    summary: 'images (oneimage)',
    columns: IMAGE_COLUMNS,
    createFromFile: true,
    createExtras: {
      options: (cmd) => cmd.option('-d, --datastore <datastore>', 'image datastore id or name (default 1)'),
      fields: async (one, opts) =>
        typeof opts.datastore === 'string' ? { datastore_id: await resolveOne(one, 'datastore', opts.datastore) } : {},
    },
    chown: true,
    hasState: true,
  });
}
