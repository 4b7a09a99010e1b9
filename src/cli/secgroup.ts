import type { Command } from 'commander';
import type { ApiObject } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const SECGROUP_COLUMNS: Column<ApiObject<'secgroup'>>[] = [
  { header: 'ID', cell: (g) => String(g.id), align: 'right' },
  { header: 'USER', cell: (g) => g.uname },
  { header: 'GROUP', cell: (g) => g.gname },
  { header: 'NAME', cell: (g) => g.name },
  { header: 'RULES', cell: (g) => String((g.rules ?? []).length), align: 'right' },
];

/** `oneedge secgroup create/list/show/update/delete …` (onesecgroup). */
export function registerSecgroup(program: Command, ctx: CliContext): void {
  registerPoolVerbs(program, ctx, {
    kind: 'secgroup',
    summary: 'security groups (onesecgroup): RULE = [ PROTOCOL, RULE_TYPE, RANGE, IP, SIZE, NETWORK_ID, ICMP_TYPE ]',
    columns: SECGROUP_COLUMNS,
    createFromFile: true,
    chown: true,
    hasState: false,
  });
}
