import { OneError } from '../errors.js';
import { CANONICAL_NAME } from './native-chars.js';
import type { Template, TemplateValue } from './types.js';

/**
 * Visits every value of a template after checking that it is canonical (see
 * `types.ts`): upper-case names, strings or flat vectors of strings, arrays of
 * two or more values, no `]]>`. Serializers call this so that whatever they
 * write parses back to an equal template; anything else is
 * `E_TEMPLATE_INVALID` naming the attribute.
 */
export function forEachCanonicalValue(
  t: Template,
  visit: (name: string, value: TemplateValue, index: number) => void,
): void {
  for (const name of Object.keys(t)) {
    checkName(name, name);
    const value = t[name]!;
    if (Array.isArray(value)) {
      if (value.length < 2) {
        throw invalid(name, `${name}: an array must hold two or more values (use the value itself, or omit the name)`);
      }
      value.forEach((v, i) => {
        checkValue(`${name}[${i}]`, v);
        visit(name, v, i);
      });
    } else {
      checkValue(`${name}[0]`, value);
      visit(name, value, 0);
    }
  }
}

/** Throws unless the template is canonical; see `forEachCanonicalValue`. */
export function assertCanonicalTemplate(t: Template): void {
  forEachCanonicalValue(t, () => {});
}

function checkValue(path: string, value: unknown): void {
  if (typeof value === 'string') {
    checkString(path, value);
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(path, `${path}: a value must be a string or a vector of strings`);
  }
  for (const [sub, v] of Object.entries(value)) {
    const subPath = `${path}/${sub}`;
    checkName(subPath, sub);
    if (typeof v !== 'string')
      throw invalid(subPath, `${subPath}: vector values must be strings (vectors do not nest)`);
    checkString(subPath, v);
  }
}

function checkName(path: string, name: string): void {
  if (!CANONICAL_NAME.test(name)) {
    throw invalid(path, `${path}: attribute names must match [A-Z0-9_]+ (upper-case), got '${name}'`);
  }
}

function checkString(path: string, value: string): void {
  if (value.includes(']]>')) throw invalid(path, `${path}: values cannot contain ']]>'`);
}

function invalid(attribute: string, message: string): OneError {
  return new OneError('E_TEMPLATE_INVALID', message, { attribute });
}
