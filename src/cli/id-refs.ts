import type { ObjectKind, OneEdgeClient } from '../client/index.js';
import { parseIdList } from './args.js';
import type { CliContext } from './cli-context.js';
import { ExitError, reportError, UsageError } from './cli-error.js';

/** One object id from `ID` or `NAME`. */
export async function resolveOne(one: OneEdgeClient, kind: ObjectKind, arg: string): Promise<number> {
  const refs = parseIdList(arg);
  if (refs.length !== 1) throw new UsageError(`expected one ${kind} id or name, got '${arg}'`);
  return one.resolveId(kind, refs[0]!);
}

/** Ids from `3`, `1,2,5..7` or a name. */
export async function resolveMany(one: OneEdgeClient, kind: ObjectKind, arg: string): Promise<number[]> {
  const refs = parseIdList(arg);
  const ids: number[] = [];
  for (const r of refs) ids.push(await one.resolveId(kind, r));
  return ids;
}

/**
 * Runs `fn` for every id of an id list, in order, going on after a failure
 * like OpenNebula's CLI does. With one id its error propagates as is; with
 * several each failure is printed with its id and the exit code is that of
 * the last failure. Returns the results of the successes.
 */
export async function forEachId<T>(
  ctx: CliContext,
  one: OneEdgeClient,
  kind: ObjectKind,
  arg: string,
  fn: (id: number) => Promise<T>,
): Promise<T[]> {
  const ids = await resolveMany(one, kind, arg);
  if (ids.length === 1) return [await fn(ids[0]!)];
  const results: T[] = [];
  let exit = 0;
  for (const id of ids) {
    try {
      results.push(await fn(id));
    } catch (err) {
      exit = reportError(err, (s) => ctx.err(s.replace(/^oneedge: /, `oneedge: ${kind} ${id}: `)));
    }
  }
  if (exit !== 0) throw new ExitError(exit);
  return results;
}
