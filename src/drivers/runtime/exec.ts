import { execFile } from 'node:child_process';

/**
 * A host command that failed. Carries what the agent needs to explain the
 * failure (argv, exit code, trimmed stderr); RuntimeHost copies `stderr`
 * into the OneError details.
 */
export class CommandError extends Error {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(argv: readonly string[], exitCode: number | null, stderr: string, options?: { cause?: unknown }) {
    const tail = lastLine(stderr);
    super(
      `${commandLabel(argv)} failed${exitCode === null ? '' : ` (exit ${exitCode})`}${tail ? `: ${tail}` : ''}`,
      options,
    );
    this.name = 'CommandError';
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr.trim();
  }
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` (never through a shell) and resolves with its output, or rejects
 * with a CommandError on a non-zero exit. Aborting `signal` kills the child and
 * rejects with the signal's reason.
 */
export function runCommand(argv: readonly string[], signal: AbortSignal): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new TypeError('runCommand needs a non-empty argv'));
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    execFile(file, args, { signal, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) {
        resolve({ stdout, stderr });
        return;
      }
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new CommandError(argv, code, stderr || err.message, { cause: err }));
    });
  });
}

/** `crun run`, `mount`: the program and its verb, skipping options and their values (`--root DIR`). */
export function commandLabel(argv: readonly string[]): string {
  const [program = 'command', ...rest] = argv;
  const name = program.slice(program.lastIndexOf('/') + 1);
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === '--root' || arg === '--log') i++;
    else if (!arg.startsWith('-')) return /^[a-z][a-z-]*$/.test(arg) ? `${name} ${arg}` : name;
  }
  return name;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(0, 300);
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
