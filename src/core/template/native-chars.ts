/**
 * Character classes of the native template syntax, shared by the parser and
 * the serializer so that "what a bare token may contain" has one definition.
 * Lookups go through a 128-entry table indexed by char code; every code unit
 * at or above 128 (non-ASCII text, including surrogate halves) is a bare char.
 */

export const TAB = 9;
export const LF = 10;
export const CR = 13;
export const SPACE = 32;
export const QUOTE = 34;
export const HASH = 35;
export const COMMA = 44;
export const EQUALS = 61;
export const LBRACKET = 91;
export const BACKSLASH = 92;
export const RBRACKET = 93;

const NAME_CHAR = 1;
const BARE_CHAR = 2;

const CLASSES = buildClasses();

function buildClasses(): Uint8Array {
  const table = new Uint8Array(128);
  for (let c = 0x21; c < 128; c++) table[c] = BARE_CHAR;
  for (const c of [EQUALS, HASH, COMMA, LBRACKET, RBRACKET]) table[c] = 0;
  const names = (from: number, to: number): void => {
    for (let c = from; c <= to; c++) table[c] = table[c]! | NAME_CHAR;
  };
  names(48, 57);
  names(65, 90);
  names(97, 122);
  names(95, 95);
  return table;
}

/** `[A-Za-z0-9_]`: the characters of attribute and sub-attribute names. */
export function isNameChar(c: number): boolean {
  return c < 128 && (CLASSES[c]! & NAME_CHAR) !== 0;
}

/**
 * A character that may appear in an unquoted value: anything but blanks,
 * control characters, `=`, `#`, `,`, `[` and `]`. (A token that starts with
 * `"` is a quoted string instead.)
 */
export function isBareChar(c: number): boolean {
  return c >= 128 || (CLASSES[c]! & BARE_CHAR) !== 0;
}

/** True when `value` can be written without quotes and read back unchanged. */
export function isBareToken(value: string): boolean {
  if (value.length === 0 || value.charCodeAt(0) === QUOTE) return false;
  for (let i = 0; i < value.length; i++) {
    if (!isBareChar(value.charCodeAt(i))) return false;
  }
  return true;
}

/** Canonical attribute names: what the parsers produce after upper-casing. */
export const CANONICAL_NAME = /^[A-Z0-9_]+$/;

/** Names as users may write them (any case). */
export const SOURCE_NAME = /^[A-Za-z0-9_]+$/;
