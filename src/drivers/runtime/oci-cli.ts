/**
 * The command line of an OCI runtime (crun or runc; their verbs and JSON are
 * the same), each call with an argv and the instance's own `--root` state
 * directory. Hides the two runtimes' small differences: how "no such
 * container" is worded, and `list` printing `null` (runc) or `[]` (crun).
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CommandError, runCommand } from './exec.js';

export type OciFlavour = 'crun' | 'runc';

export interface OciState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  created?: string;
}

const NOT_FOUND = /does not exist|not found|No such file or directory/i;

export function isNotFound(err: unknown): boolean {
  return err instanceof CommandError && NOT_FOUND.test(err.stderr);
}

export class OciCli {
  constructor(
    readonly flavour: OciFlavour,
    readonly binary: string,
    readonly root: string,
  ) {}

  private argv(...args: string[]): string[] {
    return [this.binary, '--root', this.root, ...args];
  }

  async version(signal: AbortSignal): Promise<string> {
    const { stdout } = await runCommand([this.binary, '--version'], signal);
    return /version\s+(\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0]?.trim() ?? 'unknown';
  }

  /** The runtime's view of `id`, or undefined when it does not know the container. */
  async state(id: string, signal: AbortSignal): Promise<OciState | undefined> {
    // Both runtimes keep a directory per container under --root; without it there is nothing to ask
    // (and spawning costs 25-40 ms on a nested VM).
    signal.throwIfAborted();
    if (!(await exists(join(this.root, id)))) return undefined;
    try {
      const { stdout } = await runCommand(this.argv('state', id), signal);
      return JSON.parse(stdout) as OciState;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(signal: AbortSignal): Promise<OciState[]> {
    await mkdir(this.root, { recursive: true });
    const { stdout } = await runCommand(this.argv('list', '--format', 'json'), signal);
    const parsed = JSON.parse(stdout.trim() || 'null') as OciState[] | null;
    return parsed ?? [];
  }

  /** Sends `sig` to the container's init; false when the container is gone or already stopped. */
  async kill(id: string, sig: 'TERM' | 'KILL', signal: AbortSignal): Promise<boolean> {
    try {
      await runCommand(this.argv('kill', id, sig), signal);
      return true;
    } catch (err) {
      if (isNotFound(err) || (err instanceof CommandError && /not running|stopped|no such process/i.test(err.stderr)))
        return false;
      throw err;
    }
  }

  /** Forced delete; a container that is already gone is fine. */
  async delete(id: string, signal: AbortSignal): Promise<void> {
    try {
      await runCommand(this.argv('delete', '--force', id), signal);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async pause(id: string, signal: AbortSignal): Promise<void> {
    await runCommand(this.argv('pause', id), signal);
  }

  async resume(id: string, signal: AbortSignal): Promise<void> {
    await runCommand(this.argv('resume', id), signal);
  }

  /**
   * `run --detach`: the container's stdout and stderr are the log file itself
   * (an O_APPEND fd handed over through spawn's stdio), so the workload keeps
   * logging after the agent dies. The runtime's own errors go to a separate
   * `--log` file that is read back on failure. Resolves with the init's pid.
   */
  async runDetached(id: string, bundle: string, logPath: string, signal: AbortSignal): Promise<number> {
    signal.throwIfAborted();
    await mkdir(dirname(logPath), { recursive: true });
    const errorLog = join(bundle, 'runtime-error.log');
    const pidFile = join(bundle, 'init.pid');
    await rm(errorLog, { force: true });
    await rm(pidFile, { force: true });
    const logOption = this.flavour === 'crun' ? [`--log=file:${errorLog}`] : ['--log', errorLog];
    const argv = [this.binary, '--root', this.root, ...logOption, 'run', '--detach', '--pid-file', pidFile];
    argv.push('--bundle', bundle, id);
    const log = await open(logPath, 'a');
    let exit: { code: number | null; error?: Error };
    try {
      exit = await new Promise((resolve) => {
        // detached: a session of its own, so a Ctrl-C or SIGHUP aimed at the agent does not reach the workload.
        const child = spawn(argv[0] as string, argv.slice(1), {
          stdio: ['ignore', log.fd, log.fd],
          detached: true,
          signal,
        });
        child.once('error', (error) => resolve({ code: null, error }));
        child.once('exit', (code) => resolve({ code }));
      });
    } finally {
      await log.close();
    }
    if (signal.aborted) throw signal.reason;
    if (exit.code === 0) return Number.parseInt(await readFile(pidFile, 'utf8'), 10);
    const stderr = await readFile(errorLog, 'utf8').catch(() => exit.error?.message ?? '');
    throw new CommandError(argv, exit.code, stderr, { cause: exit.error });
  }

  /** Foreground `run` that waits for the container to exit (the probe's tiny container). */
  async runForeground(id: string, bundle: string, signal: AbortSignal): Promise<void> {
    await runCommand(this.argv('run', '--bundle', bundle, id), signal);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** True once `pid` is gone or a zombie (an exited init waits for its reaper, PID 1 on the host). */
export async function hasExited(pid: number): Promise<boolean> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const end = text.lastIndexOf(')');
    return text.slice(end + 2, end + 3) === 'Z';
  } catch {
    return true;
  }
}
