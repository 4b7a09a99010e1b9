import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VM_TEMPLATE_FIXTURE } from './fixtures/vm-template.js';
import { parseNative } from './native-parser.js';
import { serializeNative } from './native-serializer.js';
import { expectOneError } from './testing/assert-error.js';
import type { Template } from './types.js';

describe('serializeNative', () => {
  it('writes canonical text: quoted values, multi-line vectors, repeated names', () => {
    const t: Template = {
      NAME: 'vm',
      DISK: [
        { IMAGE_ID: '3', TARGET: 'vda' },
        { TYPE: 'swap', SIZE: '512' },
      ],
      EMPTY: '',
      V: {},
    };
    assert.equal(
      serializeNative(t),
      'NAME = "vm"\n' +
        'DISK = [\n  IMAGE_ID = "3",\n  TARGET = "vda" ]\n' +
        'DISK = [\n  TYPE = "swap",\n  SIZE = "512" ]\n' +
        'EMPTY = ""\n' +
        'V = [ ]\n',
    );
  });

  it('escapes double quotes and leaves other backslashes alone', () => {
    assert.equal(serializeNative({ A: 'say "hi" \\n \\"' }), 'A = "say \\"hi\\" \\n \\\\""\n');
    assert.equal(parseNative(serializeNative({ A: 'say "hi" \\n \\"' })).template.A, 'say "hi" \\n \\"');
  });

  it('writes a value ending in a backslash as a bare token', () => {
    assert.equal(serializeNative({ P: 'C:\\dir\\' }), 'P = C:\\dir\\\n');
    assert.deepEqual(parseNative(serializeNative({ P: 'C:\\dir\\', V: { X: 'a\\' } })).template, {
      P: 'C:\\dir\\',
      V: { X: 'a\\' },
    });
  });

  it('rejects a value that ends in a backslash and needs quoting', () => {
    const err = expectOneError(() => serializeNative({ V: { X: 'a b\\' } }), 'E_TEMPLATE_INVALID');
    assert.equal(err.details.attribute, 'V[0]/X');
    expectOneError(() => serializeNative({ A: '"x\\' }), 'E_TEMPLATE_INVALID');
  });

  it('rejects non-canonical templates', () => {
    const cases: [unknown, string][] = [
      [{ name: 'x' }, 'name'],
      [{ A: [] }, 'A'],
      [{ A: ['only'] }, 'A'],
      [{ A: 'x]]>y' }, 'A[0]'],
      [{ A: { 'B-C': 'x' } }, 'A[0]/B-C'],
      [{ A: { B: { C: 'x' } } }, 'A[0]/B'],
      [{ A: 5 }, 'A[0]'],
    ];
    for (const [t, attribute] of cases) {
      const err = expectOneError(() => serializeNative(t as Template), 'E_TEMPLATE_INVALID');
      assert.equal(err.details.attribute, attribute, JSON.stringify(t));
    }
  });

  it('round-trips the fixture', () => {
    const { template } = parseNative(VM_TEMPLATE_FIXTURE);
    assert.deepEqual(parseNative(serializeNative(template)).template, template);
  });
});
