import { CommanderError } from 'commander';
import { ERRORS, isApiError } from '../client/index.js';

/** A mistake in how the command was called: printed as is, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The error was already printed (e.g. one line per failed id); just exit with this code. */
export class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ExitError';
  }
}

export const USAGE_EXIT = 2;

/** The template text a request carried, so a syntax error can point into it. */
export interface TemplateSource {
  label: string;
  text: string;
}

const sources = new WeakMap<object, TemplateSource>();

/** Runs `fn`; an error it throws remembers `source` so the report can quote the offending line. */
export async function withSource<T>(source: TemplateSource, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err && typeof err === 'object') sources.set(err, source);
    throw err;
  }
}

function position(details: Record<string, unknown>): { line: number; column: number } | undefined {
  const { line, column } = details;
  return typeof line === 'number' && typeof column === 'number' ? { line, column } : undefined;
}

/** `  vm.tpl:3:7` and the line with a caret under the column. */
export function sourceExcerpt(source: TemplateSource, line: number, column: number): string {
  const text = source.text.split(/\r\n|\r|\n/)[line - 1];
  let out = `  ${source.label}:${line}:${column}\n`;
  if (text === undefined) return out;
  const gutter = String(line);
  out += `  ${gutter} | ${text}\n`;
  out += `  ${' '.repeat(gutter.length)} | ${' '.repeat(Math.max(0, column - 1))}^\n`;
  return out;
}

/**
 * Prints an error the way scripts and people both can use: one line
 * `oneedge: [E_CODE] message` (with line:column for template errors, and the
 * offending line when the CLI sent the text) and returns the exit code from
 * the error registry. Usage errors exit 2, unexpected ones 1.
 */
export function reportError(err: unknown, write: (s: string) => void): number {
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof UsageError) {
    write(`oneedge: ${err.message}\n`);
    return USAGE_EXIT;
  }
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_EXIT;
  if (isApiError(err)) {
    let line = `oneedge: [${err.code}] ${err.message}`;
    const pos = position(err.details);
    if (pos && !err.message.includes(`line ${pos.line}, column ${pos.column}`)) {
      line += ` (line ${pos.line}, column ${pos.column})`;
    }
    write(`${line}\n`);
    const source = sources.get(err);
    if (pos && source) write(sourceExcerpt(source, pos.line, pos.column));
    return ERRORS[err.code].exit;
  }
  if (err instanceof Error && err.name === 'AbortError') return 130;
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  write(`oneedge: [E_INTERNAL] unexpected error: ${text}\n`);
  return ERRORS.E_INTERNAL.exit;
}
