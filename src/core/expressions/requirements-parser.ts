import type { BoolNode, CompareOp, Literal } from './ast.js';
import { expressionSyntaxError } from './syntax-error.js';
import { TokenParser } from './token-parser.js';

export { MAX_DEPTH } from './token-parser.js';

/*
 * The requirement grammar (OpenNebula `expr_bool.y`):
 *
 *   stmt := expr | ε                           (empty ⇒ true)
 *   expr := VAR ('=' | '!=' | '>' | '<' | '@>') NUM
 *         | VAR ('=' | '!=' | '@>') STR
 *         | expr '&' expr | expr '|' expr | '!' expr | '(' expr ')'
 *
 * `& | !` share ONE precedence level and associate to the left (`%left '!' '&' '|'`),
 * so `A = 1 | B = 2 & C = 3` is `(A = 1 | B = 2) & C = 3` and `!A = 1 & B = 2` is
 * `(!A = 1) & B = 2`. That is the same as:
 *
 *   expr  := unary (('&' | '|') unary)*       folded left to right
 *   unary := '!' unary | '(' expr ')' | comparison
 *
 * `!=` and `@>` are two tokens each (blanks may separate them). `CURRENT_VMS`
 * takes only `=`/`!=` with an integer: OpenNebula compares garbage otherwise,
 * so we reject the other forms as syntax errors.
 */

export function parseRequirements(source: string, attribute = 'SCHED_REQUIREMENTS'): BoolNode {
  return new RequirementsParser(source, attribute).parse();
}

class RequirementsParser extends TokenParser {
  constructor(source: string, attribute: string) {
    super(source, attribute, true);
  }

  parse(): BoolNode {
    if (this.token.kind === 'end') return { kind: 'true' };
    const node = this.expr();
    if (!this.atEnd()) throw this.fail('expected &, | or the end of the expression', '& | end');
    return node;
  }

  private isPunct(c: string): boolean {
    return this.token.kind === 'punct' && this.token.text === c;
  }

  private expr(): BoolNode {
    const base = this.depth;
    let node = this.unary();
    while (this.isPunct('&') || this.isPunct('|')) {
      const kind = this.advance().text === '&' ? 'and' : 'or';
      const right = this.unary();
      // Consecutive same operators share one node, so long chains stay shallow.
      if (node.kind === kind) node.items.push(right);
      else {
        this.enter(this.token);
        node = { kind, items: [node, right] };
      }
    }
    this.depth = base;
    return node;
  }

  private unary(): BoolNode {
    const t = this.token;
    if (this.isPunct('!')) {
      this.advance();
      this.enter(t);
      const item = this.unary();
      this.depth--;
      return { kind: 'not', item };
    }
    if (this.isPunct('(')) {
      this.advance();
      this.enter(t);
      const node = this.expr();
      if (!this.isPunct(')')) throw this.fail('expected &, | or ) to close (', '& | )');
      this.advance();
      this.depth--;
      return node;
    }
    if (t.kind === 'name' || t.kind === 'string') return this.comparison();
    throw this.fail('expected an attribute name, ! or (', 'attribute');
  }

  private comparison(): BoolNode {
    const nameToken = this.advance();
    const name = nameToken.text;
    const op = this.operator(name ?? '""');
    const value = this.literal(op);
    if (name !== null && name.toUpperCase() === 'CURRENT_VMS') {
      if ((op !== '=' && op !== '!=') || value.type !== 'int') {
        throw expressionSyntaxError(
          this.attribute,
          this.source,
          nameToken.start,
          'CURRENT_VMS takes only = or != with a VM id',
          'CURRENT_VMS = id',
        );
      }
      return { kind: 'current-vms', op, id: value.value };
    }
    // An empty quoted name ("") finds nothing: the comparison is false.
    return { kind: 'compare', op, name: name ?? '', value };
  }

  private operator(name: string): CompareOp {
    const t = this.token;
    if (t.kind === 'punct') {
      if (t.text === '=' || t.text === '>' || t.text === '<') {
        this.advance();
        return t.text;
      }
      if (t.text === '!' || t.text === '@') {
        this.advance();
        const second = t.text === '!' ? '=' : '>';
        if (!this.isPunct(second)) throw this.fail(`expected ${t.text}${second}`, `${t.text}${second}`);
        this.advance();
        return t.text === '!' ? '!=' : '@>';
      }
    }
    throw this.fail(`expected an operator (=, !=, >, <, @>) after ${name}`, 'operator');
  }

  private literal(op: CompareOp): Literal {
    const t = this.token;
    if (t.kind === 'int' || t.kind === 'float') {
      this.advance();
      return { type: t.kind, value: t.value };
    }
    if ((t.kind === 'name' || t.kind === 'string') && op !== '>' && op !== '<') {
      this.advance();
      return { type: 'string', value: t.text };
    }
    if (op === '>' || op === '<') throw this.fail(`expected a number after ${op}`, 'number');
    throw this.fail(`expected a value after ${op}`, 'value');
  }
}
