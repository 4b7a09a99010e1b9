import type { Template, TemplateValue, TemplateVector } from '../types.js';
import type { Prng } from './prng.js';

const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';

/** Pieces values are made of: the characters the native syntax treats specially, blanks, line breaks and non-ASCII text. */
const VALUE_PIECES = [
  'a',
  'Z',
  '0',
  '9',
  '_',
  '-',
  '.',
  '/',
  ':',
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '"',
  '\\',
  '\\"',
  '"\\',
  '#',
  ',',
  '[',
  ']',
  '=',
  '$',
  '$VAR',
  '$NETWORK[IP, NETWORK_ID=0]',
  "'",
  '{',
  '}',
  '|',
  '<',
  '>',
  'é',
  'ñ',
  '中文',
  '😀',
  '\u00a0',
  '\u2028',
  'word',
  'Hello World',
  'YES',
  '1024',
  '0.5',
  '',
] as const;

export function randomName(rng: Prng, maxLength = 10): string {
  let name = '';
  const length = rng.int(1, maxLength);
  for (let i = 0; i < length; i++) name += rng.pick([...NAME_CHARS]);
  return name;
}

/**
 * A random value string. Mostly arbitrary text; sometimes a plain token, an
 * empty string or a value ending in a backslash (a native-syntax edge case).
 */
export function randomString(rng: Prng): string {
  const roll = rng.next();
  if (roll < 0.08) return '';
  if (roll < 0.2) return rng.pick(['kvm', 'vd', '1024', 'YES', 'x86_64', 'a.b-c/d', 'C:\\path\\', '\\']);
  let s = '';
  const parts = rng.int(1, 8);
  for (let i = 0; i < parts; i++) s += rng.pick(VALUE_PIECES);
  return s;
}

function randomVector(rng: Prng, makeValue: (rng: Prng) => string): TemplateVector {
  const vector: TemplateVector = {};
  const size = rng.int(0, 6);
  for (let i = 0; i < size; i++) vector[randomName(rng)] = makeValue(rng);
  return vector;
}

/** A random canonical Template: singles, vectors, repeated names mixing both. */
export function randomTemplate(rng: Prng, makeValue: (rng: Prng) => string = randomString): Template {
  const t: Template = {};
  const count = rng.int(0, 10);
  for (let i = 0; i < count; i++) {
    const name = randomName(rng);
    const occurrences = rng.chance(0.25) ? rng.int(2, 4) : 1;
    const values: TemplateValue[] = [];
    for (let j = 0; j < occurrences; j++) {
      values.push(rng.chance(0.4) ? randomVector(rng, makeValue) : makeValue(rng));
    }
    t[name] = values.length === 1 ? values[0]! : values;
  }
  return t;
}
