import { checkUserInputValue, type UserInputDescriptor } from '../api';

/**
 * The form side of USER_INPUTS. Parsing and the type rules are the core's
 * (`readUserInputs`, `checkUserInputValue` from src/core through src/client),
 * the same code the front-end runs; only what a form needs on top lives here.
 */

/** Why an answer is wrong, or undefined when it is acceptable (empty means "use the default"). */
export function checkAnswer(input: UserInputDescriptor, value: string): string | undefined {
  if (value === '') {
    return input.mandatory && input.default === undefined && input.type !== 'fixed' ? 'required' : undefined;
  }
  const checked = checkUserInputValue(input, value);
  return 'problem' in checked ? checked.problem : undefined;
}

/** The form's starting values: defaults (already normalised by the core), `fixed` shown as-is. */
export function initialAnswers(inputs: readonly UserInputDescriptor[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of inputs) out[i.name] = i.default ?? (i.type === 'boolean' && i.mandatory ? 'NO' : '');
  return out;
}

/** What to send: non-empty answers only (the server applies defaults), never `fixed` ones. */
export function answersToSend(
  inputs: readonly UserInputDescriptor[],
  values: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of inputs) {
    const v = values[i.name] ?? '';
    if (i.type !== 'fixed' && v !== '') out[i.name] = v;
  }
  return out;
}

/** `min..max` of a range, the choices of a list, else nothing. */
export function optionsText(input: UserInputDescriptor): string {
  if (input.type === 'range' || input.type === 'range-float') return `${input.options.min}..${input.options.max}`;
  if (input.type === 'list' || input.type === 'list-multiple') return input.options.join(', ');
  return '';
}
