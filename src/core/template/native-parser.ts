import type { OneError } from '../errors.js';
import {
  BACKSLASH,
  COMMA,
  CR,
  EQUALS,
  HASH,
  isBareChar,
  isNameChar,
  LBRACKET,
  LF,
  QUOTE,
  RBRACKET,
  SPACE,
  TAB,
} from './native-chars.js';
import { describeFound, templateSyntaxError } from './syntax-error.js';
import { appendValue, attributePath, occurrenceCount } from './template-builder.js';
import type { ParsedTemplate, PositionMap, Template, TemplateValue, TemplateVector } from './types.js';

/**
 * Parses OpenNebula's native template syntax (`NAME = value`, vectors
 * `NAME = [ A = "1", B = 2 ]`, `#` comments) into the canonical Template,
 * recording the position of every attribute and sub-attribute.
 *
 * Follows `template_parser.l` / `template_syntax.y`: names are upper-cased,
 * values keep case; quoted strings may span lines and know one escape, `\"`
 * (any other backslash is literal); `NAME =` at the end of a line is an empty
 * value; vector elements are separated by commas (newlines may surround them);
 * `NAME = [ ]` is an empty vector; a `#` where an attribute (or sub-attribute,
 * comma or `]`) may start comments out the rest of the line — so
 * `A = foo#bar` is `foo` plus a comment: quote values that contain `#`.
 * A repeated sub-attribute inside one vector keeps its first value, as
 * OpenNebula's `std::map::insert` does.
 *
 * Throws `E_TEMPLATE_SYNTAX` with the 1-based line and column of the first
 * offending token. Single pass over char codes; no regular expressions.
 */
export function parseNative(text: string): ParsedTemplate {
  return new NativeParser(text).parse();
}

class NativeParser {
  private readonly src: string;
  private readonly len: number;
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private readonly template: Template = {};
  private readonly positions: PositionMap = new Map();

  constructor(src: string) {
    this.src = src;
    this.len = src.length;
    if (src.charCodeAt(0) === 0xfeff) {
      // A byte-order mark is invisible to the user: columns start after it.
      this.pos = 1;
      this.lineStart = 1;
    }
  }

  parse(): ParsedTemplate {
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.len) break;
      this.attribute();
    }
    return { template: this.template, positions: this.positions, format: 'native' };
  }

  /** Skips blanks, line breaks and comments. */
  private skipSpace(): void {
    const src = this.src;
    const len = this.len;
    let pos = this.pos;
    while (pos < len) {
      const c = src.charCodeAt(pos);
      if (c === SPACE || c === TAB || c === CR) {
        pos++;
      } else if (c === LF) {
        pos++;
        this.line++;
        this.lineStart = pos;
      } else if (c === HASH) {
        const nl = src.indexOf('\n', pos);
        pos = nl === -1 ? len : nl;
      } else {
        break;
      }
    }
    this.pos = pos;
  }

  /** Skips blanks on the current line only. */
  private skipBlanks(): void {
    const src = this.src;
    let pos = this.pos;
    for (;;) {
      const c = src.charCodeAt(pos);
      if (c !== SPACE && c !== TAB && c !== CR) break;
      pos++;
    }
    this.pos = pos;
  }

  private column(): number {
    return this.pos - this.lineStart + 1;
  }

  private fail(problem: string, expected: string): OneError {
    return templateSyntaxError(
      this.line,
      this.column(),
      `${problem}, found ${describeFound(this.src, this.pos)}`,
      expected,
    );
  }

  /** An error about the token at the current position as a whole (no "found"). */
  private failHere(problem: string, expected: string): OneError {
    return templateSyntaxError(this.line, this.column(), problem, expected);
  }

  /** Reads `[A-Za-z0-9_]+` (the caller checked the first char) and upper-cases it if needed. */
  private readName(): string {
    const src = this.src;
    const start = this.pos;
    let pos = start;
    let lower = false;
    for (;;) {
      const c = src.charCodeAt(pos);
      if (!isNameChar(c)) break;
      if (c >= 97) lower = true;
      pos++;
    }
    this.pos = pos;
    const name = src.slice(start, pos);
    return lower ? name.toUpperCase() : name;
  }

  private attribute(): void {
    if (!isNameChar(this.src.charCodeAt(this.pos))) {
      throw this.fail('expected attribute name', 'attribute name');
    }
    const line = this.line;
    const column = this.column();
    const name = this.readName();
    this.skipBlanks();
    if (this.src.charCodeAt(this.pos) !== EQUALS) {
      throw this.fail(`expected '=' after attribute name ${name}`, "'='");
    }
    this.pos++;
    this.skipBlanks();
    const index = occurrenceCount(this.template, name);
    this.positions.set(attributePath(name, index), { line, column });
    const c = this.src.charCodeAt(this.pos);
    let value: TemplateValue;
    if (this.pos >= this.len || c === LF) value = '';
    else if (c === QUOTE) value = this.quoted(name);
    else if (c === LBRACKET) value = this.vector(name, index);
    else if (isBareChar(c)) value = this.bare();
    else throw this.fail(`expected value of ${name}`, 'value');
    appendValue(this.template, name, value);
  }

  private bare(): string {
    const src = this.src;
    const start = this.pos;
    let pos = start + 1;
    while (pos < this.len && isBareChar(src.charCodeAt(pos))) pos++;
    this.pos = pos;
    return src.slice(start, pos);
  }

  /** A double-quoted string starting at the current `"`; `\"` is the only escape. */
  private quoted(name: string, sub?: string): string {
    const src = this.src;
    const open = this.pos;
    let segStart = open + 1;
    let out = '';
    let close: number;
    for (;;) {
      const q = src.indexOf('"', segStart);
      if (q === -1) throw this.failHere(`unterminated quoted value of ${pathOf(name, sub)}`, "'\"'");
      if (src.charCodeAt(q - 1) === BACKSLASH && q - 1 >= segStart) {
        out += `${src.slice(segStart, q - 1)}"`;
        segStart = q + 1;
        continue;
      }
      close = q;
      break;
    }
    const value = out + src.slice(segStart, close);
    if (value.includes(']]>')) {
      throw this.failHere(`value of ${pathOf(name, sub)} contains ']]>'`, "a value without ']]>'");
    }
    // Account for line breaks inside the string.
    let nl = src.indexOf('\n', open);
    while (nl !== -1 && nl < close) {
      this.line++;
      this.lineStart = nl + 1;
      nl = src.indexOf('\n', nl + 1);
    }
    this.pos = close + 1;
    return value;
  }

  private vector(name: string, index: number): TemplateVector {
    const openLine = this.line;
    const openColumn = this.column();
    // Built only when an error needs it: this loop is the parser's hot path.
    const where = (): string => `in vector ${name} (opened at line ${openLine}, column ${openColumn})`;
    const prefix = `${attributePath(name, index)}/`;
    const positions = this.positions;
    this.pos++;
    const vector: TemplateVector = {};
    this.skipSpace();
    if (this.src.charCodeAt(this.pos) === RBRACKET) {
      this.pos++;
      return vector;
    }
    for (;;) {
      if (!isNameChar(this.src.charCodeAt(this.pos))) {
        throw this.fail(`expected sub-attribute name ${where()}`, 'sub-attribute name');
      }
      const line = this.line;
      const column = this.pos - this.lineStart + 1;
      const sub = this.readName();
      this.skipBlanks();
      if (this.src.charCodeAt(this.pos) !== EQUALS) {
        throw this.fail(`expected '=' after sub-attribute name ${name}/${sub}`, "'='");
      }
      this.pos++;
      this.skipBlanks();
      const c = this.src.charCodeAt(this.pos);
      let value: string;
      if (c === QUOTE) value = this.quoted(name, sub);
      else if (this.pos < this.len && isBareChar(c)) value = this.bare();
      else if (c === LBRACKET) throw this.fail(`vectors cannot be nested: expected value of ${name}/${sub}`, 'value');
      else throw this.fail(`expected value of ${name}/${sub}`, 'value');
      if (vector[sub] === undefined) {
        vector[sub] = value;
        positions.set(prefix + sub, { line, column });
      }
      this.skipSpace();
      const next = this.src.charCodeAt(this.pos);
      if (next === RBRACKET) {
        this.pos++;
        return vector;
      }
      if (next !== COMMA) throw this.fail(`expected ',' or ']' after ${name}/${sub} ${where()}`, "',' or ']'");
      this.pos++;
      this.skipSpace();
    }
  }
}

function pathOf(name: string, sub: string | undefined): string {
  return sub === undefined ? name : `${name}/${sub}`;
}
