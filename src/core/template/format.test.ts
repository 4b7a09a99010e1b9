import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VM_TEMPLATE_FIXTURE } from './fixtures/vm-template.js';
import { detectFormat, parseTemplate, serializeTemplate } from './format.js';
import { locateJsonError, parseJson } from './json-parser.js';
import { parseNative } from './native-parser.js';
import { expectOneError } from './testing/assert-error.js';
import { parseYaml } from './yaml-parser.js';

function syntaxAt(fn: () => unknown): [number, number, string] {
  const err = expectOneError(fn, 'E_TEMPLATE_SYNTAX');
  return [err.details.line as number, err.details.column as number, err.message];
}

describe('detectFormat', () => {
  it('picks JSON when the first non-blank character is {', () => {
    assert.equal(detectFormat('  \n {"A": 1}'), 'json');
    assert.equal(detectFormat('\ufeff{"A": 1}'), 'json');
  });

  it('picks native when the first significant line is NAME =', () => {
    assert.equal(detectFormat('# c: yes\n\nMEMORY = 512\nA: b'), 'native');
    assert.equal(detectFormat('memory=512'), 'native');
  });

  it('picks YAML for key: lines, lists, document markers and directives', () => {
    for (const text of [
      'NAME: x',
      '# c\n  "NAME": x',
      "'A': 1",
      'A:\n  - 1',
      '---\nA: 1',
      '%YAML 1.2\n---\nA: 1',
      '- a',
    ]) {
      assert.equal(detectFormat(text), 'yaml', text);
    }
  });

  it('falls back to native, so broken native text gets native errors', () => {
    assert.equal(detectFormat(''), 'native');
    assert.equal(detectFormat('DISK [ IMAGE_ID = 1 ]'), 'native');
    assert.equal(detectFormat('A:b'), 'native');
    assert.match(expectOneError(() => parseTemplate('MEMORY 512'), 'E_TEMPLATE_SYNTAX').message, /expected '='/);
  });
});

describe('parseYaml', () => {
  it('reads the canonical shape: scalars, vectors, lists of repeated values', () => {
    const text = [
      'name: web',
      'MEMORY: 1024',
      'CPU: 0.50',
      'ENABLED: true',
      'EMPTY:',
      'NOTHING: ~',
      'DISK:',
      '  - { image_id: 3 }',
      '  - TYPE: swap',
      '    SIZE: 1024',
      'CONTEXT: { NETWORK: "YES", SCRIPT: "a\\nb" }',
      'ONE: [only]',
      'NONE: []',
    ].join('\n');
    const { template, positions, format } = parseYaml(text);
    assert.equal(format, 'yaml');
    assert.deepEqual(template, {
      NAME: 'web',
      MEMORY: '1024',
      CPU: '0.50',
      ENABLED: 'true',
      EMPTY: '',
      NOTHING: '',
      DISK: [{ IMAGE_ID: '3' }, { TYPE: 'swap', SIZE: '1024' }],
      CONTEXT: { NETWORK: 'YES', SCRIPT: 'a\nb' },
      ONE: 'only',
    });
    assert.deepEqual(positions.get('NAME[0]'), { line: 1, column: 1 });
    assert.deepEqual(positions.get('DISK[0]'), { line: 8, column: 5 });
    assert.deepEqual(positions.get('DISK[1]/SIZE'), { line: 10, column: 5 });
    assert.deepEqual(positions.get('CONTEXT[0]/SCRIPT'), { line: 11, column: 28 });
  });

  it('resolves aliases, up to 100 uses', () => {
    assert.deepEqual(parseYaml('A: &x { B: 1 }\nC: *x').template, { A: { B: '1' }, C: { B: '1' } });
    const bomb = `V: &v { ${Array.from({ length: 50 }, (_, i) => `K${i}: x`).join(', ')} }\nL: [${'*v, '.repeat(200)}*v]`;
    assert.match(syntaxAt(() => parseYaml(bomb))[2], /more than 100 aliases/);
  });

  it('reports YAML syntax errors with line and column', () => {
    const [line, column, message] = syntaxAt(() => parseYaml('A: 1\nB: [1, 2\nC: 3'));
    assert.ok(line >= 2, message);
    assert.ok(column >= 1);
    assert.match(message, /^line \d+, column \d+: invalid YAML: /);
  });

  it('rejects nesting deeper than one level at the offending node', () => {
    const [line, column, message] = syntaxAt(() => parseYaml('DISK:\n  IMAGE:\n    ID: 3'));
    assert.deepEqual([line, column], [3, 5]);
    assert.match(message, /DISK\/IMAGE: vectors hold only plain values/);
    assert.deepEqual(syntaxAt(() => parseYaml('A:\n  - [1, 2]')).slice(0, 2), [2, 5]);
  });

  it('rejects non-mapping documents, bad names and case-insensitive duplicates', () => {
    assert.match(syntaxAt(() => parseYaml('- a\n- b'))[2], /must be a mapping/);
    assert.deepEqual(syntaxAt(() => parseYaml('A: 1\nBAD-NAME: 2')).slice(0, 2), [2, 1]);
    assert.match(syntaxAt(() => parseYaml('disk: 1\nDISK: 2'))[2], /line 2, column 1: duplicate attribute DISK/);
    assert.match(syntaxAt(() => parseYaml('V: { a: 1, A: 2 }'))[2], /duplicate sub-attribute V\/A/);
    assert.match(syntaxAt(() => parseYaml('RAW: "<x>]]></x>"'))[2], /contains '\]\]>'/);
  });

  it('returns an empty template for an empty document', () => {
    assert.deepEqual(parseYaml('').template, {});
    assert.deepEqual(parseYaml('# nothing\n').template, {});
  });
});

describe('parseJson', () => {
  it('reads the canonical JSON shape with positions', () => {
    const text =
      '{\n  "NAME": "web",\n  "memory": 1024,\n  "DISK": [{"IMAGE_ID": "3"}, {"IMAGE": "x"}],\n  "CPU": 1.0\n}';
    const { template, positions, format } = parseJson(text);
    assert.equal(format, 'json');
    assert.deepEqual(template, { NAME: 'web', MEMORY: '1024', DISK: [{ IMAGE_ID: '3' }, { IMAGE: 'x' }], CPU: '1.0' });
    assert.deepEqual(positions.get('MEMORY[0]'), { line: 3, column: 3 });
    assert.deepEqual(positions.get('DISK[1]/IMAGE'), { line: 4, column: 32 });
  });

  it('keeps JSON string escapes exact', () => {
    const value = 'tab\there "q" \\ / é 😀 \u0001';
    assert.equal(parseJson(JSON.stringify({ A: value })).template.A, value);
  });

  it('locates JSON syntax errors from the offset of the first error', () => {
    assert.deepEqual(syntaxAt(() => parseJson('{\n  "A": 1,\n  "B": }')).slice(0, 2), [3, 8]);
    assert.deepEqual(syntaxAt(() => parseJson('{"A": 1')).slice(0, 2), [1, 8]);
    assert.deepEqual(syntaxAt(() => parseJson('{"A": 1} x')).slice(0, 2), [1, 10]);
    assert.deepEqual(syntaxAt(() => parseJson('{"A": "\\q"}')).slice(0, 2), [1, 9]);
    assert.equal(
      syntaxAt(() => parseJson("{'A': 1}"))[2],
      "line 1, column 2: invalid JSON: expected a quoted key, found '''",
    );
  });

  it('rejects shape errors and duplicate keys with positions', () => {
    assert.deepEqual(syntaxAt(() => parseJson('{"A": {"B": {"C": 1}}}')).slice(0, 2), [1, 13]);
    assert.deepEqual(syntaxAt(() => parseJson('["A"]')).slice(0, 2), [1, 1]);
    assert.match(
      syntaxAt(() => parseJson('{"A": 1, "A": 2}'))[2],
      /line 1, column 10: invalid JSON: Map keys must be unique/,
    );
  });

  it('locateJsonError agrees with JSON.parse on validity', () => {
    for (const text of ['{}', '[1, -2.5e3, true, null, "\\u00e9"]', ' "x" ', '{"a":{"b":[]}}']) {
      assert.equal(locateJsonError(text), undefined, text);
    }
    for (const text of ['', '{', '[1,]', '01', '"\n"', 'tru', '{"a" 1}', '-', '1.']) {
      assert.notEqual(locateJsonError(text), undefined, text);
    }
  });
});

describe('parseTemplate / serializeTemplate', () => {
  it('auto-detects each format and yields the same template for the fixture', () => {
    const native = parseNative(VM_TEMPLATE_FIXTURE).template;
    for (const format of ['native', 'yaml', 'json'] as const) {
      const text = serializeTemplate(native, format);
      const parsed = parseTemplate(text);
      assert.equal(parsed.format, format);
      assert.deepEqual(parsed.template, native);
    }
  });

  it('honours an explicit format', () => {
    assert.equal(parseTemplate('A: 1', 'yaml').format, 'yaml');
    expectOneError(() => parseTemplate('A: 1', 'native'), 'E_TEMPLATE_SYNTAX');
    expectOneError(() => parseTemplate('A = 1', 'json'), 'E_TEMPLATE_SYNTAX');
  });

  it('writes multi-line values as YAML literal blocks when that is exact', () => {
    const yaml = serializeTemplate({ CONTEXT: { START_SCRIPT: '#!/bin/sh\necho hi\n' } }, 'yaml');
    assert.match(yaml, /START_SCRIPT: \|\n/);
    const edgy = serializeTemplate({ A: '  \nx' }, 'yaml');
    assert.equal(parseYaml(edgy).template.A, '  \nx');
  });

  it('refuses non-canonical templates in every format', () => {
    for (const format of ['native', 'yaml', 'json'] as const) {
      expectOneError(() => serializeTemplate({ A: ['x'] }, format), 'E_TEMPLATE_INVALID');
      expectOneError(() => serializeTemplate({ a: 'x' }, format), 'E_TEMPLATE_INVALID');
    }
  });
});
