import { UsageError } from './cli-error.js';

/** Most ids one command line may expand to (`0..9999999` is surely a typo). */
export const MAX_ID_LIST = 10_000;

const ID_LIST = /^\d+(?:\.\.\d+)?(?:,\d+(?:\.\.\d+)?)*$/;

/**
 * OpenNebula's id lists: `3`, `1,2,5`, `4..7` and mixes. Anything else is one
 * name, to be resolved by the caller (names may contain commas, so only a
 * text made of digits, commas and `..` is a list).
 */
export function parseIdList(arg: string): Array<number | string> {
  const text = arg.trim();
  if (!ID_LIST.test(text)) {
    if (text === '') throw new UsageError('an id or name is required');
    return [text];
  }
  const ids: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('..').map(Number) as [number, number | undefined];
    const end = b ?? a;
    if (end < a) throw new UsageError(`id range ${part} runs backwards`);
    if (ids.length + (end - a + 1) > MAX_ID_LIST) throw new UsageError(`more than ${MAX_ID_LIST} ids in '${arg}'`);
    for (let i = a; i <= end; i++) ids.push(i);
  }
  return [...new Set(ids)];
}

/** A non-negative integer option or argument. */
export function parseCount(value: string, what: string, min = 0): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${what} must be an integer, got '${value}'`);
  const n = Number(value.trim());
  if (n < min) throw new UsageError(`${what} must be at least ${min}, got ${n}`);
  return n;
}

/**
 * `K=V,K2=V2` pairs (user inputs). A comma inside a value needs the repeatable
 * single-pair form (`--user-input K=a,b`), which splits only at the first `=`.
 */
export function parseKeyValues(text: string, single = false): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = single ? [text] : text.split(',');
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`expected KEY=VALUE, got '${part}'`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1);
  }
  return out;
}

/** Credentials of an auth file (`user:password`, split at the first colon like one_auth). */
export function parseAuthFile(text: string, label: string): { username: string; password: string } {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '');
  const colon = line?.indexOf(':') ?? -1;
  if (!line || colon <= 0) throw new UsageError(`${label} must hold 'user:password' on its first line`);
  return { username: line.slice(0, colon).trim(), password: line.slice(colon + 1) };
}

/** First line of a secret read from stdin, without its line end. */
export function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0] ?? '';
}

/** A table filter: `COLUMN=value`, `COLUMN!=value` or `COLUMN~substring`. */
export interface Filter {
  column: string;
  op: '=' | '!=' | '~';
  value: string;
}

export function parseFilters(specs: readonly string[]): Filter[] {
  const out: Filter[] = [];
  for (const spec of specs.flatMap((s) => s.split(','))) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(!=|=|~)(.*)$/.exec(spec.trim());
    if (!m) throw new UsageError(`filter '${spec}' must look like COLUMN=value, COLUMN!=value or COLUMN~text`);
    out.push({ column: m[1]!.toUpperCase(), op: m[2] as Filter['op'], value: m[3]! });
  }
  return out;
}
