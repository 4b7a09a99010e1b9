import type { BoolNode, Literal, RankNode } from './ast.js';
import type { AttributeTable, AttributeValue } from './attribute-table.js';
import { compileGlob, type GlobMatcher } from './glob.js';
import { valueAsFloat, valueAsInt } from './numbers.js';
import { parseRank } from './rank-parser.js';
import { parseRequirements } from './requirements-parser.js';

/*
 * Expressions are parsed once into an AST (`compileRequirements`,
 * `compileRank`) and linked to an AttributeTable into closures (`link`):
 * attribute names become column references, globs become matchers, and a
 * name no row has becomes a constant. Evaluating is then a few array reads
 * per comparison.
 *
 * Semantics (OpenNebula `expr_bool.y` / `expr_arith.y`):
 *   - A missing attribute makes every comparison false, `!=` included.
 *   - With a number on the right the attribute is read as a number (an int
 *     literal reads the value as an int, so "2.5" = 2 holds); text that does
 *     not read as a number makes the comparison false.
 *   - With a string on the right, `=`/`!=` are fnmatch globs on the first
 *     value; `""` matches nothing (both `=` and `!=` are false).
 *   - `@>` is true when some value of the attribute equals the number or
 *     matches the glob.
 *   - `CURRENT_VMS = id` holds when VM id runs on the row, `!=` when it does not.
 *   - Rank: a missing or non-numeric attribute reads 0; the result is
 *     truncated to an integer (C++ `static_cast<int>`); a non-finite result
 *     (division by zero) ranks 0.
 */

export type RowPredicate = (row: number) => boolean;
export type RowScore = (row: number) => number;

export interface LinkedRequirements {
  test: RowPredicate;
  /** True when the result can change while the table is in use (dynamic slots, CURRENT_VMS). */
  dynamic: boolean;
}

export interface LinkedRank {
  score: RowScore;
  dynamic: boolean;
}

export class RequirementsExpression {
  constructor(
    readonly source: string,
    readonly ast: BoolNode,
  ) {}

  link(table: AttributeTable): LinkedRequirements {
    const state = { dynamic: false };
    const test = linkBool(this.ast, table, state);
    return { test, dynamic: state.dynamic };
  }

  /** Evaluates against one row (convenience; link once when evaluating many times). */
  evaluate(table: AttributeTable, row: number): boolean {
    return this.link(table).test(row);
  }
}

export class RankExpression {
  constructor(
    readonly source: string,
    readonly ast: RankNode,
  ) {}

  link(table: AttributeTable): LinkedRank {
    const state = { dynamic: false };
    const raw = linkRank(this.ast, table, state);
    return { score: (row) => toRank(raw(row)), dynamic: state.dynamic };
  }

  evaluate(table: AttributeTable, row: number): number {
    return this.link(table).score(row);
  }
}

/** Parses a SCHED_REQUIREMENTS-style expression; throws E_EXPRESSION_SYNTAX with the column. */
export function compileRequirements(source: string, attribute = 'SCHED_REQUIREMENTS'): RequirementsExpression {
  return new RequirementsExpression(source, parseRequirements(source, attribute));
}

/** Parses a SCHED_RANK-style expression; throws E_EXPRESSION_SYNTAX with the column. */
export function compileRank(source: string, attribute = 'SCHED_RANK'): RankExpression {
  return new RankExpression(source, parseRank(source, attribute));
}

/** C++ `static_cast<int>` of the float result, with non-finite values ranked 0. */
export function toRank(value: number): number {
  if (!Number.isFinite(value)) return 0;
  const t = Math.trunc(value);
  return Math.min(2147483647, Math.max(-2147483648, t));
}

const FALSE: RowPredicate = () => false;
const TRUE: RowPredicate = () => true;

function linkBool(node: BoolNode, table: AttributeTable, state: { dynamic: boolean }): RowPredicate {
  switch (node.kind) {
    case 'true':
      return TRUE;
    case 'not': {
      const item = linkBool(node.item, table, state);
      return (r) => !item(r);
    }
    case 'and':
    case 'or':
      return linkJunction(node.kind, node.items, table, state);
    case 'current-vms': {
      state.dynamic = true;
      const vms = table.vms;
      const id = node.id;
      // OpenNebula's HostXML::search: found ⇒ value = id, not found ⇒ value = -1.
      if (node.op === '=') return (r) => id === -1 || vms[r]?.includes(id) === true;
      return (r) => id !== -1 && vms[r]?.includes(id) !== true;
    }
    case 'compare':
      return linkCompare(node.op, node.name, node.value, table, state);
  }
}

function linkJunction(
  kind: 'and' | 'or',
  nodes: readonly BoolNode[],
  table: AttributeTable,
  state: { dynamic: boolean },
): RowPredicate {
  const items = nodes.map((n) => linkBool(n, table, state));
  if (items.length === 2) {
    const [a, b] = items as [RowPredicate, RowPredicate];
    return kind === 'and' ? (r) => a(r) && b(r) : (r) => a(r) || b(r);
  }
  if (kind === 'and') {
    return (r) => {
      for (let i = 0; i < items.length; i++) if (!items[i]!(r)) return false;
      return true;
    };
  }
  return (r) => {
    for (let i = 0; i < items.length; i++) if (items[i]!(r)) return true;
    return false;
  };
}

function linkCompare(
  op: string,
  name: string,
  value: Literal,
  table: AttributeTable,
  state: { dynamic: boolean },
): RowPredicate {
  if (value.type === 'string' && value.value === null) return FALSE;
  const where = table.resolve(name);
  if (where.kind === 'missing') return FALSE;
  if (where.kind === 'vms') {
    state.dynamic = true;
    return linkVmList(op, value, table);
  }
  const slot = where.slot;
  if (table.isDynamic(slot)) state.dynamic = true;
  if (value.type === 'string') {
    const glob = compileGlob(value.value!);
    const firsts = table.firstColumn(slot);
    if (op === '@>') return linkContainsGlob(glob, firsts, table, slot);
    const eq = op === '=';
    return (r) => {
      const v = firsts[r];
      if (v === undefined) return false;
      return glob(typeof v === 'string' ? v : String(v)) === eq;
    };
  }
  const n = value.value;
  const col = value.type === 'int' ? table.intColumn(slot) : table.floatColumn(slot);
  switch (op) {
    case '=':
      return (r) => col[r] === n;
    case '!=':
      return (r) => {
        const v = col[r]!;
        return !Number.isNaN(v) && v !== n;
      };
    case '>':
      return (r) => col[r]! > n;
    case '<':
      return (r) => col[r]! < n;
    default: {
      const read = value.type === 'int' ? valueAsInt : valueAsFloat;
      const multi = () => table.multiColumn(slot);
      return (r) => {
        const all = multi()?.[r];
        if (all === undefined) return col[r] === n;
        for (let i = 0; i < all.length; i++) if (read(all[i]) === n) return true;
        return false;
      };
    }
  }
}

function linkContainsGlob(
  glob: GlobMatcher,
  firsts: readonly (AttributeValue | undefined)[],
  table: AttributeTable,
  slot: number,
): RowPredicate {
  return (r) => {
    const all = table.multiColumn(slot)?.[r];
    if (all === undefined) {
      const v = firsts[r];
      return v !== undefined && glob(typeof v === 'string' ? v : String(v));
    }
    for (let i = 0; i < all.length; i++) {
      const v = all[i]!;
      if (glob(typeof v === 'string' ? v : String(v))) return true;
    }
    return false;
  };
}

/** `"VMS/ID"`: the row's VM ids as a multi-valued attribute. */
function linkVmList(op: string, value: Literal, table: AttributeTable): RowPredicate {
  const vms = table.vms;
  const first = (r: number): number | undefined => vms[r]?.[0];
  if (value.type === 'string') {
    const glob = compileGlob(value.value!);
    if (op === '@>') {
      return (r) => {
        const list = vms[r];
        if (list === undefined) return false;
        for (const id of list) if (glob(String(id))) return true;
        return false;
      };
    }
    return (r) => {
      const v = first(r);
      return v !== undefined && glob(String(v)) === (op === '=');
    };
  }
  const n = value.value;
  switch (op) {
    case '@>':
      return (r) => vms[r]?.includes(n) === true;
    case '=':
      return (r) => first(r) === n;
    case '!=':
      return (r) => {
        const v = first(r);
        return v !== undefined && v !== n;
      };
    case '>':
      return (r) => (first(r) ?? Number.NaN) > n;
    default:
      return (r) => (first(r) ?? Number.NaN) < n;
  }
}

function linkRank(node: RankNode, table: AttributeTable, state: { dynamic: boolean }): RowScore {
  switch (node.kind) {
    case 'number': {
      const v = node.value;
      return () => v;
    }
    case 'var': {
      if (node.name === null) return () => 0;
      const where = table.resolve(node.name);
      if (where.kind === 'vms') {
        state.dynamic = true;
        const vms = table.vms;
        return (r) => vms[r]?.[0] ?? 0;
      }
      if (where.kind === 'missing') return () => 0;
      if (table.isDynamic(where.slot)) state.dynamic = true;
      const col = table.floatColumn(where.slot);
      return (r) => {
        const v = col[r]!;
        return Number.isNaN(v) ? 0 : v;
      };
    }
    case 'neg': {
      const item = linkRank(node.item, table, state);
      return (r) => -item(r);
    }
    case 'binary': {
      const a = linkRank(node.left, table, state);
      const b = linkRank(node.right, table, state);
      switch (node.op) {
        case '+':
          return (r) => a(r) + b(r);
        case '-':
          return (r) => a(r) - b(r);
        case '*':
          return (r) => a(r) * b(r);
        default:
          return (r) => a(r) / b(r);
      }
    }
  }
}
