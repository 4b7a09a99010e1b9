import type { Command } from 'commander';
import type { ApiObject } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const VMGROUP_COLUMNS: Column<ApiObject<'vmgroup'>>[] = [
  { header: 'ID', cell: (g) => String(g.id), align: 'right' },
  { header: 'USER', cell: (g) => g.uname },
  { header: 'GROUP', cell: (g) => g.gname },
  { header: 'NAME', cell: (g) => g.name },
  { header: 'ROLES', cell: (g) => (g.roles ?? []).map((r) => r.name).join(',') },
];

/** `oneedge vmgroup …` (onevmgroup): roles with affinity rules the scheduler honours. */
export function registerVmGroup(program: Command, ctx: CliContext): void {
  registerPoolVerbs(program, ctx, {
    kind: 'vmgroup',
    summary: 'VM groups: roles with (anti-)affinity rules (onevmgroup)',
    columns: VMGROUP_COLUMNS,
    createFromFile: true,
    chown: true,
    hasState: false,
  });
}
