import type { Command } from 'commander';
import type { ApiObject } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { registerNamedCreate } from './named-create.js';
import { registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const CLUSTER_COLUMNS: Column<ApiObject<'cluster'>>[] = [
  { header: 'ID', cell: (c) => String(c.id), align: 'right' },
  { header: 'NAME', cell: (c) => c.name },
];

export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = registerPoolVerbs(program, ctx, {
    kind: 'cluster',
    summary: 'clusters (onecluster)',
    columns: CLUSTER_COLUMNS,
    createFromFile: false,
    chown: true,
    hasState: false,
  });
  registerNamedCreate(cluster, ctx, 'cluster');
}
