import type { Command } from 'commander';
import type { ApiObject } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { registerNamedCreate } from './named-create.js';
import { registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const GROUP_COLUMNS: Column<ApiObject<'group'>>[] = [
  { header: 'ID', cell: (g) => String(g.id), align: 'right' },
  { header: 'NAME', cell: (g) => g.name },
];

export function registerGroup(program: Command, ctx: CliContext): void {
  const group = registerPoolVerbs(program, ctx, {
    kind: 'group',
    summary: 'groups (onegroup)',
    columns: GROUP_COLUMNS,
    createFromFile: false,
    chown: true,
    hasState: false,
  });
  registerNamedCreate(group, ctx, 'group');
}
