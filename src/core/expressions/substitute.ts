import { getAll, getString } from '../template/access.js';
import type { Template } from '../template/types.js';
import { replaceVariables, type VariableRef } from '../template/variables.js';

/**
 * `$VAR` substitution in a requirement or rank expression, done before it is
 * parsed (OpenNebula substitutes the VM's own attributes into its scheduling
 * expressions): `$MEMORY`, `$CONTEXT[NETWORK]`, `$NIC[IP, NETWORK_ID=0]`, and
 * anything in `extra` (e.g. `VMID`, `UID`). A reference that resolves to
 * nothing becomes `unresolved` — the empty string by default, as OpenNebula
 * does; pass `'0'` to check a template whose variables are answered later.
 */
export function substituteExpressionVariables(
  text: string,
  template: Template,
  extra: Readonly<Record<string, string>> = {},
  unresolved = '',
): string {
  if (!text.includes('$')) return text;
  return replaceVariables(text, (ref) => lookup(ref, template, extra) ?? unresolved);
}

function lookup(ref: VariableRef, template: Template, extra: Readonly<Record<string, string>>): string | undefined {
  if (ref.sub === undefined) {
    return Object.hasOwn(extra, ref.name) ? extra[ref.name] : getString(template, ref.name);
  }
  if (ref.key === undefined) return getString(template, `${ref.name}/${ref.sub}`);
  for (const v of getAll(template, ref.name)) {
    if (typeof v !== 'string' && v[ref.key] === ref.value) return v[ref.sub];
  }
  return undefined;
}
