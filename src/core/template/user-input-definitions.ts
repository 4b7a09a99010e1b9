import { getString, getVectors } from './access.js';
import type { TemplateIssue } from './issues.js';
import { templateIssue, throwIfIssues } from './issues.js';
import type { PositionMap, Template } from './types.js';

/** The USER_INPUTS types of OpenNebula 5.12 – 6.x. */
export const USER_INPUT_TYPES = [
  'text',
  'text64',
  'password',
  'number',
  'number-float',
  'range',
  'range-float',
  'list',
  'list-multiple',
  'boolean',
  'fixed',
] as const;

export type UserInputType = (typeof USER_INPUT_TYPES)[number];

interface UserInputBase {
  /** The variable name: the answer replaces `$NAME`. */
  name: string;
  mandatory: boolean;
  description: string;
  /** Undefined when the definition gives none (an empty default counts as none). */
  default: string | undefined;
}

/**
 * One user input, typed for form generators: ranges carry their bounds,
 * lists their choices, the other types no options.
 */
export type UserInputDescriptor =
  | (UserInputBase & { type: 'range' | 'range-float'; options: { min: number; max: number } })
  | (UserInputBase & { type: 'list' | 'list-multiple'; options: string[] })
  | (UserInputBase & {
      type: 'text' | 'text64' | 'password' | 'number' | 'number-float' | 'boolean' | 'fixed';
      options: undefined;
    });

const INTEGER = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/**
 * Reads the user inputs of a template: `USER_INPUTS = [ VAR = "M|type|desc|options|default" ]`
 * (several USER_INPUTS vectors are read in order; a repeated name keeps the
 * first). `M` is mandatory, `O` optional; the last three fields may be left
 * out; options and the M/O and type fields are trimmed; a default containing
 * `|` keeps it. Options: `min..max` for range and range-float, `a,b,c` for
 * list and list-multiple, ignored otherwise. A given default must be a valid
 * answer; for `fixed` it is the value. Ordered by `INPUTS_ORDER = "A,B"`
 * when present, else by definition order.
 *
 * Returns the well-formed inputs and an issue for each malformed one.
 */
export function readUserInputs(
  t: Template,
  positions?: PositionMap,
): { inputs: UserInputDescriptor[]; issues: TemplateIssue[] } {
  const inputs: UserInputDescriptor[] = [];
  const issues: TemplateIssue[] = [];
  const seen = new Set<string>();
  const all = getVectors(t, 'USER_INPUTS');
  if (all.length === 0 && getString(t, 'USER_INPUTS') !== undefined) {
    issues.push(templateIssue(positions, 'USER_INPUTS', 'must be a vector: USER_INPUTS = [ NAME = "M|type|..." ]'));
  }
  all.forEach((vector, i) => {
    for (const [name, definition] of Object.entries(vector)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const result = parseDefinition(name, definition);
      if (typeof result === 'string') issues.push(templateIssue(positions, `USER_INPUTS[${i}]/${name}`, result));
      else inputs.push(result);
    }
  });
  return { inputs: orderInputs(inputs, getString(t, 'INPUTS_ORDER')), issues };
}

/** The template's user inputs; throws `E_TEMPLATE_INVALID` (with positions) for a malformed one. */
export function describeUserInputs(t: Template, positions?: PositionMap): UserInputDescriptor[] {
  const { inputs, issues } = readUserInputs(t, positions);
  throwIfIssues(issues);
  return inputs;
}

/**
 * Checks one answer (or default) against an input and returns it normalised
 * (`boolean` → YES/NO, `list-multiple` → comma-joined trimmed choices) or the
 * reason it is wrong. `text64` is not encoded here.
 */
export function checkUserInputValue(
  input: UserInputDescriptor,
  value: string,
): { value: string } | { problem: string } {
  switch (input.type) {
    case 'number':
      return INTEGER.test(value) ? { value } : { problem: `'${value}' is not an integer` };
    case 'number-float':
      return FLOAT.test(value) ? { value } : { problem: `'${value}' is not a number` };
    case 'range':
    case 'range-float': {
      const pattern = input.type === 'range' ? INTEGER : FLOAT;
      const { min, max } = input.options;
      if (!pattern.test(value))
        return { problem: `'${value}' is not ${input.type === 'range' ? 'an integer' : 'a number'}` };
      const n = Number(value);
      return n >= min && n <= max ? { value } : { problem: `${value} is outside the range ${min}..${max}` };
    }
    case 'list':
      return input.options.includes(value)
        ? { value }
        : { problem: `'${value}' is not one of ${input.options.join(', ')}` };
    case 'list-multiple': {
      const chosen = splitList(value);
      const wrong = chosen.find((c) => !input.options.includes(c));
      return wrong === undefined
        ? { value: chosen.join(',') }
        : { problem: `'${wrong}' is not one of ${input.options.join(', ')}` };
    }
    case 'boolean': {
      const upper = value.toUpperCase();
      return upper === 'YES' || upper === 'NO' ? { value: upper } : { problem: `'${value}' is not YES or NO` };
    }
    default:
      return { value };
  }
}

function parseDefinition(name: string, definition: string): UserInputDescriptor | string {
  const fields = definition.split('|');
  if (fields.length < 2) return `expected "M|type|description|options|default", got '${definition}'`;
  const flag = fields[0]!.trim().toUpperCase();
  if (flag !== 'M' && flag !== 'O') return `the first field must be M (mandatory) or O (optional), got '${fields[0]}'`;
  const type = fields[1]!.trim().toLowerCase();
  if (!(USER_INPUT_TYPES as readonly string[]).includes(type)) {
    return `unknown type '${fields[1]}' (one of ${USER_INPUT_TYPES.join(', ')})`;
  }
  const optionsText = (fields[3] ?? '').trim();
  const rawDefault = fields.length > 4 ? fields.slice(4).join('|') : '';
  const base = {
    name,
    mandatory: flag === 'M',
    description: (fields[2] ?? '').trim(),
    default: rawDefault === '' ? undefined : rawDefault,
  };
  const input = withOptions(base, type as UserInputType, optionsText);
  if (typeof input === 'string') return input;
  if (input.default !== undefined) {
    const checked = checkUserInputValue(input, input.default);
    if ('problem' in checked) return `bad default: ${checked.problem}`;
    input.default = checked.value;
  }
  return input;
}

function withOptions(base: UserInputBase, type: UserInputType, options: string): UserInputDescriptor | string {
  switch (type) {
    case 'range':
    case 'range-float': {
      const pattern = type === 'range' ? INTEGER : FLOAT;
      const [lo = '', hi = '', ...rest] = options.split('..').map((s) => s.trim());
      if (rest.length > 0 || !pattern.test(lo) || !pattern.test(hi)) {
        return `${type} options must be 'min..max' with ${type === 'range' ? 'integers' : 'numbers'}, got '${options}'`;
      }
      const min = Number(lo);
      const max = Number(hi);
      if (min > max) return `range minimum ${lo} is above maximum ${hi}`;
      return { ...base, type, options: { min, max } };
    }
    case 'list':
    case 'list-multiple': {
      const choices = splitList(options);
      if (choices.length === 0) return `${type} needs options 'a,b,c'`;
      return { ...base, type, options: choices };
    }
    default:
      return { ...base, type, options: undefined };
  }
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function orderInputs(inputs: UserInputDescriptor[], order: string | undefined): UserInputDescriptor[] {
  if (order === undefined) return inputs;
  const rank = new Map(splitList(order).map((n, i) => [n.toUpperCase(), i]));
  const at = (input: UserInputDescriptor): number => rank.get(input.name) ?? Number.MAX_SAFE_INTEGER;
  return inputs
    .map((input, i) => ({ input, i }))
    .sort((a, b) => at(a.input) - at(b.input) || a.i - b.i)
    .map(({ input }) => input);
}
