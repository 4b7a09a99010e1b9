import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../client/index.js';
import { ExitError, reportError, sourceExcerpt, UsageError, withSource } from './cli-error.js';

function report(err: unknown): { code: number; text: string } {
  let text = '';
  const code = reportError(err, (s) => {
    text += s;
  });
  return { code, text };
}

describe('reportError', () => {
  it('prints [E_CODE] message and exits with the registry code', () => {
    assert.deepEqual(report(new ApiError('E_NOT_FOUND', 'vm 9 does not exist', {}, 404)), {
      code: 5,
      text: 'oneedge: [E_NOT_FOUND] vm 9 does not exist\n',
    });
    assert.equal(report(new ApiError('E_UNAVAILABLE', 'cannot reach http://x')).code, 8);
    assert.equal(report(new ApiError('E_REVISION_MISMATCH', 'stale')).code, 6);
    assert.equal(report(new ApiError('E_FORBIDDEN', 'no')).code, 4);
  });

  it('adds line and column unless the message already has them', () => {
    const a = report(new ApiError('E_TEMPLATE_INVALID', 'MEMORY: bad', { line: 3, column: 1 }));
    assert.equal(a.text, 'oneedge: [E_TEMPLATE_INVALID] MEMORY: bad (line 3, column 1)\n');
    const b = report(new ApiError('E_TEMPLATE_SYNTAX', 'line 3, column 1: bad', { line: 3, column: 1 }));
    assert.equal(b.text, 'oneedge: [E_TEMPLATE_SYNTAX] line 3, column 1: bad\n');
  });

  it('quotes the offending line of a template the CLI sent', async () => {
    const err = await withSource({ label: 'vm.tpl', text: 'NAME = a\nCPU = "1\n' }, async () => {
      throw new ApiError('E_TEMPLATE_SYNTAX', 'line 2, column 7: unterminated', { line: 2, column: 7 });
    }).catch((e: unknown) => e);
    const { code, text } = report(err);
    assert.equal(code, 2);
    assert.equal(
      text,
      'oneedge: [E_TEMPLATE_SYNTAX] line 2, column 7: unterminated\n  vm.tpl:2:7\n  2 | CPU = "1\n    |       ^\n',
    );
  });

  it('exits 2 for usage errors, the given code for reported ones, 1 for bugs', () => {
    assert.deepEqual(report(new UsageError('bad flag')), { code: 2, text: 'oneedge: bad flag\n' });
    assert.deepEqual(report(new ExitError(6)), { code: 6, text: '' });
    const bug = report(new TypeError('x is undefined'));
    assert.equal(bug.code, 1);
    assert.match(bug.text, /^oneedge: \[E_INTERNAL\] unexpected error: TypeError: x is undefined/);
  });

  it('sourceExcerpt survives a line past the end', () => {
    assert.equal(sourceExcerpt({ label: 'f', text: 'A=1' }, 5, 1), '  f:5:1\n');
  });
});
