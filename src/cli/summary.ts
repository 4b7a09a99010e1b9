import type { Command } from 'commander';
import type { CloudSummary } from '../client/index.js';
import type { CliContext } from './cli-context.js';

/** The dashboard's numbers as text: `oneedge summary [--json]`. */
export function formatSummary(s: CloudSummary): string {
  const states = (m: Record<string, number>) =>
    Object.entries(m)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k}=${n}`)
      .join(' ') || '-';
  const a = s.vms.allocated;
  const lines = [
    `VMS      ${s.vms.total}  ${states(s.vms.by_state)}`,
    `HOSTS    ${s.hosts.total}  ${states(s.hosts.by_state)}`,
    `ALLOC    CPU=${round(a.cpu)} VCPU=${round(a.vcpu)} MEMORY=${round(a.memory_mb)}M`,
    `CAPACITY CPUS=${s.hosts.cpus} MEMORY=${s.hosts.memory_mb}M (${s.hosts.reporting} of ${s.hosts.total} hosts reported)`,
    `OBJECTS  ${states(s.counts)}`,
  ];
  return `${lines.join('\n')}\n`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function registerSummary(program: Command, ctx: CliContext): void {
  program
    .command('summary')
    .description('VMs and hosts by state, allocated capacity and object counts (what the dashboard shows)')
    .option('--json', 'print the API response')
    .action(async (opts: { json?: boolean }) => {
      const s = await ctx.withClient((one) => one.summary());
      ctx.out(opts.json ? `${JSON.stringify(s, null, 2)}\n` : formatSummary(s));
    });
}
