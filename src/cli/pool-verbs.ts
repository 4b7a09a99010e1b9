import type { Command } from 'commander';
import type {
  ApiObject,
  CreateInput,
  ListOptions,
  ObjectKind,
  OneEdgeClient,
  TemplateFormat,
} from '../client/index.js';
import { parseCount, parseFilters } from './args.js';
import type { CliContext } from './cli-context.js';
import { UsageError, withSource } from './cli-error.js';
import { forEachId, resolveOne } from './id-refs.js';
import { outputFormat, renderData, withOutputOptions } from './output.js';
import { renderShow } from './show-view.js';
import { applyFilters, type Column, pickColumns, renderTable } from './table.js';
import { editTemplate, readTemplateArg } from './template-source.js';

/** How one noun (`vm`, `host`, …) plugs into the verbs every pool shares. */
export interface NounSpec<K extends ObjectKind> {
  kind: K;
  summary: string;
  columns: Column<ApiObject<K>>[];
  /** Registers `create FILE` (a template in native, YAML or JSON syntax); false when the noun has its own. */
  createFromFile: boolean;
  /** Adds kind-specific options to `create FILE` and turns them into request fields. */
  createExtras?: {
    options: (cmd: Command) => Command;
    fields: (one: OneEdgeClient, opts: Record<string, unknown>) => Promise<Partial<CreateInput>>;
  };
  /** `chown` (owner and group); objects that own themselves (users) only get `chgrp`. */
  chown: boolean;
  /** The kind has states (`list --state`). */
  hasState: boolean;
  /** VMs: `list --include-done`. */
  includeDone?: boolean;
}

type OutputOpts = { json?: boolean; yaml?: boolean };

/** How help texts name several objects of a kind. */
const PLURAL_WORDS: Readonly<Record<ObjectKind, string>> = {
  user: 'users',
  group: 'groups',
  cluster: 'clusters',
  host: 'hosts',
  datastore: 'datastores',
  image: 'images',
  vnet: 'virtual networks',
  secgroup: 'security groups',
  template: 'templates',
  vm: 'VMs',
  vmgroup: 'VM groups',
};

const collect = (value: string, previous: string[]) => [...previous, value];
const FORMATS = new Set(['native', 'yaml', 'json', 'auto']);

export function templateFormat(value: string | undefined): TemplateFormat | 'auto' {
  const f = (value ?? 'auto').toLowerCase();
  if (!FORMATS.has(f)) throw new UsageError(`--format must be native, yaml, json or auto, got '${value}'`);
  return f as TemplateFormat | 'auto';
}

/**
 * Prints what a command produced: in JSON/YAML the objects (one object for a
 * single id, else an array), for people `human()` (often nothing: changes are
 * silent, like OpenNebula's CLI).
 */
export function emit(ctx: CliContext, opts: OutputOpts, objects: readonly unknown[], human?: () => string): void {
  const fmt = outputFormat(opts);
  if (fmt !== 'human') ctx.out(renderData(objects.length === 1 ? objects[0] : objects, fmt));
  else if (human) ctx.out(human());
}

/** Registers the noun and its shared verbs; returns the noun's command for kind-specific verbs. */
export function registerPoolVerbs<K extends ObjectKind>(program: Command, ctx: CliContext, spec: NounSpec<K>): Command {
  const { kind } = spec;
  const noun = program.command(kind).description(spec.summary);
  registerList(noun, ctx, spec);

  withOutputOptions(noun.command('show').description(`show a ${kind} and its template`))
    .argument('<id>', `${kind} id or name`)
    .action(async (ref: string, opts: OutputOpts) =>
      ctx.withClient(async (one) => {
        const obj = await one.get(kind, await resolveOne(one, kind, ref));
        // A VM's usage comes from the monitoring API (not stored in the VM record).
        const vmUsage =
          kind === 'vm' && outputFormat(opts) === 'human'
            ? await one
                .vmMonitoring(obj.id, { limit: 1 })
                .then((m) => m.current)
                .catch(() => null)
            : null;
        emit(ctx, opts, [obj], () => renderShow(kind, obj, { vmUsage }));
      }),
    );

  if (spec.createFromFile) registerCreateFromFile(noun, ctx, spec);
  registerUpdate(noun, ctx, kind);

  noun
    .command('delete')
    .description(kind === 'vm' ? 'terminate VMs (same as vm terminate)' : `delete ${PLURAL_WORDS[kind]}`)
    .argument('<ids>', 'id, name, or list like 1,2,5..7')
    .action(async (ref: string) =>
      ctx.withClient(async (one) => {
        await forEachId(ctx, one, kind, ref, (id) => one.delete(kind, id));
      }),
    );

  if (spec.chown) {
    withOutputOptions(noun.command('chown').description(`change the owner (and group) of ${PLURAL_WORDS[kind]}`))
      .argument('<ids>', 'id, name, or list like 1,2,5..7')
      .argument('<user>', 'new owner: user id or name')
      .argument('[group]', 'new group: group id or name')
      .action(async (ref: string, user: string, group: string | undefined, opts: OutputOpts) =>
        ctx.withClient(async (one) => {
          const uid = await resolveOne(one, 'user', user);
          const gid = group === undefined ? undefined : await resolveOne(one, 'group', group);
          const done = await forEachId(ctx, one, kind, ref, (id) =>
            one.chown(kind, id, gid === undefined ? { uid } : { uid, gid }),
          );
          emit(ctx, opts, done);
        }),
      );
  }

  withOutputOptions(noun.command('chgrp').description(`change the group of ${PLURAL_WORDS[kind]}`))
    .argument('<ids>', 'id, name, or list like 1,2,5..7')
    .argument('<group>', 'new group: group id or name')
    .action(async (ref: string, group: string, opts: OutputOpts) =>
      ctx.withClient(async (one) => {
        const gid = await resolveOne(one, 'group', group);
        emit(ctx, opts, await forEachId(ctx, one, kind, ref, (id) => one.chown(kind, id, { gid })));
      }),
    );

  withOutputOptions(noun.command('chmod').description(`change the permissions of ${PLURAL_WORDS[kind]}`))
    .argument('<ids>', 'id, name, or list like 1,2,5..7')
    .argument('<permissions>', 'octal like 640 (owner/group/other × use 4, manage 2, admin 1) or um-u-----')
    .action(async (ref: string, perms: string, opts: OutputOpts) =>
      ctx.withClient(async (one) => {
        if (!/^[0-7]{3}$/.test(perms) && !/^([u-][m-][a-]){3}$/.test(perms)) {
          throw new UsageError(
            `permissions must be three octal digits like 640 or letters like um-u-----, got '${perms}'`,
          );
        }
        emit(ctx, opts, await forEachId(ctx, one, kind, ref, (id) => one.chmod(kind, id, perms)));
      }),
    );

  withOutputOptions(noun.command('rename').description(`rename a ${kind}`))
    .argument('<id>', `${kind} id or name`)
    .argument('<name>', 'new name')
    .action(async (ref: string, name: string, opts: OutputOpts) =>
      ctx.withClient(async (one) => {
        emit(ctx, opts, [await one.rename(kind, await resolveOne(one, kind, ref), name)]);
      }),
    );
  return noun;
}

interface ListOpts extends OutputOpts {
  all?: boolean;
  limit?: string;
  state?: string;
  scope?: string;
  includeDone?: boolean;
  filter: string[];
  list?: string;
  header: boolean;
}

function registerList<K extends ObjectKind>(noun: Command, ctx: CliContext, spec: NounSpec<K>): void {
  const { kind } = spec;
  const cmd = withOutputOptions(noun.command('list').description(`list ${PLURAL_WORDS[kind]}`))
    .option('-a, --all', 'fetch every page (default: the first page, up to --limit)')
    .option('--limit <n>', 'page size (server default 500)')
    .option('--scope <scope>', 'mine, group or all (default: everything you may see)')
    .option('--filter <filter>', 'keep rows where COLUMN=value, COLUMN!=value or COLUMN~text (repeatable)', collect, [])
    .option('-l, --list <columns>', `columns to show: ${spec.columns.map((c) => c.header).join(',')}`)
    .option('--no-header', 'omit the header line');
  if (spec.hasState)
    cmd.option('--state <state>', 'only objects in this state (a STATE name, e.g. PENDING, ACTIVE, POWEROFF)');
  if (spec.includeDone) cmd.option('--include-done', 'include VMs in DONE');
  cmd.action(async (opts: ListOpts) =>
    ctx.withClient(async (one) => {
      const scope = opts.scope;
      if (scope !== undefined && scope !== 'mine' && scope !== 'group' && scope !== 'all') {
        throw new UsageError(`--scope must be mine, group or all, got '${scope}'`);
      }
      const columns = pickColumns(spec.columns, opts.list);
      const filters = parseFilters(opts.filter);
      const query: ListOptions = {
        ...(opts.all ? { all: true } : {}),
        ...(opts.limit !== undefined ? { limit: parseCount(opts.limit, '--limit') } : {}),
        ...(opts.state ? { state: opts.state.toUpperCase() } : {}),
        ...(scope ? { scope } : {}),
        ...(opts.includeDone ? { include_done: true } : {}),
      };
      const res = await one.list(kind, query);
      const rows = applyFilters(spec.columns, res.items, filters);
      const fmt = outputFormat(opts);
      if (fmt === 'human') ctx.out(renderTable(columns, rows, { header: opts.header }));
      else ctx.out(renderData(rows, fmt));
      if (res.next !== null) {
        ctx.err(
          `oneedge: showing the first ${res.items.length} of ${res.total} ${PLURAL_WORDS[kind]}; --all lists every page\n`,
        );
      }
    }),
  );
}

function registerCreateFromFile<K extends ObjectKind>(noun: Command, ctx: CliContext, spec: NounSpec<K>): void {
  const { kind } = spec;
  let cmd = withOutputOptions(noun.command('create').description(`create a ${kind} from a template file`))
    .argument('<file>', 'template in OpenNebula syntax, YAML or JSON; - reads stdin')
    .option('--format <format>', 'native, yaml, json or auto (default: detect)');
  if (spec.createExtras) cmd = spec.createExtras.options(cmd);
  cmd.action(async (file: string, opts: OutputOpts & { format?: string } & Record<string, unknown>) => {
    const format = templateFormat(opts.format);
    const source = await readTemplateArg(ctx, file);
    await ctx.withClient(async (one) => {
      const extra = spec.createExtras ? await spec.createExtras.fields(one, opts) : {};
      const obj = await withSource(source, () => one.create(kind, { ...extra, template: source.text, format }));
      emit(ctx, opts, [obj], () => `ID: ${obj.id}\n`);
    });
  });
}

function registerUpdate(noun: Command, ctx: CliContext, kind: ObjectKind): void {
  withOutputOptions(noun.command('update').description(`replace (or --append to) the template of a ${kind}`))
    .argument('<id>', `${kind} id or name`)
    .argument('[file]', 'new template (- reads stdin); without it the current one opens in $EDITOR')
    .option('--append', 'merge into the current template instead of replacing it')
    .option('--format <format>', 'native, yaml, json or auto (default: detect)')
    .action(async (ref: string, file: string | undefined, opts: OutputOpts & { append?: boolean; format?: string }) => {
      const format = templateFormat(opts.format);
      const fromFile = file === undefined ? undefined : await readTemplateArg(ctx, file);
      await ctx.withClient(async (one) => {
        const current = await one.get(kind, await resolveOne(one, kind, ref));
        const source = fromFile ?? (await editTemplate(ctx, kind, current));
        if (!source) {
          ctx.err('oneedge: template unchanged; nothing to update\n');
          return;
        }
        // If-Match: the change applies only to the revision just read (409 E_REVISION_MISMATCH otherwise).
        const input = { template: source.text, format, ...(opts.append ? { append: true } : {}) };
        const obj = await withSource(source, () => one.update(kind, current.id, input, current.revision));
        emit(ctx, opts, [obj]);
      });
    });
}
