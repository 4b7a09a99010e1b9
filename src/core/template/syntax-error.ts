import { OneError } from '../errors.js';

/**
 * Builds the one error every template parser throws for malformed input:
 * `E_TEMPLATE_SYNTAX` with a message that starts with the 1-based position
 * and details `{line, column, expected}` for programs.
 */
export function templateSyntaxError(line: number, column: number, problem: string, expected: string): OneError {
  return new OneError('E_TEMPLATE_SYNTAX', `line ${line}, column ${column}: ${problem}`, { line, column, expected });
}

/** 1-based line and column of a UTF-16 offset in `text`. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const end = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  let nl = text.indexOf('\n');
  while (nl !== -1 && nl < end) {
    line++;
    lineStart = nl + 1;
    nl = text.indexOf('\n', lineStart);
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * How an error message names the thing found at `pos`: a whole word for
 * names, a quoted character otherwise, `end of line` / `end of input` for the
 * obvious, and `U+XXXX` for invisible control characters.
 */
export function describeFound(text: string, pos: number): string {
  if (pos >= text.length) return 'end of input';
  const c = text.charCodeAt(pos);
  if (c === 10 || (c === 13 && text.charCodeAt(pos + 1) === 10)) return 'end of line';
  if (c < 0x20 || c === 0x7f) return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  const word = /^[A-Za-z0-9_]{1,32}/.exec(text.slice(pos, pos + 32));
  if (word !== null) return `'${word[0]}'`;
  return `'${String.fromCodePoint(text.codePointAt(pos)!)}'`;
}
