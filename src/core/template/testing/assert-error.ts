import assert from 'node:assert/strict';
import type { ErrorCode } from '../../errors.js';
import { OneError } from '../../errors.js';

/** Runs `fn`, asserts it throws a OneError with `code`, and returns the error for further checks. */
export function expectOneError(fn: () => unknown, code: ErrorCode): OneError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OneError, `expected OneError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected OneError ${code}, but nothing was thrown`);
}
