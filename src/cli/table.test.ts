import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from './cli-error.js';
import { applyFilters, type Column, pickColumns, renderTable } from './table.js';

interface Row {
  id: number;
  name: string;
  stat: string;
}

const COLUMNS: Column<Row>[] = [
  { header: 'ID', cell: (r) => String(r.id), align: 'right' },
  { header: 'NAME', cell: (r) => r.name },
  { header: 'STAT', cell: (r) => r.stat },
];

const ROWS: Row[] = [
  { id: 7, name: 'web-0', stat: 'pend' },
  { id: 12, name: 'db', stat: 'runn' },
];

describe('renderTable', () => {
  it('aligns columns, right-aligns numbers and leaves no trailing blanks', () => {
    assert.equal(renderTable(COLUMNS, ROWS), ['ID NAME  STAT', ' 7 web-0 pend', '12 db    runn', ''].join('\n'));
  });

  it('omits the header on request and prints nothing for nothing', () => {
    assert.equal(renderTable(COLUMNS, ROWS, { header: false }), ' 7 web-0 pend\n12 db    runn\n');
    assert.equal(renderTable([COLUMNS[0]!], [ROWS[0]!], { header: false }), '7\n');
    assert.equal(renderTable(COLUMNS, [], { header: false }), '');
    assert.equal(renderTable(COLUMNS, []), 'ID NAME STAT\n');
  });

  it('keeps a row on one line when a cell has line breaks', () => {
    assert.equal(renderTable([COLUMNS[1]!], [{ id: 1, name: 'a\nb', stat: '' }], { header: false }), 'a b\n');
  });
});

describe('pickColumns and applyFilters', () => {
  it('picks columns by header in the given order', () => {
    assert.deepEqual(
      pickColumns(COLUMNS, 'stat,ID').map((c) => c.header),
      ['STAT', 'ID'],
    );
    assert.throws(() => pickColumns(COLUMNS, 'HOST'), UsageError);
  });

  it('filters on cell values', () => {
    assert.deepEqual(
      applyFilters(COLUMNS, ROWS, [{ column: 'STAT', op: '=', value: 'pend' }]).map((r) => r.id),
      [7],
    );
    assert.deepEqual(
      applyFilters(COLUMNS, ROWS, [{ column: 'NAME', op: '~', value: 'd' }]).map((r) => r.id),
      [12],
    );
    assert.deepEqual(
      applyFilters(COLUMNS, ROWS, [{ column: 'ID', op: '!=', value: '7' }]).map((r) => r.id),
      [12],
    );
    assert.throws(() => applyFilters(COLUMNS, ROWS, [{ column: 'X', op: '=', value: '' }]), UsageError);
  });
});
