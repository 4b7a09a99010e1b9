/**
 * OpenNebula's scheduling expressions: the SCHED_REQUIREMENTS boolean grammar
 * and the SCHED_RANK arithmetic, parsed once and linked to an attribute
 * table for fast evaluation. Pure code: no I/O. See docs/scheduler.md.
 */

export type { BoolNode, CompareOp, Literal, RankNode } from './ast.js';
export type {
  AttributeInput,
  AttributeRecord,
  AttributeValue,
  NameResolver,
  Resolution,
} from './attribute-table.js';
export { AttributeTable, defaultResolver, flattenRecord, forEachAttribute, VMS_KEY } from './attribute-table.js';
export type { CheckExpressionsOptions, VmExpression } from './check.js';
export { checkVmExpressions, findExpressionErrors, vmExpressions } from './check.js';
export type { LinkedRank, LinkedRequirements, RowPredicate, RowScore } from './compile.js';
export { compileRank, compileRequirements, RankExpression, RequirementsExpression, toRank } from './compile.js';
export type { GlobMatcher } from './glob.js';
export { compileGlob } from './glob.js';
export { readFloat, readInt } from './numbers.js';
export { parseRank } from './rank-parser.js';
export { MAX_DEPTH, parseRequirements } from './requirements-parser.js';
export { substituteExpressionVariables } from './substitute.js';
