import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OneError } from '../errors.js';
import { Prng } from '../template/testing/prng.js';
import { AttributeTable } from './attribute-table.js';
import { compileRank, compileRequirements } from './compile.js';

/** No single input may take this long: a hang or a quadratic blow-up fails the test. */
const PER_INPUT_MS = 100;

const PIECES = [
  'A',
  'NAME',
  'FREE_CPU',
  'CURRENT_VMS',
  '"CLUSTERS/ID"',
  '"x*"',
  '""',
  '"',
  'kvm',
  '=',
  '!=',
  '!',
  '>',
  '<',
  '@>',
  '@',
  '&',
  '|',
  '(',
  ')',
  '+',
  '-',
  '*',
  '/',
  '^',
  '0',
  '1',
  '-5',
  '2.5',
  '1.',
  '.5',
  ' ',
  '  ',
  '\t',
  '\n',
  '$',
  '#',
  '_',
  'é',
  '\u0000',
  '[',
  ']',
];

function randomExpression(rng: Prng): string {
  let s = '';
  for (let n = rng.int(0, 24); n > 0; n--) s += rng.pick(PIECES);
  return s;
}

const table = AttributeTable.fromRecords([
  { NAME: 'x1', FREE_CPU: 5, A: '1', CLUSTERS: [{ ID: '1' }, { ID: '2' }] },
  { NAME: 'y', A: 'text' },
]);
table.addVm(0, 5);

function check(text: string, compile: (t: string) => { evaluate: (t: AttributeTable, r: number) => unknown }): void {
  const started = performance.now();
  try {
    const compiled = compile(text);
    compiled.evaluate(table, 0);
    compiled.evaluate(table, 1);
  } catch (err) {
    assert.ok(err instanceof OneError, `${JSON.stringify(text)}: not a OneError: ${String(err)}`);
    assert.equal(err.code, 'E_EXPRESSION_SYNTAX');
    const column = err.details.column;
    assert.ok(
      typeof column === 'number' && column >= 1 && column <= text.length + 1,
      `${JSON.stringify(text)}: column ${String(column)}`,
    );
    assert.equal(typeof err.details.expected, 'string');
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < PER_INPUT_MS, `${JSON.stringify(text)} took ${elapsed.toFixed(1)} ms`);
}

describe('expression fuzzing', () => {
  it('random requirement expressions compile or fail with a column, never crash or hang', () => {
    const rng = new Prng(0x5eed);
    for (let i = 0; i < 20000; i++) check(randomExpression(rng), (t) => compileRequirements(t));
  });

  it('random rank expressions compile or fail with a column, never crash or hang', () => {
    const rng = new Prng(0xbeef);
    for (let i = 0; i < 20000; i++) check(randomExpression(rng), (t) => compileRank(t));
  });

  it('random characters and huge inputs are handled', () => {
    const rng = new Prng(7);
    for (let i = 0; i < 3000; i++) {
      let s = '';
      for (let n = rng.int(0, 40); n > 0; n--) s += String.fromCharCode(rng.int(0, 0x7f));
      check(s, (t) => compileRequirements(t));
      check(s, (t) => compileRank(t));
    }
    check('('.repeat(100000), (t) => compileRequirements(t));
    check('-'.repeat(100000), (t) => compileRank(t));
    check(`${'A = 1 & B = 2 | '.repeat(1000)}C = 3`, (t) => compileRequirements(t));
    check(`${'A + B * '.repeat(100)}1`, (t) => compileRank(t));
  });
});
