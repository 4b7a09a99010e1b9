/*
 * The token scanner shared by the requirement and rank grammars, after
 * OpenNebula's `expr_parser.l`:
 *
 *   punctuation  @ ! & | = > < ( ) * + / ^ -
 *   STRING       [A-Za-z][A-Za-z0-9_]*   or   "anything but a quote"  ("" is the null string)
 *   INTEGER      -?[0-9]+        FLOAT  -?[0-9]+\.[0-9]+   (the rank grammar reads no sign: `-` is
 *                                                           always an operator there)
 *   blanks       space and tab (we also skip line breaks, so a requirement may span lines)
 *
 * flex silently drops characters no rule matches; we report them instead, so
 * a typo is caught when the template is registered.
 */

export type TokenKind = 'punct' | 'name' | 'string' | 'int' | 'float' | 'end' | 'invalid';

export interface Token {
  kind: TokenKind;
  /** Punctuation character, name, string contents (null for ""), or number source. */
  text: string | null;
  value: number;
  /** Offset of the first character in the source. */
  start: number;
}

const PUNCT = '@!&|=><()*+/^-';

export class Lexer {
  private pos = 0;

  constructor(
    readonly source: string,
    private readonly signedNumbers: boolean,
  ) {}

  next(): Token {
    const s = this.source;
    let i = this.pos;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
    const start = i;
    if (i >= s.length) {
      this.pos = i;
      return { kind: 'end', text: null, value: 0, start };
    }
    const c = s.charCodeAt(i);
    if (isLetter(c)) {
      let j = i + 1;
      while (j < s.length && isNameChar(s.charCodeAt(j))) j++;
      this.pos = j;
      return { kind: 'name', text: s.slice(i, j), value: 0, start };
    }
    if (c === 34) {
      const close = s.indexOf('"', i + 1);
      if (close === -1) {
        this.pos = s.length;
        return { kind: 'invalid', text: 'unterminated', value: 0, start };
      }
      this.pos = close + 1;
      return { kind: 'string', text: close === i + 1 ? null : s.slice(i + 1, close), value: 0, start };
    }
    const signed = c === 45 && this.signedNumbers && isDigit(s.charCodeAt(i + 1));
    if (isDigit(c) || signed) {
      let j = signed ? i + 2 : i + 1;
      while (j < s.length && isDigit(s.charCodeAt(j))) j++;
      let kind: TokenKind = 'int';
      if (s.charCodeAt(j) === 46 && isDigit(s.charCodeAt(j + 1))) {
        j += 2;
        while (j < s.length && isDigit(s.charCodeAt(j))) j++;
        kind = 'float';
      }
      this.pos = j;
      const text = s.slice(i, j);
      return { kind, text, value: Number(text), start };
    }
    if (PUNCT.includes(s[i]!)) {
      this.pos = i + 1;
      return { kind: 'punct', text: s[i]!, value: 0, start };
    }
    this.pos = i + 1;
    return { kind: 'invalid', text: 'character', value: 0, start };
  }
}

/** How an error message names a token: `'NAME'`, `'"text"'`, `'='`, `end of input`. */
export function describeToken(source: string, t: Token): string {
  if (t.kind === 'end') return 'end of input';
  if (t.kind === 'string') return t.text === null ? '""' : `"${clip(t.text)}"`;
  if (t.kind === 'invalid' && t.text === 'unterminated') return 'an unterminated string';
  if (t.kind === 'invalid') {
    const cp = source.codePointAt(t.start)!;
    if (cp < 0x20 || cp === 0x7f) return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    return `'${String.fromCodePoint(cp)}'`;
  }
  return `'${clip(t.text ?? '')}'`;
}

function clip(text: string): string {
  return text.length > 32 ? `${text.slice(0, 32)}…` : text;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isNameChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 95;
}
