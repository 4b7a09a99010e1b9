import { OneError } from '../errors.js';
import { positionOf } from './access.js';
import type { PositionMap } from './types.js';

/** One problem found while checking a template, with its source position when known. */
export interface TemplateIssue {
  /** Attribute path, e.g. `DISK[0]/IMAGE_ID`, `MEMORY`, `USER_INPUTS[0]/PORT`. */
  attribute: string;
  message: string;
  line?: number;
  column?: number;
}

/** Builds an issue, attaching the position of `attribute` (or of its vector) when known. */
export function templateIssue(positions: PositionMap | undefined, attribute: string, message: string): TemplateIssue {
  const at = positions === undefined ? undefined : positionOf(positions, attribute);
  return at === undefined ? { attribute, message } : { attribute, message, line: at.line, column: at.column };
}

/**
 * Throws one `E_TEMPLATE_INVALID` for a non-empty list of issues: the message
 * and `details.{attribute,line,column}` describe the first, `details.errors`
 * lists all of them.
 */
export function throwIfIssues(issues: readonly TemplateIssue[]): void {
  const first = issues[0];
  if (first === undefined) return;
  const where = first.line === undefined ? '' : ` (line ${first.line}, column ${first.column})`;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  const details: Record<string, unknown> = { attribute: first.attribute };
  if (first.line !== undefined) Object.assign(details, { line: first.line, column: first.column });
  details.errors = issues;
  throw new OneError('E_TEMPLATE_INVALID', `${first.attribute}: ${first.message}${where}${more}`, details);
}
