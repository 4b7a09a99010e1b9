import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addValue,
  cloneTemplate,
  getAll,
  getString,
  getVector,
  getVectors,
  hasAttribute,
  positionOf,
  removeAttribute,
  setValue,
  setVectorValue,
} from './access.js';
import { mergeTemplates } from './merge.js';
import { parseNative } from './native-parser.js';
import type { Template } from './types.js';

const t: Template = {
  NAME: 'vm',
  DISK: [{ IMAGE_ID: '1' }, { TYPE: 'swap', SIZE: '512' }],
  CONTEXT: { NETWORK: 'YES' },
  MIXED: ['text', { A: 'b' }],
};

describe('accessors', () => {
  it('getAll lists occurrences case-insensitively', () => {
    assert.deepEqual(getAll(t, 'disk'), t.DISK);
    assert.deepEqual(getAll(t, 'NAME'), ['vm']);
    assert.deepEqual(getAll(t, 'MISSING'), []);
    assert.deepEqual(getAll(t, 'constructor'), []);
  });

  it('getString reads singles and NAME/SUB of the first vector', () => {
    assert.equal(getString(t, 'name'), 'vm');
    assert.equal(getString(t, 'CONTEXT/network'), 'YES');
    assert.equal(getString(t, 'DISK/IMAGE_ID'), '1');
    assert.equal(getString(t, 'CONTEXT'), undefined);
    assert.equal(getString(t, 'MIXED'), 'text');
    assert.equal(getString(t, 'CONTEXT/NOPE'), undefined);
    assert.equal(getString(t, 'NAME/X'), undefined);
    assert.equal(getString(t, 'CONTEXT/toString'), undefined);
  });

  it('getVectors and getVector skip string occurrences', () => {
    assert.deepEqual(getVectors(t, 'MIXED'), [{ A: 'b' }]);
    assert.deepEqual(getVector(t, 'DISK'), { IMAGE_ID: '1' });
    assert.equal(getVector(t, 'NAME'), undefined);
    assert.equal(hasAttribute(t, 'context'), true);
    assert.equal(hasAttribute(t, 'NOPE'), false);
  });

  it('updates return new canonical templates and leave the input alone', () => {
    const before = cloneTemplate(t);
    assert.deepEqual(setValue(t, 'memory', '512').MEMORY, '512');
    assert.deepEqual(setValue(t, 'DISK', [{ IMAGE_ID: '9' }]).DISK, { IMAGE_ID: '9' });
    assert.equal('DISK' in setValue(t, 'DISK', []), false);
    assert.deepEqual(addValue(t, 'NAME', 'second').NAME, ['vm', 'second']);
    assert.deepEqual(addValue(t, 'NIC', { NETWORK_ID: '0' }).NIC, { NETWORK_ID: '0' });
    assert.equal('CONTEXT' in removeAttribute(t, 'context'), false);
    assert.deepEqual(setVectorValue(t, 'CONTEXT', 'token', 'YES').CONTEXT, { NETWORK: 'YES', TOKEN: 'YES' });
    assert.deepEqual(setVectorValue(t, 'OS', 'ARCH', 'x86_64').OS, { ARCH: 'x86_64' });
    assert.deepEqual(setVectorValue(t, 'MIXED', 'C', 'd').MIXED, ['text', { A: 'b', C: 'd' }]);
    assert.deepEqual(t, before);
  });

  it('cloneTemplate copies vectors', () => {
    const copy = cloneTemplate(t);
    (copy.CONTEXT as Record<string, string>).NETWORK = 'NO';
    assert.equal(getString(t, 'CONTEXT/NETWORK'), 'YES');
  });

  it('positionOf finds exact paths, first occurrences and falls back to the vector', () => {
    const { positions } = parseNative('MEMORY = 1\nDISK = [ IMAGE_ID = 1 ]\nDISK = [\n  SIZE = 2 ]');
    assert.deepEqual(positionOf(positions, 'memory'), { line: 1, column: 1 });
    assert.deepEqual(positionOf(positions, 'DISK[1]/SIZE'), { line: 4, column: 3 });
    assert.deepEqual(positionOf(positions, 'DISK/IMAGE_ID'), { line: 2, column: 10 });
    assert.deepEqual(positionOf(positions, 'DISK[1]/TARGET'), { line: 3, column: 1 });
    assert.equal(positionOf(positions, 'NIC[0]'), undefined);
  });
});

describe('mergeTemplates', () => {
  const base: Template = {
    NAME: 'vm',
    MEMORY: '512',
    DISK: { IMAGE_ID: '1' },
    NIC: [{ NETWORK_ID: '0' }, { NETWORK_ID: '1' }],
    CONTEXT: { NETWORK: 'YES' },
  };

  it('lets extra singles override and appends extra vectors', () => {
    const merged = mergeTemplates(base, { MEMORY: '2048', NIC: { NETWORK_ID: '2' }, LABEL: 'x' });
    assert.deepEqual(merged, {
      NAME: 'vm',
      MEMORY: '2048',
      DISK: { IMAGE_ID: '1' },
      NIC: [{ NETWORK_ID: '0' }, { NETWORK_ID: '1' }, { NETWORK_ID: '2' }],
      CONTEXT: { NETWORK: 'YES' },
      LABEL: 'x',
    });
    assert.deepEqual(Object.keys(merged), ['NAME', 'MEMORY', 'DISK', 'NIC', 'CONTEXT', 'LABEL']);
  });

  it('replaces every base occurrence when extra has only strings', () => {
    assert.deepEqual(mergeTemplates(base, { NIC: 'none' }).NIC, 'none');
  });

  it('replaces vectors too with { vectors: "replace" } (OpenNebula Template::merge)', () => {
    const merged = mergeTemplates(
      base,
      { CONTEXT: { TOKEN: 'YES' }, DISK: [{ IMAGE_ID: '5' }, { IMAGE_ID: '6' }] },
      {
        vectors: 'replace',
      },
    );
    assert.deepEqual(merged.CONTEXT, { TOKEN: 'YES' });
    assert.deepEqual(merged.DISK, [{ IMAGE_ID: '5' }, { IMAGE_ID: '6' }]);
  });

  it('does not modify its inputs', () => {
    const extra: Template = { NIC: { NETWORK_ID: '2' } };
    mergeTemplates(base, extra);
    assert.deepEqual(base.NIC, [{ NETWORK_ID: '0' }, { NETWORK_ID: '1' }]);
    assert.deepEqual(extra, { NIC: { NETWORK_ID: '2' } });
  });
});
