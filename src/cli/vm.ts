import type { Command } from 'commander';
import {
  type ApiObject,
  SCHEDULABLE_ACTIONS,
  type SchedActionInput,
  VM_ACTIONS,
  type VmAction,
  type VmActionParams,
} from '../client/index.js';
import { formatElapsed, formatMegabytes, templateString, vmShortState } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';
import { forEachId, resolveOne } from './id-refs.js';
import { registerVmMonitoring } from './monitoring.js';
import { outputFormat, renderData, withOutputOptions } from './output.js';
import { emit, registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';
import { registerVmDisks } from './vm-disks.js';
import { registerVmHotplug } from './vm-hotplug.js';
import { serveVncLocally } from './vnc-tunnel.js';

type OutputOpts = { json?: boolean; yaml?: boolean };

/** `onevm list` columns; CPU and MEM are what the VM asked for. */
export function vmColumns(now: () => number): Column<ApiObject<'vm'>>[] {
  return [
    { header: 'ID', cell: (v) => String(v.id), align: 'right' },
    { header: 'USER', cell: (v) => v.uname },
    { header: 'GROUP', cell: (v) => v.gname },
    { header: 'NAME', cell: (v) => v.name },
    { header: 'STAT', cell: (v) => vmShortState(v) },
    { header: 'CPU', cell: (v) => templateString(v.template, 'CPU') || '-', align: 'right' },
    {
      header: 'MEM',
      cell: (v) => {
        const mb = templateString(v.template, 'MEMORY');
        return mb === '' ? '-' : formatMegabytes(Number(mb));
      },
      align: 'right',
    },
    { header: 'HOST', cell: (v) => v.host_name ?? '' },
    {
      header: 'TIME',
      cell: (v) => formatElapsed((v.etime || Math.floor(now() / 1000)) - (v.stime || Math.floor(v.created_at / 1000))),
      align: 'right',
    },
  ];
}

/**
 * Verbs that map to one action, with `--hard` choosing the hard flavour.
 * Together with deploy, migrate and recover below they cover every action of
 * the state machine (a unit test checks that).
 */
export const SIMPLE_VM_VERBS: ReadonlyArray<{ verb: string; action: VmAction; hard?: VmAction }> = [
  { verb: 'terminate', action: 'terminate', hard: 'terminate-hard' },
  { verb: 'poweroff', action: 'poweroff', hard: 'poweroff-hard' },
  { verb: 'undeploy', action: 'undeploy', hard: 'undeploy-hard' },
  { verb: 'reboot', action: 'reboot', hard: 'reboot-hard' },
  { verb: 'suspend', action: 'suspend' },
  { verb: 'stop', action: 'stop' },
  { verb: 'resume', action: 'resume' },
  { verb: 'hold', action: 'hold' },
  { verb: 'release', action: 'release' },
  { verb: 'resched', action: 'resched' },
  { verb: 'unresched', action: 'unresched' },
];

export const RECOVER_MODES = ['success', 'failure', 'retry', 'delete', 'recreate'] as const;

/** `vm migrate` flags → action. */
export function migrateAction(opts: { live?: boolean; poweroff?: boolean; poweroffHard?: boolean }): VmAction {
  const chosen = [opts.live, opts.poweroff, opts.poweroffHard].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('choose at most one of --live, --poweroff and --poweroff-hard');
  if (opts.live) return 'live-migrate';
  if (opts.poweroff) return 'migrate-poweroff';
  if (opts.poweroffHard) return 'migrate-poweroff-hard';
  return 'migrate';
}

type ScheduleOpts = {
  time: string;
  weekly?: string;
  monthly?: string;
  yearly?: string;
  hourly?: string;
  end?: string;
};

/** `vm schedule` flags → the API's scheduled-action fields (dates become epoch seconds). */
export function schedActionInput(action: string, opts: ScheduleOpts): SchedActionInput {
  const repeats = (['weekly', 'monthly', 'yearly', 'hourly'] as const).filter((r) => opts[r] !== undefined);
  if (repeats.length > 1) throw new UsageError('choose at most one of --weekly, --monthly, --yearly and --hourly');
  const repeat = repeats[0];
  const input: SchedActionInput = { action, time: cliTime(opts.time, '--time') };
  if (repeat) {
    input.repeat = repeat;
    input.days = opts[repeat];
  }
  if (opts.end !== undefined) {
    if (!repeat) throw new UsageError('--end needs a repeating schedule');
    if (/^\d{1,6}$/.test(opts.end)) {
      input.end_type = 'times';
      input.end_value = Number(opts.end);
    } else {
      input.end_type = 'date';
      input.end_value = Number(cliTime(opts.end, '--end'));
    }
  }
  return input;
}

function cliTime(text: string, flag: string): string {
  if (/^\+?\d+$/.test(text)) return text;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} '${text}' is not an epoch, +SECONDS or a date`);
  return String(Math.floor(ms / 1000));
}

function schedId(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`scheduled action id '${text}' is not a number`);
  return Number(text);
}

/** `vm recover` flags → action; exactly one is required. */
export function recoverAction(opts: Partial<Record<(typeof RECOVER_MODES)[number], boolean>>): VmAction {
  const chosen = RECOVER_MODES.filter((m) => opts[m]);
  if (chosen.length !== 1) {
    throw new UsageError(`recover needs exactly one of ${RECOVER_MODES.map((m) => `--${m}`).join(', ')}`);
  }
  return `recover-${chosen[0]}` as VmAction;
}

function actionCommand(vm: Command, name: string, description: string): Command {
  return withOutputOptions(vm.command(name).description(description)).argument(
    '<ids>',
    'VM id, name, or list like 1,2,5..7',
  );
}

async function runAction(
  ctx: CliContext,
  ref: string,
  opts: OutputOpts,
  action: VmAction,
  params: VmActionParams = {},
) {
  await ctx.withClient(async (one) => {
    const done = await forEachId(ctx, one, 'vm', ref, (id) => one.vmAction(id, action, params));
    emit(ctx, opts, done);
  });
}

export function registerVm(program: Command, ctx: CliContext): void {
  const vm = registerPoolVerbs(program, ctx, {
    kind: 'vm',
    summary: 'virtual machines (onevm)',
    columns: vmColumns(() => ctx.io.now()),
    createFromFile: true,
    createExtras: {
      options: (cmd) => cmd.option('--hold', 'create on HOLD instead of PENDING'),
      fields: async (_one, opts) => (opts.hold ? { hold: true } : {}),
    },
    chown: true,
    hasState: true,
    includeDone: true,
  });
  registerVmDisks(vm, ctx);
  registerVmHotplug(vm, ctx);
  registerVmMonitoring(vm, ctx);

  for (const { verb, action, hard } of SIMPLE_VM_VERBS) {
    const cmd = actionCommand(vm, verb, VM_ACTIONS[action].description);
    if (hard) cmd.option('--hard', VM_ACTIONS[hard].description);
    cmd.action(async (ref: string, opts: OutputOpts & { hard?: boolean }) =>
      runAction(ctx, ref, opts, opts.hard && hard ? hard : action),
    );
  }

  actionCommand(vm, 'deploy', VM_ACTIONS.deploy.description)
    .argument('<host>', 'host id or name')
    .option('--ds <datastore>', 'system datastore id or name')
    .action(async (ref: string, host: string, opts: OutputOpts & { ds?: string }) =>
      ctx.withClient(async (one) => {
        const params: VmActionParams = { host_id: await resolveOne(one, 'host', host) };
        if (opts.ds !== undefined) params.ds_id = await resolveOne(one, 'datastore', opts.ds);
        emit(ctx, opts, await forEachId(ctx, one, 'vm', ref, (id) => one.vmAction(id, 'deploy', params)));
      }),
    );

  actionCommand(vm, 'migrate', VM_ACTIONS.migrate.description)
    .argument('<host>', 'target host id or name')
    .option('--live', VM_ACTIONS['live-migrate'].description)
    .option('--poweroff', VM_ACTIONS['migrate-poweroff'].description)
    .option('--poweroff-hard', VM_ACTIONS['migrate-poweroff-hard'].description)
    .option('--ds <datastore>', 'system datastore id or name on the target')
    .action(
      async (
        ref: string,
        host: string,
        opts: OutputOpts & { live?: boolean; poweroff?: boolean; poweroffHard?: boolean; ds?: string },
      ) => {
        const action = migrateAction(opts);
        await ctx.withClient(async (one) => {
          const params: VmActionParams = { host_id: await resolveOne(one, 'host', host) };
          if (opts.ds !== undefined) params.ds_id = await resolveOne(one, 'datastore', opts.ds);
          emit(ctx, opts, await forEachId(ctx, one, 'vm', ref, (id) => one.vmAction(id, action, params)));
        });
      },
    );

  let recover = actionCommand(vm, 'recover', 'resolve a VM stuck in a transient or *_FAILURE state (administrators)');
  for (const mode of RECOVER_MODES) recover = recover.option(`--${mode}`, VM_ACTIONS[`recover-${mode}`].description);
  recover.action(async (ref: string, opts: OutputOpts & Record<(typeof RECOVER_MODES)[number], boolean>) =>
    runAction(ctx, ref, opts, recoverAction(opts)),
  );

  withOutputOptions(vm.command('actions').description('list the actions the VM’s current state allows'))
    .argument('<id>', 'VM id or name')
    .action(async (ref: string, opts: OutputOpts) =>
      ctx.withClient(async (one) => {
        const actions = await one.vmAllowedActions(await resolveOne(one, 'vm', ref));
        const fmt = outputFormat(opts);
        ctx.out(fmt === 'human' ? actions.map((a) => `${a}\n`).join('') : renderData(actions, fmt));
      }),
    );

  const scheduleOptions = (cmd: Command) =>
    cmd
      .requiredOption('--time <when>', 'epoch seconds, +SECONDS from now, or a date like 2026-12-24T18:00')
      .option('--weekly <days>', 'repeat on these weekdays (0-6, Sunday 0), e.g. 1,3,5')
      .option('--monthly <days>', 'repeat on these days of the month (1-31)')
      .option('--yearly <days>', 'repeat on these days of the year (0-365)')
      .option('--hourly <hours>', 'repeat every N hours')
      .option('--end <count|date>', 'stop after N runs, or after a date (epoch or ISO)');
  scheduleOptions(actionCommand(vm, 'schedule', 'schedule an action on the VMs (SCHED_ACTION)'))
    .argument('<action>', `one of ${SCHEDULABLE_ACTIONS.join(', ')}`)
    .action(async (ref: string, action: string, opts: OutputOpts & ScheduleOpts) =>
      ctx.withClient(async (one) => {
        const input = schedActionInput(action, opts);
        emit(ctx, opts, await forEachId(ctx, one, 'vm', ref, (id) => one.vmSchedAdd(id, input)));
      }),
    );
  scheduleOptions(withOutputOptions(vm.command('sched-update').description('replace a scheduled action')))
    .argument('<id>', 'VM id or name')
    .argument('<sched_id>', 'scheduled action id (vm show)')
    .argument('<action>', 'the action to run')
    .action(async (ref: string, saId: string, action: string, opts: OutputOpts & ScheduleOpts) =>
      ctx.withClient(async (one) => {
        const vmId = await resolveOne(one, 'vm', ref);
        emit(ctx, opts, [await one.vmSchedUpdate(vmId, schedId(saId), schedActionInput(action, opts))]);
      }),
    );
  withOutputOptions(vm.command('sched-delete').description('delete a scheduled action'))
    .argument('<id>', 'VM id or name')
    .argument('<sched_id>', 'scheduled action id (vm show)')
    .action(async (ref: string, saId: string, opts: OutputOpts) =>
      ctx.withClient(async (one) => {
        emit(ctx, opts, [await one.vmSchedDelete(await resolveOne(one, 'vm', ref), schedId(saId))]);
      }),
    );

  withOutputOptions(vm.command('log').description("print the VM's console log (its workload's stdout/stderr)"))
    .argument('<id>', 'VM id or name')
    .option('--tail <bytes>', 'bytes from the end (default 65536)')
    .option('-f, --follow', 'keep printing what the workload writes until interrupted (like kubectl logs -f)')
    .action(async (ref: string, opts: OutputOpts & { tail?: string; follow?: boolean }) =>
      ctx.withClient(async (one) => {
        const id = await resolveOne(one, 'vm', ref);
        const tail = opts.tail === undefined ? undefined : Number(opts.tail);
        const fmt = outputFormat(opts);
        if (opts.follow) {
          const signal = ctx.io.interrupt();
          const { end } = await one.followVmLog(
            id,
            (chunk) => {
              if (fmt === 'human') ctx.out(chunk.data);
              else ctx.out(`${JSON.stringify(chunk)}\n`);
            },
            signal,
            tail === undefined ? {} : { tail },
          );
          if (end === 'gone') ctx.err(`VM ${id}: the workload's log went away (it stopped or left its host)\n`);
          return;
        }
        const log = await one.vmLog(id, tail);
        ctx.out(fmt === 'human' ? log.data : renderData(log, fmt));
      }),
    );

  vm.command('vnc')
    .description(
      "open the VM's VNC console through the front-end: print its WebSocket URL, or serve it on a local port",
    )
    .argument('<id>', 'VM id or name')
    .option('--listen <port>', 'run a local TCP listener on 127.0.0.1:<port> for a VNC viewer (0: any free port)')
    .action(async (ref: string, opts: { listen?: string }) =>
      ctx.withClient(async (one) => {
        const id = await resolveOne(one, 'vm', ref);
        if (opts.listen === undefined) {
          const t = await one.vmVncToken(id);
          ctx.out(
            `${t.wsUrl}\n(single use, valid for ${Math.round(t.expires_in_ms / 1000)} s; noVNC and websockify speak it)\n`,
          );
          return;
        }
        await one.vmVncToken(id); // fail now, not at the first viewer connection, when the VM has no console
        const port = await serveVncLocally(Number(opts.listen), () => one.vmVncToken(id).then((t) => t.wsUrl));
        ctx.out(`VNC console of VM ${id} on 127.0.0.1:${port} (e.g. vncviewer 127.0.0.1::${port}); Ctrl-C to stop\n`);
        await new Promise(() => undefined);
      }),
    );
}
