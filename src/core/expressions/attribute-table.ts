import { valueAsFloat, valueAsInt } from './numbers.js';

/**
 * What expressions read: a column store of attributes for a set of objects
 * (the rows: hosts, datastores or networks). Each attribute name gets a slot;
 * each slot holds, per row, the first value (what `=`, `!=`, `>`, `<` and rank
 * read), every value when there are several (what `@>` reads), and lazily
 * built numeric columns. Expressions are linked to a table once and then
 * evaluated per row with plain array reads: no name lookups, no parsing.
 *
 * A table is mutable on purpose: a scheduler updates a few dynamic attributes
 * (CPU_USAGE, RUNNING_VMS …) of the row it just placed a VM on, through
 * `set()`, and every linked expression sees the new value.
 */
export type AttributeValue = string | number;

/** How an expression's attribute name was resolved against a table. */
export type Resolution = { kind: 'slot'; slot: number } | { kind: 'vms' } | { kind: 'missing' };

/** Maps a name as written in an expression to the table's key (or the VM-id list). */
export type NameResolver = (name: string) => string | typeof VMS_KEY;

/** The key under which a resolver names the row's VM ids (`VMS/ID`). */
export const VMS_KEY = Symbol('VMS');

export function defaultResolver(name: string): string {
  return (name.startsWith('/') ? name.slice(1) : name).toUpperCase();
}

export class AttributeTable {
  private readonly slots = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly firsts: (AttributeValue | undefined)[][] = [];
  private readonly multis: ((readonly AttributeValue[] | undefined)[] | undefined)[] = [];
  private readonly floatCols: (Float64Array | undefined)[] = [];
  private readonly intCols: (Float64Array | undefined)[] = [];
  private readonly dynamicSlots = new Set<number>();
  /** Per row: the ids of the VMs on it (CURRENT_VMS), in the order added; undefined for none. */
  readonly vms: (number[] | undefined)[];

  constructor(
    readonly rows: number,
    private readonly resolver: NameResolver = defaultResolver,
  ) {
    this.vms = new Array<number[] | undefined>(rows).fill(undefined);
  }

  /** The slot of `key` (a table key, not an expression name), -1 when absent. */
  slotOf(key: string): number {
    return this.slots.get(key) ?? -1;
  }

  /** The slot of `key`, created empty when absent. */
  ensureSlot(key: string): number {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.names.length;
      this.slots.set(key, slot);
      this.names.push(key);
      this.firsts.push(new Array<AttributeValue | undefined>(this.rows).fill(undefined));
      this.multis.push(undefined);
      this.floatCols.push(undefined);
      this.intCols.push(undefined);
    }
    return slot;
  }

  /** Marks a slot as changing while the table is in use (see `isDynamic`). */
  markDynamic(slot: number): void {
    this.dynamicSlots.add(slot);
  }

  isDynamic(slot: number): boolean {
    return this.dynamicSlots.has(slot);
  }

  keys(): readonly string[] {
    return this.names;
  }

  /** Sets one row's value (an array sets several values; undefined removes it). */
  set(row: number, slot: number, value: AttributeValue | readonly AttributeValue[] | undefined): void {
    let first: AttributeValue | undefined;
    let all: readonly AttributeValue[] | undefined;
    if (Array.isArray(value)) {
      first = value[0] as AttributeValue | undefined;
      if (value.length > 1) all = value as readonly AttributeValue[];
    } else first = value as AttributeValue | undefined;
    this.firsts[slot]![row] = first;
    let multi = this.multis[slot];
    if (all !== undefined && multi === undefined) {
      multi = new Array<readonly AttributeValue[] | undefined>(this.rows).fill(undefined);
      this.multis[slot] = multi;
    }
    if (multi !== undefined) multi[row] = all;
    const f = this.floatCols[slot];
    if (f !== undefined) f[row] = valueAsFloat(first);
    const n = this.intCols[slot];
    if (n !== undefined) n[row] = valueAsInt(first);
  }

  /** Sets a numeric value; cheaper than `set` for the dynamic slots a scheduler updates. */
  setNumber(row: number, slot: number, value: number): void {
    this.firsts[slot]![row] = value;
    const f = this.floatCols[slot];
    if (f !== undefined) f[row] = value;
    const n = this.intCols[slot];
    if (n !== undefined) n[row] = Number.isFinite(value) ? Math.trunc(value) : Number.NaN;
  }

  /** The first value of `slot` in `row`. */
  get(row: number, slot: number): AttributeValue | undefined {
    return this.firsts[slot]![row];
  }

  /** Every value of `slot` in `row` ([] when absent). */
  getAll(row: number, slot: number): readonly AttributeValue[] {
    const all = this.multis[slot]?.[row];
    if (all !== undefined) return all;
    const first = this.firsts[slot]![row];
    return first === undefined ? [] : [first];
  }

  /** Column of first values (live: later `set` calls show through). */
  firstColumn(slot: number): readonly (AttributeValue | undefined)[] {
    return this.firsts[slot]!;
  }

  /** Column of multiple values, or undefined while no row has more than one. */
  multiColumn(slot: number): readonly (readonly AttributeValue[] | undefined)[] | undefined {
    return this.multis[slot];
  }

  /** First values read as floats (NaN = absent or not numeric); built on first use, then kept current. */
  floatColumn(slot: number): Float64Array {
    let col = this.floatCols[slot];
    if (col === undefined) {
      const firsts = this.firsts[slot]!;
      col = new Float64Array(this.rows);
      for (let r = 0; r < this.rows; r++) col[r] = valueAsFloat(firsts[r]);
      this.floatCols[slot] = col;
    }
    return col;
  }

  /** First values read as C++ ints (NaN = absent or not numeric). */
  intColumn(slot: number): Float64Array {
    let col = this.intCols[slot];
    if (col === undefined) {
      const firsts = this.firsts[slot]!;
      col = new Float64Array(this.rows);
      for (let r = 0; r < this.rows; r++) col[r] = valueAsInt(firsts[r]);
      this.intCols[slot] = col;
    }
    return col;
  }

  /** Resolves a name as written in an expression (`FREE_CPU`, `"CLUSTERS/ID"`). */
  resolve(name: string): Resolution {
    const key = this.resolver(name);
    if (key === VMS_KEY) return { kind: 'vms' };
    const slot = this.slots.get(key);
    return slot === undefined ? { kind: 'missing' } : { kind: 'slot', slot };
  }

  /** Adds a VM id to a row's CURRENT_VMS. */
  addVm(row: number, vmId: number): void {
    const list = this.vms[row];
    if (list === undefined) this.vms[row] = [vmId];
    else if (!list.includes(vmId)) list.push(vmId);
  }

  /**
   * A table from plain records (one per row): keys are upper-cased, arrays
   * are multi-valued, and a nested record `{ID: "1"}` under `CLUSTERS`
   * becomes `CLUSTERS/ID`. Handy for tests and small object sets.
   */
  static fromRecords(records: readonly AttributeRecord[], resolver?: NameResolver): AttributeTable {
    const table = new AttributeTable(records.length, resolver);
    records.forEach((record, row) => {
      for (const [key, value] of flattenRecord(record)) table.set(row, table.ensureSlot(key), value);
    });
    return table;
  }

  /**
   * Sets `value` unless the row already has a value for `key`: with sections
   * written in lookup order, the first section to define a name wins.
   * Returns whether it was set.
   */
  setFirst(row: number, key: string, value: AttributeValue | readonly AttributeValue[]): boolean {
    const slot = this.ensureSlot(key);
    if (this.firsts[slot]![row] !== undefined) return false;
    this.set(row, slot, value);
    return true;
  }
}

export type AttributeInput = AttributeValue | Readonly<Record<string, AttributeValue>>;
export type AttributeRecord = Readonly<Record<string, AttributeInput | readonly AttributeInput[]>>;

/**
 * Flattens a record (template-shaped or with numbers) into `[KEY, value(s)]`
 * pairs: vectors become `NAME/SUB` keys (several vectors give several values).
 */
export function flattenRecord(record: AttributeRecord): Map<string, AttributeValue | AttributeValue[]> {
  const out = new Map<string, AttributeValue | AttributeValue[]>();
  forEachAttribute(record, (key, value) => {
    if (!out.has(key))
      out.set(key, Array.isArray(value) ? [...(value as readonly AttributeValue[])] : (value as AttributeValue));
    else {
      const had = out.get(key)!;
      out.set(key, [...(Array.isArray(had) ? had : [had]), ...(Array.isArray(value) ? value : [value])]);
    }
  });
  return out;
}

const upperCache = new Map<string, string>();

function upper(name: string): string {
  let u = upperCache.get(name);
  if (u === undefined) {
    u = name.toUpperCase();
    if (upperCache.size < 10000) upperCache.set(name, u);
  }
  return u;
}

/**
 * Calls `fn(KEY, value)` for each attribute of a record without building
 * anything: a scalar or a list of scalars under its upper-cased name, each
 * vector's sub-attributes under `NAME/SUB` (once per vector).
 */
export function forEachAttribute(
  record: AttributeRecord,
  fn: (key: string, value: AttributeValue | readonly AttributeValue[]) => void,
): void {
  for (const rawName in record) {
    const raw = record[rawName]!;
    const name = upper(rawName);
    if (typeof raw === 'string' || typeof raw === 'number') {
      fn(name, raw);
      continue;
    }
    if (!Array.isArray(raw)) {
      for (const sub in raw as Readonly<Record<string, AttributeValue>>) {
        fn(`${name}/${upper(sub)}`, (raw as Readonly<Record<string, AttributeValue>>)[sub]!);
      }
      continue;
    }
    const items = raw as readonly AttributeInput[];
    if (items.every((item) => typeof item === 'string' || typeof item === 'number')) {
      fn(name, items as readonly AttributeValue[]);
      continue;
    }
    for (const item of items) {
      if (typeof item === 'string' || typeof item === 'number') fn(name, item);
      else for (const sub in item) fn(`${name}/${upper(sub)}`, item[sub]!);
    }
  }
}
