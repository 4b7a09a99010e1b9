import type { Template, TemplateValue } from './types.js';

/**
 * Number of occurrences of `name` already in `t`, i.e. the index the next
 * appended value will get in position keys (`NAME[i]`).
 */
export function occurrenceCount(t: Template, name: string): number {
  const prev = t[name];
  if (prev === undefined) return 0;
  return Array.isArray(prev) ? prev.length : 1;
}

/**
 * Appends one occurrence of `name`, keeping the canonical shape (a single
 * value stays bare; the second occurrence turns it into an array). Mutates
 * `t`: only for parsers and builders that own the object they fill.
 */
export function appendValue(t: Template, name: string, value: TemplateValue): void {
  const prev = t[name];
  if (prev === undefined) t[name] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else t[name] = [prev, value];
}

/** The PositionMap key of an attribute: `NAME[i]` or `NAME[i]/SUB`. */
export function attributePath(name: string, index: number, sub?: string): string {
  return sub === undefined ? `${name}[${index}]` : `${name}[${index}]/${sub}`;
}
