import type { Template, TemplateValue, TemplateVector } from '../api';

/**
 * USER_INPUTS for form generation, read the way the front-end reads them
 * (src/core/template/user-input-definitions.ts, which src/client does not
 * re-export yet): `USER_INPUTS = [ VAR = "M|type|description|options|default" ]`,
 * ordered by INPUTS_ORDER. The server remains the judge: answers are checked
 * here only to show mistakes before sending.
 */
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

export interface UserInput {
  name: string;
  type: UserInputType;
  mandatory: boolean;
  description: string;
  default: string | undefined;
  /** range / range-float bounds */
  min?: number;
  max?: number;
  /** list / list-multiple choices */
  choices?: string[];
}

export interface UserInputProblem {
  name: string;
  message: string;
}

const INTEGER = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

function vectorsOf(value: TemplateValue | TemplateValue[] | undefined): TemplateVector[] {
  if (value === undefined) return [];
  const all = Array.isArray(value) ? value : [value];
  return all.filter((v): v is TemplateVector => typeof v === 'object');
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The template's inputs in form order, and a problem for each malformed definition. */
export function readUserInputs(t: Template): { inputs: UserInput[]; problems: UserInputProblem[] } {
  const inputs: UserInput[] = [];
  const problems: UserInputProblem[] = [];
  const seen = new Set<string>();
  for (const vector of vectorsOf(t.USER_INPUTS)) {
    for (const [name, definition] of Object.entries(vector)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const parsed = parseDefinition(name, definition);
      if (typeof parsed === 'string') problems.push({ name, message: parsed });
      else inputs.push(parsed);
    }
  }
  const order = typeof t.INPUTS_ORDER === 'string' ? splitList(t.INPUTS_ORDER).map((n) => n.toUpperCase()) : [];
  if (order.length === 0) return { inputs, problems };
  const rank = (i: UserInput) => {
    const r = order.indexOf(i.name);
    return r === -1 ? Number.MAX_SAFE_INTEGER : r;
  };
  const indexed = inputs.map((input, i) => ({ input, i }));
  indexed.sort((a, b) => rank(a.input) - rank(b.input) || a.i - b.i);
  return { inputs: indexed.map((x) => x.input), problems };
}

function parseDefinition(name: string, definition: string): UserInput | string {
  const fields = definition.split('|');
  if (fields.length < 2) return `expected "M|type|description|options|default", got '${definition}'`;
  const flag = (fields[0] ?? '').trim().toUpperCase();
  if (flag !== 'M' && flag !== 'O') return `the first field must be M or O, got '${fields[0]}'`;
  const type = (fields[1] ?? '').trim().toLowerCase();
  if (!(USER_INPUT_TYPES as readonly string[]).includes(type)) return `unknown type '${fields[1]}'`;
  const options = (fields[3] ?? '').trim();
  const rawDefault = fields.length > 4 ? fields.slice(4).join('|') : '';
  const input: UserInput = {
    name,
    type: type as UserInputType,
    mandatory: flag === 'M',
    description: (fields[2] ?? '').trim(),
    default: rawDefault === '' ? undefined : rawDefault,
  };
  if (input.type === 'range' || input.type === 'range-float') {
    const pattern = input.type === 'range' ? INTEGER : FLOAT;
    const [lo = '', hi = '', ...rest] = options.split('..').map((s) => s.trim());
    if (rest.length > 0 || !pattern.test(lo) || !pattern.test(hi)) return `bad range '${options}'`;
    input.min = Number(lo);
    input.max = Number(hi);
    if (input.min > input.max) return `range minimum ${lo} is above maximum ${hi}`;
  }
  if (input.type === 'list' || input.type === 'list-multiple') {
    input.choices = splitList(options);
    if (input.choices.length === 0) return `${input.type} needs options 'a,b,c'`;
  }
  if (input.type === 'boolean' && input.default !== undefined) input.default = input.default.toUpperCase();
  return input;
}

/** Why an answer is wrong, or undefined when it is acceptable (empty means "use the default"). */
export function checkAnswer(input: UserInput, value: string): string | undefined {
  if (value === '') {
    return input.mandatory && input.default === undefined && input.type !== 'fixed' ? 'required' : undefined;
  }
  switch (input.type) {
    case 'number':
      return INTEGER.test(value) ? undefined : `'${value}' is not an integer`;
    case 'number-float':
      return FLOAT.test(value) ? undefined : `'${value}' is not a number`;
    case 'range':
    case 'range-float': {
      const pattern = input.type === 'range' ? INTEGER : FLOAT;
      if (!pattern.test(value)) return `'${value}' is not ${input.type === 'range' ? 'an integer' : 'a number'}`;
      const n = Number(value);
      return n >= (input.min ?? n) && n <= (input.max ?? n) ? undefined : `outside ${input.min}..${input.max}`;
    }
    case 'list':
      return input.choices?.includes(value) ? undefined : `'${value}' is not one of ${input.choices?.join(', ')}`;
    case 'list-multiple': {
      const wrong = splitList(value).find((c) => !input.choices?.includes(c));
      return wrong === undefined ? undefined : `'${wrong}' is not one of ${input.choices?.join(', ')}`;
    }
    case 'boolean':
      return /^(YES|NO)$/i.test(value) ? undefined : `'${value}' is not YES or NO`;
    default:
      return undefined;
  }
}

/** The form's starting values: defaults, with booleans normalised and `fixed` shown as-is. */
export function initialAnswers(inputs: readonly UserInput[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of inputs) out[i.name] = i.default ?? (i.type === 'boolean' && i.mandatory ? 'NO' : '');
  return out;
}

/** What to send: non-empty answers only (the server applies defaults), never `fixed` ones. */
export function answersToSend(inputs: readonly UserInput[], values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of inputs) {
    const v = values[i.name] ?? '';
    if (i.type !== 'fixed' && v !== '') out[i.name] = v;
  }
  return out;
}
