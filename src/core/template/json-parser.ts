import { describeFound, lineColumnAt, templateSyntaxError } from './syntax-error.js';
import type { ParsedTemplate } from './types.js';
import { parseStructured } from './yaml-parser.js';

/**
 * Parses a JSON template (same content shape as YAML: see `parseYaml`).
 * The text must be strict JSON; `JSON.parse` checks that, and since its error
 * messages do not reliably carry an offset, a small validator locates the
 * first error for the `E_TEMPLATE_SYNTAX` line and column. Valid JSON is then
 * walked through the yaml library (YAML 1.2 is a superset of JSON), which
 * gives every attribute a position. Duplicate keys are rejected.
 */
export function parseJson(text: string): ParsedTemplate {
  try {
    JSON.parse(text);
  } catch {
    const failure = locateJsonError(text) ?? { offset: 0, expected: 'valid JSON' };
    const { line, column } = lineColumnAt(text, failure.offset);
    throw templateSyntaxError(
      line,
      column,
      `invalid JSON: expected ${failure.expected}, found ${describeFound(text, failure.offset)}`,
      failure.expected,
    );
  }
  return parseStructured(text, 'json');
}

export interface JsonFailure {
  offset: number;
  expected: string;
}

const MAX_DEPTH = 512;

/**
 * Offset of the first syntax error in `text` read as JSON (RFC 8259), or
 * undefined when it is valid. Only used on the error path.
 */
export function locateJsonError(text: string): JsonFailure | undefined {
  const v = new JsonValidator(text);
  try {
    v.document();
    return undefined;
  } catch (err) {
    if (err instanceof JsonStop) return { offset: err.offset, expected: err.expected };
    throw err;
  }
}

class JsonStop {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {}
}

class JsonValidator {
  private pos = 0;

  constructor(private readonly s: string) {}

  document(): void {
    this.ws();
    this.value(0);
    this.ws();
    if (this.pos < this.s.length) this.stop('end of input');
  }

  private stop(expected: string): never {
    throw new JsonStop(this.pos, expected);
  }

  private ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.pos);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return;
      this.pos++;
    }
  }

  private value(depth: number): void {
    if (depth > MAX_DEPTH) this.stop('less deeply nested value');
    const c = this.s[this.pos];
    if (c === '{') this.object(depth);
    else if (c === '[') this.array(depth);
    else if (c === '"') this.string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.number();
    else if (!this.literal('true') && !this.literal('false') && !this.literal('null')) this.stop('a JSON value');
  }

  private literal(word: string): boolean {
    if (!this.s.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private object(depth: number): void {
    this.pos++;
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      if (this.s[this.pos] !== '"') this.stop('a quoted key');
      this.string();
      this.ws();
      if (this.s[this.pos] !== ':') this.stop("':'");
      this.pos++;
      this.ws();
      this.value(depth + 1);
      this.ws();
      const c = this.s[this.pos];
      this.pos++;
      if (c === '}') return;
      if (c !== ',') {
        this.pos--;
        this.stop("',' or '}'");
      }
      this.ws();
    }
  }

  private array(depth: number): void {
    this.pos++;
    this.ws();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      this.ws();
      const c = this.s[this.pos];
      this.pos++;
      if (c === ']') return;
      if (c !== ',') {
        this.pos--;
        this.stop("',' or ']'");
      }
      this.ws();
    }
  }

  private string(): void {
    const s = this.s;
    this.pos++;
    for (;;) {
      const c = s.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.stop("closing '\"'");
      if (c === 34) {
        this.pos++;
        return;
      }
      if (c < 0x20) this.stop('an escaped control character');
      if (c === 92) {
        const e = s[this.pos + 1];
        if (e === 'u') {
          if (!/^[0-9A-Fa-f]{4}$/.test(s.slice(this.pos + 2, this.pos + 6))) {
            this.pos += 2;
            this.stop('four hex digits');
          }
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          this.pos++;
          this.stop('a valid escape');
        }
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
  }

  private number(): void {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.pos, this.pos + 400));
    if (m === null || m[0] === '-' || m[0] === '') this.stop('a number');
    this.pos += m[0].length;
  }
}
