import type { SourcePosition } from '../errors.js';

/**
 * The canonical in-memory and JSON form of an OpenNebula template.
 *
 * Attribute names are upper-case (`[A-Z0-9_]+`). A name that occurs once maps
 * to its value; a name that occurs several times (DISK, NIC, …) maps to an
 * array of values in source order. A value is either a string (single
 * attribute) or a vector: a flat map of upper-case sub-attribute names to
 * strings (one level, no nesting). This is the shape OpenNebula's own JSON
 * output uses.
 *
 * Canonical form (what every parser produces and every serializer requires):
 * an array always holds two or more values — one occurrence is the bare value,
 * zero occurrences is an absent key — and no value contains `]]>` (OpenNebula
 * stores templates inside XML CDATA sections). The helpers in `access.ts`
 * keep templates canonical.
 */
export type TemplateVector = { [name: string]: string };
export type TemplateValue = string | TemplateVector;
export type Template = { [name: string]: TemplateValue | TemplateValue[] };

/**
 * Where each attribute came from in the source text (1-based line:column of
 * the attribute's name). Keys are `NAME[i]` (i counts the occurrences of NAME
 * from 0, so a single attribute is `MEMORY[0]`) and `NAME[i]/SUB` for a
 * vector's sub-attributes, e.g. `DISK[1]/IMAGE_ID`. Columns count UTF-16 code
 * units, which is characters for ASCII text.
 */
export type PositionMap = Map<string, SourcePosition>;

export type TemplateFormat = 'native' | 'yaml' | 'json';

export interface ParsedTemplate {
  template: Template;
  positions: PositionMap;
  format: TemplateFormat;
}
