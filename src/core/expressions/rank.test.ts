import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectOneError } from '../template/testing/assert-error.js';
import { type AttributeRecord, AttributeTable } from './attribute-table.js';
import { compileRank, toRank } from './compile.js';

const HOST: AttributeRecord = { FREE_CPU: 750, RUNNING_VMS: '3', LOAD: '2.75', NOTE: 'text', MEM: '1e3' };

function rank(text: string, record: AttributeRecord = HOST): number {
  return compileRank(text).evaluate(AttributeTable.fromRecords([record]), 0);
}

describe('SCHED_RANK arithmetic', () => {
  const cases: [string, number][] = [
    ['', 0],
    ['FREE_CPU', 750],
    ['-RUNNING_VMS', -3],
    ['RUNNING_VMS', 3],
    ['- RUNNING_VMS', -3],
    ['FREE_CPU - 50', 700],
    ['FREE_CPU -50', 700],
    ['FREE_CPU-50', 700],
    ['FREE_CPU * 2 + RUNNING_VMS', 1503],
    ['FREE_CPU + RUNNING_VMS * 2', 756],
    ['(FREE_CPU + RUNNING_VMS) * 2', 1506],
    ['FREE_CPU / 2 / 5', 75],
    ['10 - 2 - 3', 5],
    ['2 * -3', -6],
    ['2 - -3', 5],
    ['- - 4', 4],
    ['-2 * 3 + 1', -5],
    // float arithmetic, integer result truncated toward zero
    ['LOAD', 2],
    ['-LOAD', -2],
    ['LOAD * 10', 27],
    ['1.5 + 1.6', 3],
    ['7 / 2', 3],
    ['-7 / 2', -3],
    // missing or non-numeric attributes read 0
    ['MISSING', 0],
    ['MISSING + 5', 5],
    ['NOTE + 1', 1],
    ['""', 0],
    ['"FREE_CPU" + 1', 751],
    ['MEM', 1000],
    // non-finite results rank 0
    ['FREE_CPU / 0', 0],
    ['0 / 0', 0],
    ['free_cpu', 750],
  ];
  for (const [text, expected] of cases)
    it(`${JSON.stringify(text)} → ${expected}`, () => assert.equal(rank(text), expected));

  it('truncates like static_cast<int> and clamps to the int range', () => {
    assert.equal(toRank(2.9), 2);
    assert.equal(toRank(-2.9), -2);
    assert.equal(toRank(1e12), 2147483647);
    assert.equal(toRank(-1e12), -2147483648);
    assert.equal(toRank(Number.NaN), 0);
  });

  it('sees dynamic updates through the link', () => {
    const table = AttributeTable.fromRecords([{ RUNNING_VMS: 1 }, { RUNNING_VMS: 4 }]);
    const slot = table.slotOf('RUNNING_VMS');
    table.markDynamic(slot);
    const linked = compileRank('-RUNNING_VMS').link(table);
    assert.equal(linked.dynamic, true);
    assert.deepEqual([linked.score(0), linked.score(1)], [-1, -4]);
    table.setNumber(0, slot, 9);
    assert.equal(linked.score(0), -9);
  });
});

describe('SCHED_RANK syntax errors', () => {
  const cases: [string, number, RegExp][] = [
    ['FREE_CPU +', 11, /expected a number, an attribute name, - or \(, found end of input/],
    [
      'FREE_CPU RUNNING_VMS',
      10,
      /expected an operator \(\+, -, \*, \/\) or the end of the expression, found 'RUNNING_VMS'/,
    ],
    ['(FREE_CPU', 10, /expected an operator or \) to close \(/],
    ['FREE_CPU ^ 2', 10, /found '\^'/],
    ['FREE_CPU = 2', 10, /found '='/],
    ['* 2', 1, /found '\*'/],
    ['"open', 1, /unterminated/],
  ];
  for (const [text, column, message] of cases) {
    it(JSON.stringify(text), () => {
      const err = expectOneError(() => compileRank(text), 'E_EXPRESSION_SYNTAX');
      assert.equal(err.details.column, column);
      assert.match(err.message, /^SCHED_RANK: column \d+: /);
      assert.match(err.message, message);
    });
  }
});
