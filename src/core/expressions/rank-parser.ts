import type { RankNode } from './ast.js';
import { TokenParser } from './token-parser.js';

/*
 * The rank grammar (OpenNebula `expr_arith.y`):
 *
 *   stmt := expr | ε                            (empty ⇒ 0)
 *   expr := VAR | NUM | expr ('+' | '-' | '*' | '/') expr | '-' expr | '(' expr ')'
 *
 * with `* /` binding tighter than `+ -`, both left-associative. OpenNebula's
 * lexer reads `-5` as one number even after an operand, so it rejects `A -5`
 * and `A-5` (only `A - 5` works); we read `-` as an operator everywhere, which
 * accepts those forms with their obvious meaning and changes nothing that
 * OpenNebula accepts. Unary minus binding tighter than `*` gives the same
 * values as OpenNebula's precedence, since -(a·b) = (-a)·b.
 */

export function parseRank(source: string, attribute = 'SCHED_RANK'): RankNode {
  return new RankParser(source, attribute).parse();
}

class RankParser extends TokenParser {
  constructor(source: string, attribute: string) {
    super(source, attribute, false);
  }

  parse(): RankNode {
    if (this.token.kind === 'end') return { kind: 'number', value: 0 };
    const node = this.sum();
    if (!this.atEnd()) throw this.fail('expected an operator (+, -, *, /) or the end of the expression', 'operator');
    return node;
  }

  private punct(): string | null {
    return this.token.kind === 'punct' ? this.token.text : null;
  }

  private sum(): RankNode {
    const base = this.depth;
    let left = this.product();
    for (let p = this.punct(); p === '+' || p === '-'; p = this.punct()) {
      const at = this.advance();
      this.enter(at);
      left = { kind: 'binary', op: p, left, right: this.product() };
    }
    this.depth = base;
    return left;
  }

  private product(): RankNode {
    const base = this.depth;
    let left = this.unary();
    for (let p = this.punct(); p === '*' || p === '/'; p = this.punct()) {
      const at = this.advance();
      this.enter(at);
      left = { kind: 'binary', op: p, left, right: this.unary() };
    }
    this.depth = base;
    return left;
  }

  private unary(): RankNode {
    const t = this.token;
    if (this.punct() === '-') {
      this.advance();
      this.enter(t);
      const item = this.unary();
      this.depth--;
      return { kind: 'neg', item };
    }
    if (this.punct() === '(') {
      this.advance();
      this.enter(t);
      const node = this.sum();
      if (this.punct() !== ')') throw this.fail('expected an operator or ) to close (', 'operator or )');
      this.advance();
      this.depth--;
      return node;
    }
    if (t.kind === 'int' || t.kind === 'float') {
      this.advance();
      return { kind: 'number', value: t.value };
    }
    if (t.kind === 'name' || t.kind === 'string') {
      this.advance();
      return { kind: 'var', name: t.text };
    }
    throw this.fail('expected a number, an attribute name, - or (', 'operand');
  }
}
