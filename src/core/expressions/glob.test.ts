import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob } from './glob.js';

describe('compileGlob (fnmatch without flags)', () => {
  const cases: [string, string, boolean][] = [
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['a*', 'a', true],
    ['a*', 'ab/c', true],
    ['*c', 'abc', true],
    ['*b*', 'abc', true],
    ['*', '', true],
    ['*', '.hidden', true],
    ['?', '', false],
    ['?', 'é', true],
    ['a?c', 'abc', true],
    ['a?c', 'a/c', true],
    ['[abc]', 'b', true],
    ['[abc]', 'd', false],
    ['[!abc]', 'd', true],
    ['[^abc]', 'a', false],
    ['[a-c]x', 'bx', true],
    ['[c-a]', 'b', false],
    ['[]]', ']', true],
    ['[!]]', 'a', true],
    ['[a-]', '-', true],
    ['[', '[', true],
    ['[ab', '[ab', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['a\\', 'a\\', true],
    ['[[:digit:]]*', '7up', true],
    ['[[:upper:]]', 'a', false],
    ['*.[ch]', 'x.c', true],
    ['a.b', 'aXb', false],
    ['(x)+', '(x)+', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
  ];
  for (const [pattern, text, expected] of cases) {
    it(`${pattern} ~ ${JSON.stringify(text)} → ${expected}`, () => assert.equal(compileGlob(pattern)(text), expected));
  }
});
