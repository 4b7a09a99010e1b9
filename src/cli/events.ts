import type { Command } from 'commander';
import { isObjectKind, OBJECT_KINDS, type ObjectKind, type StreamEvent } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';

export function parseKinds(text: string | undefined): ObjectKind[] | undefined {
  if (!text) return undefined;
  return text.split(',').map((k) => {
    const kind = k.trim();
    if (!isObjectKind(kind))
      throw new UsageError(`unknown kind '${kind}' in --kinds: one of ${OBJECT_KINDS.join(', ')}`);
    return kind;
  });
}

/**
 * One line per event: `seq kind id op revision state[/lcm_state]`, a
 * monitoring event as `- vm <id> monitoring host=<id> ts=<ms>` per VM, or the
 * event's JSON.
 */
export function formatEvent(e: StreamEvent, json: boolean): string {
  if (e.type === 'monitoring') {
    if (json) return `${JSON.stringify({ monitoring: true, ...e.event })}\n`;
    return e.event.vms.map((v) => `- vm ${v.id} monitoring host=${v.host_id} ts=${v.ts}\n`).join('');
  }
  if (json) return `${JSON.stringify(e.type === 'change' ? e.event : { resync: true, seq: e.seq })}\n`;
  if (e.type === 'resync') return `${e.seq} resync: events were missed; list again\n`;
  const ev = e.event;
  const state = ev.state ? ` ${ev.state}${ev.lcm_state && ev.lcm_state !== 'LCM_INIT' ? `/${ev.lcm_state}` : ''}` : '';
  return `${ev.seq} ${ev.kind} ${ev.id} ${ev.op} rev=${ev.revision}${state}\n`;
}

export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command('events')
    .description('print object changes as they happen, one line each, until interrupted')
    .option('-k, --kinds <kinds>', `comma-separated kinds (${OBJECT_KINDS.join(',')}); default all`)
    .option('--json', 'print each event as one JSON object per line')
    .option('--since <seq>', 'resume after this event number')
    .option('--monitoring', 'also print when usage samples of VMs you may see are stored (every probe period)')
    .action(async (opts: { kinds?: string; json?: boolean; since?: string; monitoring?: boolean }) => {
      const kinds = parseKinds(opts.kinds);
      if (opts.since !== undefined && !/^\d+$/.test(opts.since))
        throw new UsageError('--since must be an event number');
      const signal = ctx.io.interrupt();
      await ctx.withClient((one) =>
        one.events(kinds, (e) => ctx.out(formatEvent(e, opts.json === true)), signal, {
          ...(opts.since !== undefined ? { lastEventId: opts.since } : {}),
          ...(opts.monitoring ? { monitoring: true } : {}),
        }),
      );
    });
}
