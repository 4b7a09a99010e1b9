import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import type { TransportOptions } from '../client/index.js';
import { type CliConfig, CliContext, type CliIo, configFromEnv } from './cli-context.js';
import { reportError } from './cli-error.js';
import { registerCluster } from './cluster.js';
import { registerDatastore } from './datastore.js';
import { registerEvents } from './events.js';
import { registerGroup } from './group.js';
import { registerHost } from './host.js';
import { registerImage } from './image.js';
import { nodeIo } from './node-io.js';
import { registerSecgroup } from './secgroup.js';
import { registerSession } from './session.js';
import { registerSummary } from './summary.js';
import { registerTemplate } from './template.js';
import { registerUser } from './user.js';
import { registerVm } from './vm.js';
import { registerVmGroup } from './vmgroup.js';
import { registerVnet } from './vnet.js';

function packageVersion(): string {
  try {
    const url = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The `oneedge` command tree, writing through `ctx`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('oneedge')
    .description('ONEedge command line: manage users, hosts, images, networks, templates and VMs')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', 'front-end URL (default $ONEEDGE_URL or http://127.0.0.1:2633)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.out(s),
      writeErr: (s) => ctx.err(s),
      outputError: (s, write) => write(`oneedge: ${s.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(add --help for usage)')
    .hook('preAction', () => ctx.setUrl(program.opts<{ url?: string }>().url));
  registerSession(program, ctx);
  registerUser(program, ctx);
  registerGroup(program, ctx);
  registerCluster(program, ctx);
  registerHost(program, ctx);
  registerDatastore(program, ctx);
  registerImage(program, ctx);
  registerVnet(program, ctx);
  registerVmGroup(program, ctx);
  registerSecgroup(program, ctx);
  registerTemplate(program, ctx);
  registerVm(program, ctx);
  registerEvents(program, ctx);
  registerSummary(program, ctx);
  return program;
}

/**
 * Runs one command line (without node and script) and returns the exit code:
 * 0 ok, 2 usage, otherwise the registry's code for the API error.
 */
export async function run(
  argv: readonly string[],
  io: CliIo,
  config: CliConfig,
  transport: TransportOptions = {},
): Promise<number> {
  const ctx = new CliContext(config, io, transport);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return 0;
    return reportError(err, (s) => ctx.err(s));
  }
}

/** `bin/oneedge` entry: reads the environment once, runs, and sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  // `oneedge vm list | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await run(argv, nodeIo(), configFromEnv(process.env));
}
