/*
 * How OpenNebula reads an attribute value as a number: `std::istringstream >>`
 * into an int or a float. Leading blanks are skipped, the longest numeric
 * prefix is used ("12abc" reads 12, "2.5" read as an int is 2) and text with
 * no leading number does not read at all (the comparison is then false).
 *
 * Two deliberate differences: we read into a double instead of a 32-bit int
 * or float, so "4294967296" compares as itself instead of failing with an
 * overflow, and floats keep double precision.
 */

const INT_PREFIX = /^[ \t\n\r\f\v]*[+-]?[0-9]+/;
const FLOAT_PREFIX = /^[ \t\n\r\f\v]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/;

/** `>> int`: the integer prefix of `text`, NaN when there is none. */
export function readInt(text: string): number {
  const m = INT_PREFIX.exec(text);
  return m === null ? Number.NaN : Number(m[0].trim());
}

/** `>> float`: the decimal prefix of `text` (with exponent), NaN when there is none. */
export function readFloat(text: string): number {
  const m = FLOAT_PREFIX.exec(text);
  return m === null ? Number.NaN : Number(m[0].trim());
}

/** An attribute value (text or an already numeric value) read as an int. */
export function valueAsInt(value: string | number | undefined): number {
  if (value === undefined) return Number.NaN;
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : Number.NaN;
  return readInt(value);
}

/** An attribute value read as a float. */
export function valueAsFloat(value: string | number | undefined): number {
  if (value === undefined) return Number.NaN;
  if (typeof value === 'number') return value;
  return readFloat(value);
}
