import type { SourcePosition } from '../errors.js';
import type { PositionMap, Template, TemplateValue, TemplateVector } from './types.js';

/*
 * Read and update helpers over the canonical Template shape. Names are
 * case-insensitive (upper-cased before lookup). Updates never mutate their
 * input: they return a new template (values are shared; strings are
 * immutable and vectors are replaced, not edited) and keep it canonical.
 */

/** All occurrences of `name`, in order; empty when absent. */
export function getAll(t: Template, name: string): TemplateValue[] {
  const value = own(t, name.toUpperCase());
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** True when `name` occurs at least once. */
export function hasAttribute(t: Template, name: string): boolean {
  return own(t, name.toUpperCase()) !== undefined;
}

/**
 * The string value at `path`: `NAME` is the first occurrence of a single
 * attribute, `NAME/SUB` the sub-attribute of the first vector NAME. Undefined
 * when absent or when the occurrence is of the other kind.
 */
export function getString(t: Template, path: string): string | undefined {
  const slash = path.indexOf('/');
  if (slash === -1) {
    const first = getAll(t, path)[0];
    return typeof first === 'string' ? first : undefined;
  }
  const vector = getVector(t, path.slice(0, slash));
  return vector === undefined ? undefined : own(vector, path.slice(slash + 1).toUpperCase());
}

/** The first vector occurrence of `name`, if any. */
export function getVector(t: Template, name: string): TemplateVector | undefined {
  return getVectors(t, name)[0];
}

/** Every vector occurrence of `name` (string occurrences are skipped). */
export function getVectors(t: Template, name: string): TemplateVector[] {
  return getAll(t, name).filter((v): v is TemplateVector => typeof v !== 'string');
}

/**
 * Replaces every occurrence of `name` with `value` (an array sets several
 * occurrences; an empty array removes the attribute).
 */
export function setValue(t: Template, name: string, value: TemplateValue | readonly TemplateValue[]): Template {
  const key = name.toUpperCase();
  const values = Array.isArray(value) ? [...(value as readonly TemplateValue[])] : [value as TemplateValue];
  const out: Template = { ...t };
  if (values.length === 0) delete out[key];
  else out[key] = values.length === 1 ? values[0]! : values;
  return out;
}

/** Appends one occurrence of `name` after the existing ones. */
export function addValue(t: Template, name: string, value: TemplateValue): Template {
  return setValue(t, name, [...getAll(t, name), value]);
}

/** Removes every occurrence of `name`. */
export function removeAttribute(t: Template, name: string): Template {
  return setValue(t, name, []);
}

/**
 * Sets `sub` in the first vector `name` (creating the vector when there is
 * none), e.g. `setVectorValue(t, 'CONTEXT', 'NETWORK', 'YES')`.
 */
export function setVectorValue(t: Template, name: string, sub: string, value: string): Template {
  const all = getAll(t, name);
  const i = all.findIndex((v) => typeof v !== 'string');
  const vector = { ...((i === -1 ? {} : all[i]) as TemplateVector), [sub.toUpperCase()]: value };
  if (i === -1) return addValue(t, name, vector);
  const next = [...all];
  next[i] = vector;
  return setValue(t, name, next);
}

/** A deep copy: safe to mutate without touching the original. */
export function cloneTemplate(t: Template): Template {
  const out: Template = {};
  for (const [name, value] of Object.entries(t)) {
    out[name] = Array.isArray(value) ? value.map(cloneValue) : cloneValue(value);
  }
  return out;
}

function cloneValue(v: TemplateValue): TemplateValue {
  return typeof v === 'string' ? v : { ...v };
}

/**
 * Looks up a source position. `path` is a PositionMap key (`DISK[1]/SIZE`);
 * the index may be left out for the first occurrence (`MEMORY`,
 * `CONTEXT/NETWORK`) and names are case-insensitive. When the sub-attribute
 * has no position (e.g. it was added after parsing), the vector's position is
 * returned; undefined when neither is known.
 */
export function positionOf(positions: PositionMap, path: string): SourcePosition | undefined {
  const [head = '', sub] = path.toUpperCase().split('/', 2);
  const base = head.endsWith(']') ? head : `${head}[0]`;
  if (sub !== undefined) {
    const exact = positions.get(`${base}/${sub}`);
    if (exact !== undefined) return exact;
  }
  return positions.get(base);
}

function own<T>(record: { [key: string]: T }, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
