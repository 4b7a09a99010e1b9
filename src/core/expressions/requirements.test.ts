import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OneError } from '../errors.js';
import { expectOneError } from '../template/testing/assert-error.js';
import type { BoolNode } from './ast.js';
import { type AttributeRecord, AttributeTable } from './attribute-table.js';
import { compileRequirements } from './compile.js';
import { parseRequirements } from './requirements-parser.js';

const HOST: AttributeRecord = {
  NAME: 'aquila04',
  HOSTNAME: 'aquila04.example.org',
  HYPERVISOR: 'kvm',
  FREE_CPU: 6000,
  CPU_USAGE: '200',
  MAX_CPU: 800,
  FREE_MEMORY: '8192000',
  LOAD: '2.5',
  RATIO: '0.75',
  NEG: '-3',
  CLUSTER_ID: '101',
  CLUSTERS: [{ ID: '100' }, { ID: '101' }],
  TAGS: ['ssd', 'gpu', 'edge-paris'],
  NOTE: 'not a number',
  EMPTY: '',
  PIN_POLICY: 'PINNED',
  PATH: 'a/b.c',
};

function run(text: string, record: AttributeRecord = HOST, vms: number[] = []): boolean {
  const table = AttributeTable.fromRecords([record]);
  for (const id of vms) table.addVm(0, id);
  return compileRequirements(text).evaluate(table, 0);
}

describe('SCHED_REQUIREMENTS: OpenNebula documented examples', () => {
  const cases: [string, boolean][] = [
    ['NAME = "aquila*"', true],
    ['NAME = "centaur*"', false],
    ['FREE_CPU > 60', true],
    ['FREE_CPU < 60', false],
    ['"CLUSTERS/ID" @> 101', true],
    ['"CLUSTERS/ID" @> 102', false],
    ['HYPERVISOR = kvm', true],
    ['HYPERVISOR = "kvm"', true],
    ['HYPERVISOR != "kvm"', false],
    ['(CLUSTER_ID = 100 | CLUSTER_ID = 101) & !(PIN_POLICY = PINNED)', false],
    ['(CLUSTER_ID = 100 | CLUSTER_ID = 101) & (PIN_POLICY = PINNED)', true],
    ['', true],
    ['   ', true],
  ];
  for (const [text, expected] of cases)
    it(`${JSON.stringify(text)} → ${expected}`, () => assert.equal(run(text), expected));

  it('(CURRENT_VMS != 5) & (CURRENT_VMS != 7)', () => {
    const text = '(CURRENT_VMS != 5) & (CURRENT_VMS != 7)';
    assert.equal(run(text, HOST, []), true, 'an empty host runs neither');
    assert.equal(run(text, HOST, [1, 2]), true);
    assert.equal(run(text, HOST, [5]), false);
    assert.equal(run(text, HOST, [3, 7]), false);
    assert.equal(run('CURRENT_VMS = 5', HOST, [4, 5]), true);
    assert.equal(run('CURRENT_VMS = 5', HOST, []), false);
  });
});

describe('SCHED_REQUIREMENTS: comparisons', () => {
  const cases: [string, boolean][] = [
    // numbers vs strings
    ['CPU_USAGE = 200', true],
    ['CPU_USAGE = "200"', true],
    ['CPU_USAGE = "2*"', true],
    ['CPU_USAGE > 199', true],
    ['CPU_USAGE > 200', false],
    ['FREE_CPU = 6000', true],
    ['FREE_CPU = "6000"', true],
    ['LOAD > 2.4', true],
    ['LOAD < 2.6', true],
    ['LOAD = 2.5', true],
    // an int literal reads the value as a C++ int: "2.5" reads 2
    ['LOAD = 2', true],
    ['LOAD > 2', false],
    ['RATIO = 0', true],
    ['RATIO > 0.5', true],
    ['NEG = -3', true],
    ['NEG < -2', true],
    ['NEG > -4', true],
    ['NEG = -3.0', true],
    // non-numeric text: every numeric comparison is false
    ['NOTE = 0', false],
    ['NOTE != 0', false],
    ['NOTE > -1', false],
    ['NOTE = "not a*"', true],
    // missing attribute: false, even for !=
    ['MISSING = 1', false],
    ['MISSING != 1', false],
    ['MISSING != "x"', false],
    ['MISSING > 0', false],
    ['MISSING @> 1', false],
    ['!(MISSING = 1)', true],
    // "" matches nothing
    ['EMPTY = ""', false],
    ['EMPTY != ""', false],
    ['NAME != ""', false],
    ['NAME @> ""', false],
    ['EMPTY = "*"', true],
    ['EMPTY = "?"', false],
    // != is the negated glob
    ['NAME != "aquila*"', false],
    ['NAME != "centaur*"', true],
    ['NAME ! = "centaur*"', true],
    // @> over multi-valued and single attributes
    ['TAGS @> gpu', true],
    ['TAGS @> "edge-*"', true],
    ['TAGS @> "cloud*"', false],
    ['TAGS = ssd', true],
    ['TAGS = gpu', false],
    ['CLUSTER_ID @> 101', true],
    ['NAME @> "aq*"', true],
    ['"CLUSTERS/ID" = 100', true],
    ['"clusters/id" @> 100', true],
    ['"/CLUSTERS/ID" @> 100', true],
    ['"CLUSTERS/ID" @> 101.0', true],
    // names are case-insensitive like template attribute names
    ['name = "aquila04"', true],
    // value case is kept
    ['NAME = "AQUILA04"', false],
    // globs
    ['NAME = "aquila0?"', true],
    ['NAME = "aquila[0-9][0-9]"', true],
    ['NAME = "aquila[!0]4"', false],
    ['NAME = "aquila[^1]4"', true],
    ['HOSTNAME = "*.example.org"', true],
    ['HOSTNAME = "*example*"', true],
    ['PATH = "a*c"', true],
    ['PATH = "a/b?c"', true],
    ['PATH = "a/b\\.c"', true],
    ['NAME = "[a]quila04"', true],
    ['NAME = "[[:alpha:]]quila[[:digit:]]4"', true],
  ];
  for (const [text, expected] of cases) it(`${text} → ${expected}`, () => assert.equal(run(text), expected));
});

describe('SCHED_REQUIREMENTS: & | ! share one left-associative level', () => {
  const flags = (a: number, b: number, c: number): AttributeRecord => ({ A: String(a), B: String(b), C: String(c) });

  it('A = 1 | B = 2 & C = 3 parses as (A = 1 | B = 2) & C = 3', () => {
    const ast = parseRequirements('A = 1 | B = 2 & C = 3');
    assert.equal(ast.kind, 'and');
    const items: BoolNode[] = ast.kind === 'and' ? ast.items : [];
    assert.equal(items[0]?.kind, 'or');
    assert.equal(items[1]?.kind, 'compare');
    // With C-style precedence A=1 alone would make it true; here C must hold too.
    assert.equal(run('A = 1 | B = 2 & C = 3', flags(1, 0, 0)), false);
    assert.equal(run('A = 1 | B = 2 & C = 3', flags(1, 0, 3)), true);
    assert.equal(run('A = 1 | (B = 2 & C = 3)', flags(1, 0, 0)), true);
  });

  it('A = 1 & B = 2 | C = 3 parses as (A = 1 & B = 2) | C = 3', () => {
    assert.equal(run('A = 1 & B = 2 | C = 3', flags(0, 0, 3)), true);
    assert.equal(run('A = 1 & (B = 2 | C = 3)', flags(0, 0, 3)), false);
  });

  it('! applies to the next operand only', () => {
    assert.equal(run('!A = 1 & B = 2', flags(0, 2, 0)), true);
    assert.equal(run('!A = 1 & B = 2', flags(1, 2, 0)), false);
    assert.equal(run('!(A = 1 & B = 2)', flags(1, 0, 0)), true);
    assert.equal(run('!!A = 1', flags(1, 0, 0)), true);
    assert.equal(run('! ! ! A = 1', flags(1, 0, 0)), false);
  });

  it('exhaustively matches a left fold over 3-term expressions', () => {
    const ops = ['&', '|'] as const;
    for (const o1 of ops) {
      for (const o2 of ops) {
        for (let bits = 0; bits < 8; bits++) {
          const a = bits & 1;
          const b = (bits >> 1) & 1;
          const c = (bits >> 2) & 1;
          const apply = (x: boolean, op: string, y: boolean) => (op === '&' ? x && y : x || y);
          const expected = apply(apply(a === 1, o1, b === 1), o2, c === 1);
          assert.equal(run(`A = 1 ${o1} B = 1 ${o2} C = 1`, flags(a, b, c)), expected, `${bits} ${o1} ${o2}`);
        }
      }
    }
  });

  it('long chains stay shallow (VM-group style requirements)', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `(CURRENT_VMS != ${i})`).join(' & ');
    assert.equal(run(text, HOST, [9999]), true);
    assert.equal(run(text, HOST, [4321]), false);
  });
});

describe('SCHED_REQUIREMENTS: syntax errors carry a column', () => {
  const cases: [string, number, string, RegExp][] = [
    ['NAME =', 7, 'value', /column 7: expected a value after =, found end of input/],
    ['FREE_CPU > "abc"', 12, 'number', /expected a number after >, found "abc"/],
    ['FREE_CPU >', 11, 'number', /expected a number after >/],
    ['NAME "x"', 6, 'operator', /expected an operator \(=, !=, >, <, @>\) after NAME, found "x"/],
    ['NAME = x y', 10, '& | end', /expected &, \| or the end of the expression, found 'y'/],
    ['(A = 1', 7, '& | )', /expected &, \| or \) to close \(, found end of input/],
    ['A = 1)', 6, '& | end', /found '\)'/],
    ['A = 1 &', 8, 'attribute', /expected an attribute name, ! or \(, found end of input/],
    ['& A = 1', 1, 'attribute', /found '&'/],
    ['A = "open', 5, 'value', /found an unterminated string/],
    ['A = 1.', 6, '& | end', /found '\.'/],
    ['A * 2', 3, 'operator', /found '\*'/],
    ['A @ 2', 5, '@>', /expected @>/],
    ['A ! 2', 5, '!=', /expected !=/],
    ['CURRENT_VMS > 5', 1, 'CURRENT_VMS = id', /CURRENT_VMS takes only = or != with a VM id/],
    ['CURRENT_VMS = "5"', 1, 'CURRENT_VMS = id', /CURRENT_VMS takes only/],
    ['CURRENT_VMS @> 5', 1, 'CURRENT_VMS = id', /CURRENT_VMS takes only/],
    ['A = 5x', 6, '& | end', /found 'x'/],
    ['_A = 1', 1, 'attribute', /found '_'/],
    ['A = \u0001', 5, 'value', /found U\+0001/],
  ];
  for (const [text, column, expected, message] of cases) {
    it(JSON.stringify(text), () => {
      const err = expectOneError(() => compileRequirements(text), 'E_EXPRESSION_SYNTAX');
      assert.equal(err.details.column, column);
      assert.equal(err.details.expected, expected);
      assert.equal(err.details.attribute, 'SCHED_REQUIREMENTS');
      assert.match(err.message, /^SCHED_REQUIREMENTS: /);
      assert.match(err.message, message);
      assert.equal(err.details.line, undefined);
    });
  }

  it('reports line and column for multi-line expressions', () => {
    const err = expectOneError(
      () => compileRequirements('A = 1 &\n  B >', 'NIC[0]/SCHED_REQUIREMENTS'),
      'E_EXPRESSION_SYNTAX',
    );
    assert.equal(err.details.line, 2);
    assert.equal(err.details.column, 6);
    assert.match(err.message, /^NIC\[0\]\/SCHED_REQUIREMENTS: line 2, column 6: /);
  });

  it('line breaks are blanks', () => {
    assert.equal(run('NAME = "aquila*"\n&\r\nFREE_CPU > 1'), true);
  });

  it('refuses nesting deeper than the limit with a column instead of overflowing the stack', () => {
    const err = expectOneError(
      () => compileRequirements(`${'('.repeat(10000)}A = 1${')'.repeat(10000)}`),
      'E_EXPRESSION_SYNTAX',
    );
    assert.ok(err instanceof OneError);
    assert.equal(err.details.column, 257);
    expectOneError(() => compileRequirements(`${'!'.repeat(10000)}A = 1`), 'E_EXPRESSION_SYNTAX');
    assert.equal(run(`${'('.repeat(200)}NAME = aquila04${')'.repeat(200)}`), true);
  });
});

describe('SCHED_REQUIREMENTS: linking', () => {
  it('one compiled expression evaluates many rows and sees later updates', () => {
    const table = AttributeTable.fromRecords([{ FREE_CPU: 10 }, { FREE_CPU: 100 }, { NAME: 'x' }]);
    const linked = compileRequirements('FREE_CPU > 50').link(table);
    assert.deepEqual([0, 1, 2].map(linked.test), [false, true, false]);
    table.setNumber(0, table.slotOf('FREE_CPU'), 70);
    table.set(2, table.slotOf('FREE_CPU'), '90');
    assert.deepEqual([0, 1, 2].map(linked.test), [true, true, true]);
    assert.equal(linked.dynamic, false);
    table.markDynamic(table.slotOf('FREE_CPU'));
    assert.equal(compileRequirements('FREE_CPU > 50 | NAME = x').link(table).dynamic, true);
    assert.equal(compileRequirements('NAME = x').link(table).dynamic, false);
    assert.equal(compileRequirements('CURRENT_VMS != 3').link(table).dynamic, true);
  });

  it('a multi-valued value set later is seen by @>', () => {
    const table = AttributeTable.fromRecords([{ T: 'a' }]);
    const linked = compileRequirements('T @> b').link(table);
    assert.equal(linked.test(0), false);
    table.set(0, table.slotOf('T'), ['a', 'b']);
    assert.equal(linked.test(0), true);
  });
});
