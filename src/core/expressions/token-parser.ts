import type { OneError } from '../errors.js';
import { describeToken, Lexer, type Token } from './lexer.js';
import { expressionSyntaxError } from './syntax-error.js';

/** Deeper nesting than this is refused (it would exhaust the stack when evaluated). */
export const MAX_DEPTH = 256;

/**
 * What the requirement and rank parsers share: the token cursor, the nesting
 * guard, and syntax errors positioned at the current token.
 */
export abstract class TokenParser {
  protected readonly lexer: Lexer;
  protected token: Token;
  protected depth = 0;

  constructor(
    protected readonly source: string,
    protected readonly attribute: string,
    booleanOperators: boolean,
  ) {
    this.lexer = new Lexer(source, booleanOperators);
    this.token = this.lexer.next();
  }

  protected atEnd(): boolean {
    return this.token.kind === 'end';
  }

  protected advance(): Token {
    const t = this.token;
    this.token = this.lexer.next();
    return t;
  }

  /** Counts one more level of nesting at `at`; refuses expressions nested deeper than MAX_DEPTH. */
  protected enter(at: Token): void {
    if (++this.depth > MAX_DEPTH) {
      throw expressionSyntaxError(
        this.attribute,
        this.source,
        at.start,
        `the expression nests too deeply (more than ${MAX_DEPTH} levels)`,
        'less nesting',
      );
    }
  }

  protected fail(problem: string, expected: string): OneError {
    return expressionSyntaxError(
      this.attribute,
      this.source,
      this.token.start,
      `${problem}, found ${describeToken(this.source, this.token)}`,
      expected,
    );
  }
}
