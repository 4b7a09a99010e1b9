/** A parsed `SCHED_REQUIREMENTS` expression. */
export type BoolNode =
  | { kind: 'true' }
  | { kind: 'compare'; op: CompareOp; name: string; value: Literal }
  | { kind: 'current-vms'; op: '=' | '!='; id: number }
  | { kind: 'and' | 'or'; items: BoolNode[] }
  | { kind: 'not'; item: BoolNode };

export type CompareOp = '=' | '!=' | '>' | '<' | '@>';

/** The right-hand side: an int or float literal, or a string (null for `""`, which matches nothing). */
export type Literal = { type: 'int' | 'float'; value: number } | { type: 'string'; value: string | null };

/** A parsed `SCHED_RANK` expression. */
export type RankNode =
  | { kind: 'number'; value: number }
  | { kind: 'var'; name: string | null }
  | { kind: 'neg'; item: RankNode }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/'; left: RankNode; right: RankNode };
