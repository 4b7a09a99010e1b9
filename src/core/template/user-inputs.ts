import { Buffer } from 'node:buffer';
import { OneError } from '../errors.js';
import { setValue } from './access.js';
import type { PositionMap, Template, TemplateValue, TemplateVector } from './types.js';
import type { UserInputDescriptor } from './user-input-definitions.js';
import { checkUserInputValue, describeUserInputs } from './user-input-definitions.js';
import { replaceVariables } from './variables.js';

/**
 * Answers the template's USER_INPUTS and returns the instantiated template.
 *
 * - `answers` maps input names (any case) to answers; an answer for a name
 *   that is not an input is an error (it is almost always a typo).
 * - An absent or empty answer takes the default; a mandatory input without
 *   either is `E_USER_INPUT` with `details.input`. An optional one becomes "".
 * - Answers are checked and normalised by type (see `checkUserInputValue`);
 *   `fixed` inputs take their default and reject a different answer.
 * - `text64`: the answer is plain text and is base64-encoded here, which is
 *   what OpenNebula's clients do before sending it. (A default is plain
 *   text too.)
 * - Each value is written as a top-level attribute `NAME = value` (as
 *   OpenNebula merges answers into the VM template, so `$NAME` still resolves
 *   later) and replaces the plain reference `$NAME` in every other value,
 *   typically in CONTEXT. Other references are left for `substitute`; the
 *   USER_INPUTS definitions themselves are kept unchanged.
 *
 * Malformed definitions throw `E_TEMPLATE_INVALID` (with positions when
 * `positions` is given).
 */
export function applyUserInputs(t: Template, answers: Record<string, string>, positions?: PositionMap): Template {
  const inputs = describeUserInputs(t, positions);
  const byName = new Map(inputs.map((input) => [input.name, input]));
  const given = new Map<string, string>();
  for (const [name, answer] of Object.entries(answers)) {
    const key = name.toUpperCase();
    if (!byName.has(key)) throw answerError(key, `there is no user input ${key}`);
    given.set(key, answer);
  }
  const values = new Map<string, string>();
  for (const input of inputs) values.set(input.name, answerFor(input, given.get(input.name)));

  let out: Template = {};
  for (const [name, value] of Object.entries(t)) {
    out[name] = name === 'USER_INPUTS' ? value : replaceIn(value, values);
  }
  for (const [name, value] of values) out = setValue(out, name, value);
  return out;
}

function answerFor(input: UserInputDescriptor, answer: string | undefined): string {
  if (input.type === 'fixed') {
    const fixed = input.default ?? '';
    if (answer !== undefined && answer !== '' && answer !== fixed) {
      throw answerError(input.name, `user input ${input.name} is fixed to '${fixed}'`);
    }
    return fixed;
  }
  const raw = answer !== undefined && answer !== '' ? answer : input.default;
  if (raw === undefined) {
    if (input.mandatory) throw answerError(input.name, `user input ${input.name} is mandatory: ${input.description}`);
    return '';
  }
  const checked = checkUserInputValue(input, raw);
  if ('problem' in checked) throw answerError(input.name, `user input ${input.name}: ${checked.problem}`);
  return input.type === 'text64' ? Buffer.from(checked.value, 'utf8').toString('base64') : checked.value;
}

function replaceIn(
  value: TemplateValue | TemplateValue[],
  values: Map<string, string>,
): TemplateValue | TemplateValue[] {
  if (Array.isArray(value)) return value.map((v) => replaceOne(v, values));
  return replaceOne(value, values);
}

function replaceOne(value: TemplateValue, values: Map<string, string>): TemplateValue {
  const text = (s: string): string =>
    replaceVariables(s, (ref) => (ref.sub === undefined ? values.get(ref.name) : undefined));
  if (typeof value === 'string') return text(value);
  const out: TemplateVector = {};
  for (const [sub, v] of Object.entries(value)) out[sub] = text(v);
  return out;
}

function answerError(input: string, message: string): OneError {
  return new OneError('E_USER_INPUT', message, { input });
}
