import { OneError } from '../errors.js';

/**
 * The one error an expression compiler throws: `E_EXPRESSION_SYNTAX`, message
 * `SCHED_REQUIREMENTS: column 12: expected a value after =, found end of input`
 * and details `{attribute, column, expected}` (plus `line` when the expression
 * spans several lines). Columns are 1-based UTF-16 offsets within the line.
 */
export function expressionSyntaxError(
  attribute: string,
  text: string,
  offset: number,
  problem: string,
  expected: string,
): OneError {
  const { line, column } = lineColumn(text, offset);
  const multiLine = text.includes('\n');
  const where = multiLine ? `line ${line}, column ${column}` : `column ${column}`;
  const details: Record<string, unknown> = { attribute, column, expected };
  if (multiLine) details.line = line;
  return new OneError('E_EXPRESSION_SYNTAX', `${attribute}: ${where}: ${problem}`, details);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const end = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}
