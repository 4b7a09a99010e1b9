import type { OneError } from '../errors.js';
import { getAll, getString } from '../template/access.js';
import type { Template } from '../template/types.js';
import { compileRank, compileRequirements } from './compile.js';
import { substituteExpressionVariables } from './substitute.js';

/** The scheduling expressions of a VM template, by attribute path and grammar. */
export interface VmExpression {
  /** `SCHED_REQUIREMENTS`, `NIC[1]/SCHED_RANK`, … */
  attribute: string;
  kind: 'requirements' | 'rank';
  /** After `$VAR` substitution. */
  source: string;
}

export interface CheckExpressionsOptions {
  /**
   * Variables the template cannot answer yet (USER_INPUTS answered at
   * instantiation) read as `0` instead of the empty string, so a template is
   * not refused for them at registration.
   */
  deferVariables?: boolean;
  /** Extra `$VAR` values such as `VMID`. */
  variables?: Readonly<Record<string, string>>;
}

const TOP_LEVEL: readonly [string, VmExpression['kind']][] = [
  ['SCHED_REQUIREMENTS', 'requirements'],
  ['SCHED_RANK', 'rank'],
  ['SCHED_DS_REQUIREMENTS', 'requirements'],
  ['SCHED_DS_RANK', 'rank'],
];

/** Every scheduling expression in a VM template (top level and per NIC), substituted. */
export function vmExpressions(template: Template, options: CheckExpressionsOptions = {}): VmExpression[] {
  const unresolved = options.deferVariables === true ? '0' : '';
  const subst = (text: string) => substituteExpressionVariables(text, template, options.variables, unresolved);
  const out: VmExpression[] = [];
  for (const [name, kind] of TOP_LEVEL) {
    const text = getString(template, name);
    if (text !== undefined) out.push({ attribute: name, kind, source: subst(text) });
  }
  getAll(template, 'NIC').forEach((nic, i) => {
    if (typeof nic === 'string') return;
    const req = nic.SCHED_REQUIREMENTS;
    if (req !== undefined)
      out.push({ attribute: `NIC[${i}]/SCHED_REQUIREMENTS`, kind: 'requirements', source: subst(req) });
    const rank = nic.SCHED_RANK;
    if (rank !== undefined) out.push({ attribute: `NIC[${i}]/SCHED_RANK`, kind: 'rank', source: subst(rank) });
  });
  return out;
}

/** Every syntax error among a template's scheduling expressions (empty when all parse). */
export function findExpressionErrors(template: Template, options: CheckExpressionsOptions = {}): OneError[] {
  const errors: OneError[] = [];
  for (const e of vmExpressions(template, options)) {
    try {
      if (e.kind === 'requirements') compileRequirements(e.source, e.attribute);
      else compileRank(e.source, e.attribute);
    } catch (err) {
      errors.push(err as OneError);
    }
  }
  return errors;
}

/**
 * Checks the scheduling expressions of a VM template (SCHED_REQUIREMENTS,
 * SCHED_RANK, SCHED_DS_REQUIREMENTS, SCHED_DS_RANK and each NIC's
 * SCHED_REQUIREMENTS/SCHED_RANK) and throws the first syntax error as
 * `E_EXPRESSION_SYNTAX` with `{attribute, column, expected}`. Call it when a
 * template or VM is registered, so that a malformed expression is refused
 * there and never reaches the scheduler.
 */
export function checkVmExpressions(template: Template, options: CheckExpressionsOptions = {}): void {
  const [first] = findExpressionErrors(template, options);
  if (first !== undefined) throw first;
}
