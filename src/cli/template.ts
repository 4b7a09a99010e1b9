import type { Command } from 'commander';
import type { ApiObject, InstantiateOptions } from '../client/index.js';
import { parseCount, parseKeyValues } from './args.js';
import { formatShortTime } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { withSource } from './cli-error.js';
import { resolveOne } from './id-refs.js';
import { withOutputOptions } from './output.js';
import { emit, registerPoolVerbs, templateFormat } from './pool-verbs.js';
import type { Column } from './table.js';
import { readTemplateArg } from './template-source.js';

export const TEMPLATE_COLUMNS: Column<ApiObject<'template'>>[] = [
  { header: 'ID', cell: (t) => String(t.id), align: 'right' },
  { header: 'USER', cell: (t) => t.uname },
  { header: 'GROUP', cell: (t) => t.gname },
  { header: 'NAME', cell: (t) => t.name },
  { header: 'REGTIME', cell: (t) => formatShortTime(t.created_at) },
];

const collect = (value: string, previous: string[]) => [...previous, value];

interface InstantiateOpts {
  name?: string;
  multiple?: string;
  hold?: boolean;
  userInputs?: string;
  userInput: string[];
  extra?: string;
  json?: boolean;
  yaml?: boolean;
}

/** Answers from `--user-inputs A=1,B=2` and repeated `--user-input C=x,y`; later ones win. */
export function userInputAnswers(opts: Pick<InstantiateOpts, 'userInputs' | 'userInput'>): Record<string, string> {
  return {
    ...(opts.userInputs ? parseKeyValues(opts.userInputs) : {}),
    ...Object.assign({}, ...opts.userInput.map((kv) => parseKeyValues(kv, true))),
  };
}

export function registerTemplate(program: Command, ctx: CliContext): void {
  const template = registerPoolVerbs(program, ctx, {
    kind: 'template',
    summary: 'VM templates (onetemplate)',
    columns: TEMPLATE_COLUMNS,
    createFromFile: true,
    chown: true,
    hasState: false,
  });

  withOutputOptions(template.command('instantiate').description('create VMs from a template (PENDING, or HOLD)'))
    .argument('<id>', 'template id or name')
    .option('--name <name>', 'VM name; %i becomes the index with --multiple')
    .option('-m, --multiple <n>', 'create this many VMs')
    .option('--hold', 'create the VMs on HOLD')
    .option('--user-inputs <pairs>', 'answers to USER_INPUTS: KEY=VALUE,KEY2=VALUE2')
    .option('--user-input <pair>', 'one answer KEY=VALUE (repeatable; the value may contain commas)', collect, [])
    .option('--extra <file>', 'template merged over the registered one (- reads stdin)')
    .action(async (ref: string, opts: InstantiateOpts) => {
      const body: InstantiateOptions = {};
      if (opts.name !== undefined) body.name = opts.name;
      if (opts.multiple !== undefined) body.multiple = parseCount(opts.multiple, '--multiple', 1);
      if (opts.hold) body.hold = true;
      const answers = userInputAnswers(opts);
      if (Object.keys(answers).length > 0) body.user_inputs = answers;
      const extra = opts.extra === undefined ? undefined : await readTemplateArg(ctx, opts.extra);
      if (extra) body.extra = { template: extra.text, format: templateFormat(undefined) };
      await ctx.withClient(async (one) => {
        const id = await resolveOne(one, 'template', ref);
        const run = () => one.instantiate(id, body);
        const vms = extra ? await withSource(extra, run) : await run();
        emit(ctx, opts, [vms], () => vms.map((v) => `VM ID: ${v.id}\n`).join(''));
      });
    });

  withOutputOptions(template.command('clone').description('copy a template under a new name, owned by you'))
    .argument('<id>', 'template id or name')
    .argument('<name>', 'name of the copy')
    .action(async (ref: string, name: string, opts: { json?: boolean; yaml?: boolean }) =>
      ctx.withClient(async (one) => {
        const copy = await one.cloneTemplate(await resolveOne(one, 'template', ref), name);
        emit(ctx, opts, [copy], () => `ID: ${copy.id}\n`);
      }),
    );
}
