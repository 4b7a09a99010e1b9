import type { Command } from 'commander';
import type { ApiObject, CreateInput } from '../client/index.js';
import { firstLine } from './args.js';
import type { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';
import { forEachId, resolveOne } from './id-refs.js';
import { withOutputOptions } from './output.js';
import { emit, registerPoolVerbs } from './pool-verbs.js';
import type { Column } from './table.js';

export const USER_COLUMNS: Column<ApiObject<'user'>>[] = [
  { header: 'ID', cell: (u) => String(u.id), align: 'right' },
  { header: 'NAME', cell: (u) => u.name },
  { header: 'ENAB', cell: (u) => (u.enabled === false ? 'No' : 'Yes') },
  { header: 'GROUP', cell: (u) => u.gname },
  { header: 'GROUPS', cell: (u) => [u.gid, ...(u.groups ?? [])].join(',') },
  { header: 'AUTH', cell: (u) => u.auth_driver ?? 'core' },
];

type OutputOpts = { json?: boolean; yaml?: boolean };

/**
 * A password from the argument, `--password-stdin`, or a no-echo prompt on a
 * terminal; exactly one source.
 */
export async function passwordFrom(
  ctx: CliContext,
  arg: string | undefined,
  fromStdin: boolean | undefined,
): Promise<string> {
  if (arg !== undefined && fromStdin)
    throw new UsageError('give the password as an argument or with --password-stdin, not both');
  let password = arg;
  if (fromStdin) password = firstLine(await ctx.io.readStdin());
  else if (password === undefined) {
    if (!ctx.io.stdinIsTTY)
      throw new UsageError('a password is required: pass it as an argument or use --password-stdin');
    password = await ctx.io.promptSecret('Password: ');
  }
  if (password === '') throw new UsageError('the password is empty');
  return password;
}

export function registerUser(program: Command, ctx: CliContext): void {
  const user = registerPoolVerbs(program, ctx, {
    kind: 'user',
    summary: 'users (oneuser)',
    columns: USER_COLUMNS,
    createFromFile: false,
    chown: false, // a user owns itself; chgrp changes its primary group
    hasState: false,
  });

  withOutputOptions(user.command('create').description('create a user'))
    .argument('<name>', 'user name')
    .argument('[password]', 'password (or --password-stdin, or a prompt on a terminal)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('-g, --group <group>', 'primary group id or name (default: users)')
    .action(
      async (name: string, arg: string | undefined, opts: OutputOpts & { passwordStdin?: boolean; group?: string }) => {
        const password = await passwordFrom(ctx, arg, opts.passwordStdin);
        await ctx.withClient(async (one) => {
          const input: CreateInput = { name, password };
          if (opts.group !== undefined) input.group_id = await resolveOne(one, 'group', opts.group);
          const obj = await one.create('user', input);
          emit(ctx, opts, [obj], () => `ID: ${obj.id}\n`);
        });
      },
    );

  user
    .command('passwd')
    .description("change a user's password (ends that user's sessions)")
    .argument('<id>', 'user id or name')
    .argument('[password]', 'new password (or --password-stdin, or a prompt on a terminal)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(async (ref: string, arg: string | undefined, opts: { passwordStdin?: boolean }) => {
      const password = await passwordFrom(ctx, arg, opts.passwordStdin);
      await ctx.withClient(async (one) => one.setPassword(await resolveOne(one, 'user', ref), password));
    });

  for (const [verb, add] of [
    ['addgroup', true],
    ['delgroup', false],
  ] as const) {
    withOutputOptions(user.command(verb).description(add ? 'add a secondary group' : 'remove a secondary group'))
      .argument('<ids>', 'user id, name, or list like 1,2,5..7')
      .argument('<group>', 'group id or name')
      .action(async (ref: string, group: string, opts: OutputOpts) =>
        ctx.withClient(async (one) => {
          const gid = await resolveOne(one, 'group', group);
          const done = await forEachId(ctx, one, 'user', ref, (id) =>
            add ? one.addGroup(id, gid) : one.delGroup(id, gid),
          );
          emit(ctx, opts, done);
        }),
      );
  }

  for (const [verb, enable] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    withOutputOptions(user.command(verb).description(enable ? 'enable users' : 'disable users (ends their sessions)'))
      .argument('<ids>', 'user id, name, or list like 1,2,5..7')
      .action(async (ref: string, opts: OutputOpts) =>
        ctx.withClient(async (one) => {
          const done = await forEachId(ctx, one, 'user', ref, (id) =>
            enable ? one.enableUser(id) : one.disableUser(id),
          );
          emit(ctx, opts, done);
        }),
      );
  }
}
