import { getAll, setValue } from './access.js';
import type { Template } from './types.js';

export interface MergeOptions {
  /**
   * What a vector in `extra` does to the same name in `base`:
   * - `append` (default): the extra vectors are added after the base ones
   *   (`NIC=[NETWORK_ID=3]` adds a NIC).
   * - `replace`: the extra occurrences replace all base occurrences, which is
   *   what OpenNebula's `Template::merge` does for every name.
   */
  vectors?: 'append' | 'replace';
}

/**
 * Combines a template with an extra template, as `template instantiate` does
 * with the user's extra attributes. For each name in `extra`:
 * - if all its occurrences are strings, they replace every occurrence in
 *   `base` (`MEMORY=2048` overrides);
 * - otherwise (it has a vector) they are appended after the base occurrences,
 *   or replace them with `{ vectors: 'replace' }`.
 * Names only in `base` are kept; key order is base order, then new names.
 *
 * Caveat of `append`: a name that should occur once (CONTEXT, GRAPHICS, OS)
 * gets a second vector; pass `replace`, or merge its sub-attributes first
 * with `setVectorValue`, when that is not wanted. Returns a new template.
 */
export function mergeTemplates(base: Template, extra: Template, options: MergeOptions = {}): Template {
  const mode = options.vectors ?? 'append';
  let out: Template = { ...base };
  for (const name of Object.keys(extra)) {
    const add = getAll(extra, name);
    const allStrings = add.every((v) => typeof v === 'string');
    const keep = allStrings || mode === 'replace' ? [] : getAll(base, name);
    out = setValue(out, name, [...keep, ...add]);
  }
  return out;
}
