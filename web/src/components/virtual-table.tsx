import { Table, Th, Thead, Tr } from '@patternfly/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, type ReactNode, useCallback, useMemo, useRef, useState } from 'react';
import { navigate } from '../router';

export interface Column<T> {
  key: string;
  title: string;
  /** CSS width of a fixed column; columns without one share the rest (the layout is fixed). */
  width?: string;
  render: (row: T) => ReactNode;
  /** Text the filter box matches, and the sort key unless `sort` is given. */
  text: (row: T) => string;
  sort?: (row: T) => number | string;
}

export interface Selection {
  selected: ReadonlySet<number>;
  onChange: (next: Set<number>) => void;
}

interface Props<T extends { id: number }> {
  rows: readonly T[];
  columns: readonly Column<T>[];
  ariaLabel: string;
  selection?: Selection;
  /** Where a row leads; clicking anywhere on the row (but a control) goes there. */
  rowHref?: (row: T) => string;
  empty?: ReactNode;
  /** CSS height of the scrolling area. */
  height?: string;
}

export const ROW_HEIGHT = 37;

type Sort = { index: number; direction: 'asc' | 'desc' };

/**
 * A PatternFly table that renders only the rows in view (TanStack Virtual),
 * so 20,000 rows scroll like 20. Scrolling re-renders only the body
 * (`VirtualBody` owns the virtualizer): PatternFly's Table and Th re-measure
 * themselves on every render, which must not happen per frame. Rows are
 * memoised on their object, so a live update of one VM re-renders one row.
 */
export function VirtualTable<T extends { id: number }>({
  rows,
  columns,
  ariaLabel,
  selection,
  rowHref,
  empty,
  height,
}: Props<T>) {
  // A state, not a ref: the body's virtualizer must re-render once the element exists
  // (refs of a parent are attached after its children's layout effects ran).
  const [scrollEl, setScrollEl] = useState<HTMLDivElement | null>(null);
  const [sort, setSort] = useState<Sort>({ index: 0, direction: 'asc' });
  const sorted = useMemo(() => sortRows(rows, columns, sort), [rows, columns, sort]);

  // Rows and the header are memoised, so they get stable callbacks that read the current selection.
  const selectionRef = useRef(selection);
  selectionRef.current = selection;
  const sortedRef = useRef(sorted);
  sortedRef.current = sorted;
  const onRowSelect = useCallback((id: number, on: boolean) => {
    const current = selectionRef.current;
    if (!current) return;
    const next = new Set(current.selected);
    if (on) next.add(id);
    else next.delete(id);
    current.onChange(next);
  }, []);
  const onSelectAll = useCallback((on: boolean) => {
    selectionRef.current?.onChange(on ? new Set(sortedRef.current.map((r) => r.id)) : new Set());
  }, []);

  const selected = selection?.selected;
  const allSelected = selected !== undefined && sorted.length > 0 && sorted.every((r) => selected.has(r.id));
  const hasSelection = selection !== undefined;

  const header = useMemo(
    () => (
      <Thead>
        <Tr>
          {hasSelection && (
            <Th
              aria-label="Select"
              className="oe-select-col"
              select={{ isSelected: allSelected, onSelect: (_e, on) => onSelectAll(on) }}
            />
          )}
          {columns.map((c, i) => (
            <Th
              key={c.key}
              sort={{
                columnIndex: i,
                sortBy: { index: sort.index, direction: sort.direction },
                onSort: (_e, index, direction) => setSort({ index, direction }),
              }}
            >
              {c.title}
            </Th>
          ))}
        </Tr>
      </Thead>
    ),
    [columns, sort, allSelected, hasSelection, onSelectAll],
  );

  return (
    <div
      ref={setScrollEl}
      className="oe-vtable-scroll"
      style={{ height: height ?? 'calc(100vh - 300px)' }}
      data-rows={sorted.length}
    >
      <Table
        aria-label={ariaLabel}
        variant="compact"
        isStickyHeader
        className="oe-vtable"
        aria-rowcount={sorted.length}
      >
        <colgroup>
          {hasSelection && <col className="oe-select-col" />}
          {columns.map((c) => (
            <col key={c.key} {...(c.width ? { style: { width: c.width } } : {})} />
          ))}
        </colgroup>
        {header}
        <VirtualBody
          scrollEl={scrollEl}
          rows={sorted}
          columns={columns}
          selected={selected}
          selectable={hasSelection}
          onSelect={onRowSelect}
          rowHref={rowHref}
          empty={empty}
        />
      </Table>
    </div>
  );
}

/** Rows come in id order (pools are kept sorted by id), so the default sort costs nothing. */
function sortRows<T>(rows: readonly T[], columns: readonly Column<T>[], sort: Sort): readonly T[] {
  const col = columns[sort.index];
  if (!col) return rows;
  if (col.key === 'id') return sort.direction === 'asc' ? rows : rows.slice().reverse();
  const key = col.sort ?? col.text;
  const keyed = rows.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => {
    const c = typeof a.k === 'number' && typeof b.k === 'number' ? a.k - b.k : String(a.k).localeCompare(String(b.k));
    return sort.direction === 'asc' ? c : -c;
  });
  return keyed.map((x) => x.r);
}

function VirtualBody<T extends { id: number }>({
  scrollEl,
  rows,
  columns,
  selected,
  selectable,
  onSelect,
  rowHref,
  empty,
}: {
  scrollEl: HTMLDivElement | null;
  rows: readonly T[];
  columns: readonly Column<T>[];
  selected: ReadonlySet<number> | undefined;
  selectable: boolean;
  onSelect: (id: number, on: boolean) => void;
  rowHref: ((row: T) => string) | undefined;
  empty: ReactNode;
}) {
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollEl,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const items = virtualizer.getVirtualItems();
  const top = items[0]?.start ?? 0;
  const bottom = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0);
  return (
    <tbody className="pf-v6-c-table__tbody">
      {rows.length === 0 && (
        <tr className="pf-v6-c-table__tr">
          <td className="pf-v6-c-table__td" colSpan={columns.length + (selectable ? 1 : 0)}>
            {empty ?? 'Nothing to show.'}
          </td>
        </tr>
      )}
      {top > 0 && <tr className="oe-spacer" style={{ height: top }} />}
      {items.map((v) => {
        const row = rows[v.index]!;
        return (
          <Row
            key={row.id}
            row={row}
            index={v.index}
            columns={columns}
            isSelected={selected?.has(row.id) ?? false}
            selectable={selectable}
            onSelect={onSelect}
            href={rowHref?.(row)}
          />
        );
      })}
      {bottom > 0 && <tr className="oe-spacer" style={{ height: bottom }} />}
    </tbody>
  );
}

interface RowProps<T> {
  row: T;
  index: number;
  columns: readonly Column<T>[];
  isSelected: boolean;
  selectable: boolean;
  onSelect: (id: number, on: boolean) => void;
  href: string | undefined;
}

/**
 * Rows are plain table markup with PatternFly's classes: the Tr/Td components
 * merge props and class names per cell, which is measurable at 60 rows a frame.
 */
function RowImpl<T extends { id: number }>({
  row,
  index,
  columns,
  isSelected,
  selectable,
  onSelect,
  href,
}: RowProps<T>) {
  return (
    <tr
      data-id={row.id}
      aria-rowindex={index + 2}
      style={{ height: ROW_HEIGHT }}
      onClick={(e) => {
        if (!href || (e.target as HTMLElement).closest('a,button,input,label')) return;
        navigate(href);
      }}
      className={`oe-tr${isSelected ? ' pf-m-selected' : ''}${href ? ' oe-row-link' : ''}`}
    >
      {selectable && (
        <td className="oe-td oe-select-col">
          <label>
            <input
              type="checkbox"
              aria-label={`Select row ${row.id}`}
              checked={isSelected}
              onChange={(e) => onSelect(row.id, e.currentTarget.checked)}
            />
          </label>
        </td>
      )}
      {columns.map((c) => (
        <td key={c.key} data-label={c.title} className={`oe-td oe-col-${c.key}`}>
          {c.render(row)}
        </td>
      ))}
    </tr>
  );
}

/** Re-renders a row only when its object, its selection or its position changes. */
const Row = memo(
  RowImpl,
  (a, b) =>
    a.row === b.row &&
    a.isSelected === b.isSelected &&
    a.index === b.index &&
    a.columns === b.columns &&
    a.href === b.href,
) as typeof RowImpl;

/** Rows whose column texts contain every word of the filter (case-insensitive). */
export function filterRows<T>(rows: readonly T[], columns: readonly Column<T>[], filter: string): readonly T[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return rows;
  return rows.filter((r) => {
    const hay = haystack(r, columns);
    return words.every((w) => hay.includes(w));
  });
}

const HAYSTACKS = new WeakMap<object, string>();

function haystack<T>(row: T, columns: readonly Column<T>[]): string {
  const key = row as unknown as object;
  let h = HAYSTACKS.get(key);
  if (h === undefined) {
    h = columns
      .map((c) => c.text(row))
      .join('\u0000')
      .toLowerCase();
    HAYSTACKS.set(key, h);
  }
  return h;
}
