import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OneError } from '../errors.js';
import { VM_TEMPLATE_FIXTURE } from './fixtures/vm-template.js';
import { serializeTemplate } from './format.js';
import { parseJson } from './json-parser.js';
import { parseNative } from './native-parser.js';
import { serializeNative } from './native-serializer.js';
import { Prng } from './testing/prng.js';
import type { ParsedTemplate } from './types.js';
import { parseYaml } from './yaml-parser.js';

/**
 * No single input may take this long: a hang or a quadratic blow-up fails the
 * test. Generous, because CI machines are shared and the first inputs pay for
 * JIT warm-up; real blow-ups on these sizes take seconds to minutes.
 */
const PER_INPUT_MS = 2_000;

const SYNTAX = 'AZaz09_ =[],"\\#\t\n\r\n:{}-|$\'';
const EXOTIC = ['\u0000', '\u0001', '\u007f', '\u00a0', '\ufeff', 'é', '中', '😀', '\ud800', ']]>', '\\"', '\n#'];

function randomText(rng: Prng, maxLength: number): string {
  let s = '';
  const length = rng.int(0, maxLength);
  while (s.length < length) {
    const roll = rng.next();
    if (roll < 0.75) s += SYNTAX[rng.int(0, SYNTAX.length - 1)];
    else if (roll < 0.9) s += String.fromCharCode(rng.int(0, 0x7f));
    else s += rng.pick(EXOTIC);
  }
  return s;
}

function mutate(rng: Prng, base: string): string {
  let s = base;
  for (let n = rng.int(1, 4); n > 0; n--) {
    const at = rng.int(0, s.length);
    const op = rng.int(0, 4);
    if (op === 0) s = s.slice(0, at) + s.slice(Math.min(s.length, at + rng.int(1, 40)));
    else if (op === 1) s = s.slice(0, at) + randomText(rng, 6) + s.slice(at);
    else if (op === 2) s = s.slice(0, at) + rng.pick([...SYNTAX, ...EXOTIC]) + s.slice(at + 1);
    else if (op === 3) s = s.slice(0, at);
    else s = s.slice(0, at) + s.slice(rng.int(0, s.length), rng.int(0, s.length)) + s.slice(at);
  }
  return s;
}

/** Runs one input: it must parse, or fail with E_TEMPLATE_SYNTAX at a position inside the text. */
function check(parse: (text: string) => ParsedTemplate, text: string, label: string): ParsedTemplate | undefined {
  const started = performance.now();
  let result: ParsedTemplate | undefined;
  try {
    result = parse(text);
  } catch (err) {
    const where = `${label}: ${JSON.stringify(text.slice(0, 300))}`;
    assert.ok(err instanceof OneError, `${where}: threw ${String(err)}`);
    assert.equal(err.code, 'E_TEMPLATE_SYNTAX', `${where}: ${err.message}`);
    const { line, column } = err.details as { line: unknown; column: unknown };
    assert.ok(Number.isInteger(line) && (line as number) >= 1, `${where}: line ${String(line)}`);
    assert.ok(Number.isInteger(column) && (column as number) >= 1, `${where}: column ${String(column)}`);
    const lines = text.split('\n');
    assert.ok((line as number) <= lines.length, `${where}: line ${line} beyond the text`);
    assert.ok(
      (column as number) <= lines[(line as number) - 1]!.length + 1,
      `${where}: column ${column} beyond the line`,
    );
    assert.ok(err.message.startsWith(`line ${line}, column ${column}: `), `${where}: ${err.message}`);
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < PER_INPUT_MS, `${label}: took ${elapsed.toFixed(1)} ms`);
  return result;
}

describe('fuzz', () => {
  it('native: 24,000 random and mutated inputs parse or fail with a located E_TEMPLATE_SYNTAX', () => {
    const rng = new Prng(0xc0ffee);
    let parsed = 0;
    for (let i = 0; i < 12_000; i++) {
      const result = check(parseNative, randomText(rng, 120), `random #${i}`);
      if (result !== undefined) {
        parsed++;
        // Whatever parses must survive a round trip, or be refused by the serializer.
        let text: string | undefined;
        try {
          text = serializeNative(result.template);
        } catch (err) {
          assert.ok(err instanceof OneError && err.code === 'E_TEMPLATE_INVALID', String(err));
        }
        if (text !== undefined) assert.deepEqual(parseNative(text).template, result.template);
      }
    }
    for (let i = 0; i < 12_000; i++) {
      if (check(parseNative, mutate(rng, VM_TEMPLATE_FIXTURE), `mutation #${i}`) !== undefined) parsed++;
    }
    assert.ok(parsed > 500, `only ${parsed} inputs parsed: the fuzzer is not reaching the success paths`);
  });

  it('YAML and JSON: 2,800 random and mutated inputs parse or fail with a located E_TEMPLATE_SYNTAX', () => {
    const rng = new Prng(0xbeef);
    const { template } = parseNative(VM_TEMPLATE_FIXTURE);
    const small = { NAME: 'x', DISK: [{ IMAGE_ID: '1' }, { TYPE: 'swap', SIZE: '2' }], CONTEXT: { A: 'b\nc' } };
    for (const [format, parse] of [
      ['yaml', parseYaml],
      ['json', parseJson],
    ] as const) {
      const bases = [serializeTemplate(template, format), serializeTemplate(small, format)];
      for (let i = 0; i < 700; i++) check(parse, randomText(rng, 60), `${format} random #${i}`);
      for (let i = 0; i < 700; i++) {
        check(parse, mutate(rng, bases[i % 10 === 0 ? 0 : 1]!), `${format} mutation #${i}`);
      }
    }
  });
});
