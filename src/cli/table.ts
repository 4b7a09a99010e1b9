import type { Filter } from './args.js';
import { UsageError } from './cli-error.js';

/** One column of a list table: header, how to get the cell, and alignment. */
export interface Column<T> {
  header: string;
  cell: (row: T) => string;
  /** Numbers are right-aligned, like OpenNebula's tables. */
  align?: 'left' | 'right';
}

export interface TableOptions {
  header?: boolean;
}

/**
 * Aligned columns separated by one blank, headers in capitals, no trailing
 * blanks: the layout of `onevm list`.
 */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[], options: TableOptions = {}): string {
  const cells = rows.map((r) => columns.map((c) => clean(c.cell(r))));
  const header = options.header !== false;
  const widths = columns.map((c, i) => Math.max(header ? c.header.length : 0, ...cells.map((row) => row[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const last = i === values.length - 1;
        if (columns[i]!.align === 'right') return v.padStart(widths[i]!);
        return last ? v : v.padEnd(widths[i]!);
      })
      .join(' ')
      .trimEnd();
  const out: string[] = [];
  if (header) out.push(line(columns.map((c) => c.header)));
  for (const row of cells) out.push(line(row));
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

/** Keeps one row on one line whatever a name contains. */
function clean(value: string): string {
  return value.replace(/[\r\n\t]+/g, ' ');
}

/** Columns by header names (`--list ID,NAME`), in the order given. */
export function pickColumns<T>(columns: readonly Column<T>[], names: string | undefined): Column<T>[] {
  if (!names) return [...columns];
  return names.split(',').map((n) => {
    const c = columns.find((col) => col.header === n.trim().toUpperCase());
    if (!c) throw new UsageError(`no column '${n}': one of ${columns.map((col) => col.header).join(', ')}`);
    return c;
  });
}

/** Keeps the rows whose cells match every filter (`--filter STAT=pend`). */
export function applyFilters<T>(columns: readonly Column<T>[], rows: readonly T[], filters: readonly Filter[]): T[] {
  if (filters.length === 0) return [...rows];
  const tests = filters.map((f) => {
    const col = columns.find((c) => c.header === f.column);
    if (!col) throw new UsageError(`cannot filter on '${f.column}': one of ${columns.map((c) => c.header).join(', ')}`);
    return (row: T) => {
      const v = col.cell(row);
      if (f.op === '=') return v === f.value;
      if (f.op === '!=') return v !== f.value;
      return v.includes(f.value);
    };
  });
  return rows.filter((r) => tests.every((t) => t(r)));
}
