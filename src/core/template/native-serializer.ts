import { OneError } from '../errors.js';
import { BACKSLASH, isBareToken } from './native-chars.js';
import { forEachCanonicalValue } from './shape.js';
import type { Template, TemplateValue } from './types.js';

/**
 * Writes a canonical template in OpenNebula's native syntax: one attribute
 * per line, every value double-quoted with `"` escaped as `\"`, vectors over
 * several lines:
 *
 *     DISK = [
 *       IMAGE_ID = "3",
 *       TARGET = "vda" ]
 *
 * Guarantee: `parseNative(serializeNative(t)).template` deep-equals `t`.
 *
 * The native syntax has no way to escape a backslash, so a quoted value cannot
 * end with one (`"a\"` reads as an escaped quote). Such values are written as
 * bare tokens instead, which works whenever the value has no blanks or
 * `=#,[]` and does not start with `"` — true of every such value the parser
 * can produce. The rest cannot be represented and throw `E_TEMPLATE_INVALID`,
 * as do non-canonical templates (see `types.ts`).
 */
export function serializeNative(t: Template): string {
  let out = '';
  forEachCanonicalValue(t, (name, value, index) => {
    out += writeAttribute(name, value, index);
  });
  return out;
}

function writeAttribute(name: string, value: TemplateValue, index: number): string {
  if (typeof value === 'string') return `${name} = ${writeValue(`${name}[${index}]`, value)}\n`;
  const subs = Object.keys(value);
  if (subs.length === 0) return `${name} = [ ]\n`;
  const lines = subs.map((sub) => `  ${sub} = ${writeValue(`${name}[${index}]/${sub}`, value[sub]!)}`);
  return `${name} = [\n${lines.join(',\n')} ]\n`;
}

function writeValue(path: string, value: string): string {
  if (value.length > 0 && value.charCodeAt(value.length - 1) === BACKSLASH) {
    if (isBareToken(value)) return value;
    throw new OneError(
      'E_TEMPLATE_INVALID',
      `${path}: a value that ends with a backslash and contains blanks, '=', '#', ',', '[', ']' or control characters cannot be written in native syntax`,
      { attribute: path },
    );
  }
  return `"${value.replaceAll('"', '\\"')}"`;
}
