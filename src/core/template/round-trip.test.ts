import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OneError } from '../errors.js';
import { parseTemplate, serializeTemplate } from './format.js';
import { isBareToken } from './native-chars.js';
import { parseNative } from './native-parser.js';
import { serializeNative } from './native-serializer.js';
import { randomString, randomTemplate } from './testing/generate.js';
import { Prng } from './testing/prng.js';
import type { Template, TemplateFormat } from './types.js';

/** Independent statement of which strings native syntax can hold (see serializeNative). */
function nativeRepresentable(value: string): boolean {
  if (value.includes(']]>')) return false;
  return !value.endsWith('\\') || isBareToken(value);
}

const CASES = Number(process.env.ROUND_TRIP_CASES ?? 500);

function allValues(t: Template): string[] {
  return Object.values(t)
    .flatMap((v) => (Array.isArray(v) ? v : [v]))
    .flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v)));
}

describe('round trip: parse(serialize(t)) deep-equals t', () => {
  it('native, 3,000 random templates', () => {
    const rng = new Prng(20240611);
    let roundTripped = 0;
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const t = randomTemplate(rng);
      const representable = allValues(t).every(nativeRepresentable);
      let text: string;
      try {
        text = serializeNative(t);
      } catch (err) {
        assert.ok(err instanceof OneError && err.code === 'E_TEMPLATE_INVALID', `case ${i}: ${String(err)}`);
        assert.ok(!representable, `case ${i}: rejected a representable template ${JSON.stringify(t)}`);
        rejected++;
        continue;
      }
      assert.ok(representable, `case ${i}: accepted an unrepresentable template ${JSON.stringify(t)}`);
      assert.deepEqual(parseNative(text).template, t, `case ${i}: ${JSON.stringify(text)}`);
      roundTripped++;
    }
    assert.ok(roundTripped >= 2000, `only ${roundTripped} round trips`);
    assert.ok(rejected > 0, 'the generator should also produce unrepresentable values');
  });

  it('native, values that contain ]]> are rejected rather than written', () => {
    const rng = new Prng(7);
    for (let i = 0; i < 200; i++) {
      const value = `${randomString(rng)}]]>${randomString(rng)}`;
      assert.throws(
        () => serializeNative({ A: value }),
        (err: unknown) => err instanceof OneError,
      );
    }
  });

  for (const format of ['yaml', 'json'] as TemplateFormat[]) {
    it(`${format}, 500 random templates`, () => {
      const rng = new Prng(format === 'yaml' ? 11 : 13);
      for (let i = 0; i < CASES; i++) {
        const t = randomTemplate(rng, (r) => randomString(r).replaceAll(']]>', ']>'));
        const text = serializeTemplate(t, format);
        const parsed = parseTemplate(text, 'auto');
        // An empty template is `{}` in both formats, which detection reads as JSON.
        const expected = Object.keys(t).length === 0 ? 'json' : format;
        assert.equal(parsed.format, expected, `case ${i}: detected ${parsed.format} for ${JSON.stringify(text)}`);
        assert.deepEqual(parsed.template, t, `case ${i}: ${JSON.stringify(text)}`);
      }
    });
  }

  it('native text that parses survives serialize → parse unchanged', () => {
    const rng = new Prng(99);
    const pieces = [
      'A = 1\n',
      'B = "x y"\n',
      'C = [ D = "e", F = g ]\n',
      'H =\n',
      'A = "\\"q\\""\n',
      'P = a\\\n',
      '# c\n',
    ];
    for (let i = 0; i < 500; i++) {
      let text = '';
      for (let j = rng.int(0, 8); j > 0; j--) text += rng.pick(pieces);
      const first = parseNative(text).template;
      assert.deepEqual(parseNative(serializeNative(first)).template, first, JSON.stringify(text));
    }
  });
});
