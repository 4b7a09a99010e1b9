import type { Command } from 'commander';
import { isApiError } from '../client/index.js';
import { firstLine } from './args.js';
import { formatTime } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';
import { outputFormat, renderData, withOutputOptions } from './output.js';
import { readCachedToken, readCredentials, removeCachedToken } from './session-store.js';

interface LoginOpts {
  username?: string;
  passwordStdin?: boolean;
}

/**
 * Credentials for `login`: the user from --username or the auth file; the
 * password from stdin, the auth file (same user), or a prompt.
 */
async function loginCredentials(ctx: CliContext, opts: LoginOpts): Promise<{ username: string; password: string }> {
  const file = await readCredentials(ctx.config.authFile).catch(() => undefined);
  const username = opts.username ?? file?.username;
  if (!username) {
    throw new UsageError(`who? pass --username, or put user:password in ${ctx.config.authFile} (ONEEDGE_AUTH)`);
  }
  if (opts.passwordStdin) return { username, password: firstLine(await ctx.io.readStdin()) };
  if (file && file.username === username) return { username, password: file.password };
  if (!ctx.io.stdinIsTTY) throw new UsageError('no password: use --password-stdin or run on a terminal');
  return { username, password: await ctx.io.promptSecret(`Password for ${username}: `) };
}

export function registerSession(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('log in and keep the token in ~/.oneedge/token (mode 0600) for later commands')
    .option('-u, --username <user>', 'user name (default: the one in ONEEDGE_AUTH)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(async (opts: LoginOpts) => {
      const { username, password } = await loginCredentials(ctx, opts);
      if (password === '') throw new UsageError('the password is empty');
      const client = await ctx.login(username, password);
      const s = client.session!;
      ctx.out(`logged in to ${ctx.url} as ${s.user.name}; token valid until ${formatTime(s.expires_at)}\n`);
    });

  program
    .command('logout')
    .description('revoke the cached token and delete ~/.oneedge/token')
    .action(async () => {
      const cached = await readCachedToken(ctx.config.tokenFile);
      if (cached) {
        try {
          await ctx.anonymous(cached.token).logout();
        } catch (err) {
          // An expired or already revoked token, or a front-end that is gone: the local file goes anyway.
          if (!isApiError(err)) throw err;
        }
      }
      await removeCachedToken(ctx.config.tokenFile);
    });

  withOutputOptions(program.command('whoami').description('show the user the credentials belong to')).action(
    async (opts: { json?: boolean; yaml?: boolean }) =>
      ctx.withClient(async (one) => {
        const me = await one.whoami();
        const fmt = outputFormat(opts);
        if (fmt !== 'human') ctx.out(renderData(me, fmt));
        else ctx.out(`${me.name} (id ${me.id}, group ${me.gid}${me.admin ? ', administrator' : ''}) at ${ctx.url}\n`);
      }),
  );
}
