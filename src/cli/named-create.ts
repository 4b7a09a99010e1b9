import type { Command } from 'commander';
import type { ObjectKind } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { withOutputOptions } from './output.js';
import { emit } from './pool-verbs.js';

/** `create NAME` for kinds that need nothing but a name (groups, clusters). */
export function registerNamedCreate(noun: Command, ctx: CliContext, kind: ObjectKind): void {
  withOutputOptions(noun.command('create').description(`create a ${kind}`))
    .argument('<name>', `${kind} name`)
    .action(async (name: string, opts: { json?: boolean; yaml?: boolean }) =>
      ctx.withClient(async (one) => {
        const obj = await one.create(kind, { name });
        emit(ctx, opts, [obj], () => `ID: ${obj.id}\n`);
      }),
    );
}
