import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VM_TEMPLATE_FIXTURE } from './fixtures/vm-template.js';
import { parseNative } from './native-parser.js';
import { expectOneError } from './testing/assert-error.js';

function syntaxError(text: string): { line: number; column: number; expected: string; message: string } {
  const err = expectOneError(() => parseNative(text), 'E_TEMPLATE_SYNTAX');
  const { line, column, expected } = err.details as { line: number; column: number; expected: string };
  return { line, column, expected, message: err.message };
}

describe('parseNative: attributes', () => {
  it('reads single attributes, upper-cases names and keeps the case of values', () => {
    const { template, format } = parseNative('name = "My VM"\nMemory=512\ncpu = 0.5\n');
    assert.deepEqual(template, { NAME: 'My VM', MEMORY: '512', CPU: '0.5' });
    assert.equal(format, 'native');
  });

  it('reads bare tokens up to a blank, =, #, comma, bracket or line end', () => {
    const { template } = parseNative('A = http://x/y?z\nB = Ünïcødé\nC = ab"cd\nD = a\\b\\\n');
    assert.deepEqual(template, { A: 'http://x/y?z', B: 'Ünïcødé', C: 'ab"cd', D: 'a\\b\\' });
  });

  it('treats NAME = followed by a line end (or the end of input) as an empty value', () => {
    assert.deepEqual(parseNative('A =\nB = 1\nC =   \r\nD =').template, { A: '', B: '1', C: '', D: '' });
  });

  it('reads quoted strings that span lines, with \\" as the only escape', () => {
    const text = 'S = "line 1\n  say \\"hi\\"\nC:\\\\dir\\n"\nNEXT = x';
    const { template, positions } = parseNative(text);
    assert.equal(template.S, 'line 1\n  say "hi"\nC:\\\\dir\\n');
    assert.equal(template.NEXT, 'x');
    assert.deepEqual(positions.get('NEXT[0]'), { line: 4, column: 1 });
  });

  it('reads \\\\" as a backslash followed by an escaped quote', () => {
    assert.equal(parseNative('A = "x\\\\"y"').template.A, 'x\\"y');
  });

  it('accepts several attributes on one line and CRLF line ends', () => {
    assert.deepEqual(parseNative('A = 1 B = "2"\r\nC = [ X = 1 ]\r\n').template, { A: '1', B: '2', C: { X: '1' } });
  });

  it('keeps repeated names in order as an array', () => {
    const { template, positions } = parseNative('NIC = [ NETWORK_ID = 0 ]\nA = 1\nNIC = [ NETWORK_ID = 1 ]\nnic = x');
    assert.deepEqual(template.NIC, [{ NETWORK_ID: '0' }, { NETWORK_ID: '1' }, 'x']);
    assert.deepEqual(positions.get('NIC[2]'), { line: 4, column: 1 });
  });

  it('skips a leading byte-order mark', () => {
    const { template, positions } = parseNative('\ufeffA = 1');
    assert.deepEqual(template, { A: '1' });
    assert.deepEqual(positions.get('A[0]'), { line: 1, column: 1 });
  });

  it('returns an empty template for empty or comment-only text', () => {
    assert.deepEqual(parseNative('').template, {});
    assert.deepEqual(parseNative('  \n# only a comment\n\t# another').template, {});
  });
});

describe('parseNative: vectors', () => {
  it('reads vectors with commas and newlines around the elements', () => {
    const text = 'DISK = [\n  image_id = "3" ,\n\n  TARGET=vda,   SIZE = 1024\n]';
    const { template, positions } = parseNative(text);
    assert.deepEqual(template.DISK, { IMAGE_ID: '3', TARGET: 'vda', SIZE: '1024' });
    assert.deepEqual(positions.get('DISK[0]'), { line: 1, column: 1 });
    assert.deepEqual(positions.get('DISK[0]/IMAGE_ID'), { line: 2, column: 3 });
    assert.deepEqual(positions.get('DISK[0]/SIZE'), { line: 4, column: 17 });
  });

  it('reads NAME = [ ] and NAME = [] as an empty vector', () => {
    assert.deepEqual(parseNative('A = [ ]\nB = []\nC = [\n]').template, { A: {}, B: {}, C: {} });
  });

  it('keeps the first of a repeated sub-attribute, like std::map::insert', () => {
    const { template, positions } = parseNative('V = [ A = 1,\n a = 2 ]');
    assert.deepEqual(template.V, { A: '1' });
    assert.deepEqual(positions.get('V[0]/A'), { line: 1, column: 7 });
  });

  it('allows comment lines inside a vector', () => {
    const text = 'V = [\n  # first\n  A = 1, # trailing\n  # before B\n  B = 2 ]';
    assert.deepEqual(parseNative(text).template.V, { A: '1', B: '2' });
  });
});

describe('parseNative: comments', () => {
  it('ignores comment lines, indented ones too, and comments after a complete attribute', () => {
    const text =
      '# header\n   # indented\nA = "x" # after a string\nB = [ C = 1 ] # after a vector\nD = e # after a token';
    assert.deepEqual(parseNative(text).template, { A: 'x', B: { C: '1' }, D: 'e' });
  });

  it('ends a bare token at # (quote values that contain #)', () => {
    assert.deepEqual(parseNative('PASSWORD = abc#123\nX = "abc#123"').template, { PASSWORD: 'abc', X: 'abc#123' });
  });
});

describe('parseNative: syntax errors carry line, column and what was expected', () => {
  it('reports a missing = with the offending token', () => {
    const e = syntaxError('NAME = vm\nMEMORY = 1\nDISK    [ IMAGE_ID = 1 ]');
    assert.equal(e.message, "line 3, column 9: expected '=' after attribute name DISK, found '['");
    assert.deepEqual([e.line, e.column, e.expected], [3, 9, "'='"]);
  });

  it('names the word found', () => {
    assert.equal(
      syntaxError('MEMORY 512').message,
      "line 1, column 8: expected '=' after attribute name MEMORY, found '512'",
    );
  });

  it('rejects a line that does not start with a name', () => {
    const e = syntaxError('A = 1\n  = 2');
    assert.deepEqual([e.line, e.column, e.expected], [2, 3, 'attribute name']);
    assert.match(e.message, /found '='/);
  });

  it('rejects a missing value inside a vector', () => {
    const e = syntaxError('V = [ A = , B = 1 ]');
    assert.deepEqual([e.line, e.column, e.expected], [1, 11, 'value']);
    assert.match(e.message, /expected value of V\/A, found ','/);
  });

  it('rejects a comment where a value should be', () => {
    const e = syntaxError('A = # nothing');
    assert.deepEqual([e.line, e.column], [1, 5]);
  });

  it('rejects nested vectors at the inner bracket', () => {
    const e = syntaxError('DISK = [\n  A = [ B = 1 ] ]');
    assert.deepEqual([e.line, e.column, e.expected], [2, 7, 'value']);
    assert.match(e.message, /cannot be nested/);
  });

  it('reports an unterminated string at its opening quote', () => {
    const e = syntaxError('A = 1\nB = "never\nclosed');
    assert.deepEqual([e.line, e.column, e.expected], [2, 5, "'\"'"]);
    assert.match(e.message, /unterminated quoted value of B/);
  });

  it('reports an unterminated vector at the end of input and says where it opened', () => {
    const e = syntaxError('DISK = [\n  A = 1');
    assert.deepEqual([e.line, e.column, e.expected], [2, 8, "',' or ']'"]);
    assert.match(e.message, /opened at line 1, column 8\), found end of input/);
  });

  it('requires commas between sub-attributes (as OpenNebula does)', () => {
    const e = syntaxError('V = [ A = 1\n  B = 2 ]');
    assert.deepEqual([e.line, e.column], [2, 3]);
    assert.match(e.message, /expected ',' or '\]' after V\/A .*found 'B'/);
  });

  it('rejects a trailing comma in a vector', () => {
    const e = syntaxError('V = [ A = 1, ]');
    assert.deepEqual([e.line, e.column, e.expected], [1, 14, 'sub-attribute name']);
  });

  it('rejects a sub-attribute name split from its = by a line break', () => {
    const e = syntaxError('V = [ A\n = 1 ]');
    assert.deepEqual([e.line, e.column, e.expected], [1, 8, "'='"]);
    assert.match(e.message, /found end of line/);
  });

  it('rejects values containing ]]>', () => {
    const e = syntaxError('A = 1\nRAW = "<x><![CDATA[y]]></x>"');
    assert.deepEqual([e.line, e.column], [2, 7]);
    assert.match(e.message, /contains '\]\]>'/);
  });

  it('names invisible control characters by code point', () => {
    const e = syntaxError('A = 1\n\u0001');
    assert.deepEqual([e.line, e.column], [2, 1]);
    assert.match(e.message, /found U\+0001/);
  });

  it('rejects a stray token after a bare value', () => {
    const e = syntaxError('A = b,c');
    assert.deepEqual([e.line, e.column], [1, 6]);
  });
});

describe('parseNative: the realistic fixture', () => {
  const { template, positions } = parseNative(VM_TEMPLATE_FIXTURE);

  it('is about 7 KB', () => {
    const kb = Buffer.byteLength(VM_TEMPLATE_FIXTURE) / 1000;
    assert.ok(kb > 6.5 && kb < 8, `fixture is ${kb} KB`);
  });

  it('has its DISKs, NICs and vectors', () => {
    assert.equal((template.DISK as unknown[]).length, 5);
    assert.equal((template.NIC as unknown[]).length, 3);
    assert.deepEqual(template.DISK_COST, '0.0001');
    assert.deepEqual((template.DISK as unknown[])[2], { TYPE: 'swap', SIZE: '1024', DEV_PREFIX: 'vd' });
    assert.equal(template.EDGE_SITE, 'madrid-01');
    assert.deepEqual(template.BACKUP_CONFIG, { MODE: 'INCREMENT', KEEP_LAST: '7', FS_FREEZE: 'AGENT' });
  });

  it('reads the multi-line START_SCRIPT with its escaped quotes', () => {
    const context = template.CONTEXT as Record<string, string>;
    const script = context.START_SCRIPT!;
    assert.ok(script.startsWith('#!/bin/bash\nset -euo pipefail\n'));
    assert.ok(script.includes('sed -i "s/worker_processes .*/worker_processes $WORKERS;/"'));
    assert.ok(script.includes('proxy_set_header Host \\$host;'));
    assert.ok(script.endsWith('systemctl restart nginx'));
    assert.equal(context.PUBLIC_IP, '$NETWORK[IP, NETWORK="edge-public"]');
  });

  it('records positions after the multi-line script correctly', () => {
    const lines = VM_TEMPLATE_FIXTURE.split('\n');
    const at = positions.get('USER_INPUTS[0]')!;
    assert.ok(lines[at.line - 1]!.startsWith('USER_INPUTS = ['));
    const sub = positions.get('USER_INPUTS[0]/WORKERS')!;
    assert.equal(lines[sub.line - 1]!.slice(sub.column - 1, sub.column - 1 + 7), 'WORKERS');
  });
});
