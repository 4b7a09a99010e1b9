import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstLine, parseAuthFile, parseCount, parseFilters, parseIdList, parseKeyValues } from './args.js';
import { UsageError } from './cli-error.js';

describe('parseIdList', () => {
  it('reads ids, lists and ranges, without duplicates', () => {
    assert.deepEqual(parseIdList('3'), [3]);
    assert.deepEqual(parseIdList('1,2,5..7'), [1, 2, 5, 6, 7]);
    assert.deepEqual(parseIdList('4..4,4'), [4]);
  });

  it('takes anything else as one name, commas included', () => {
    assert.deepEqual(parseIdList('web'), ['web']);
    assert.deepEqual(parseIdList('a,b'), ['a,b']);
    assert.deepEqual(parseIdList('1,web'), ['1,web']);
  });

  it('refuses backward and huge ranges', () => {
    assert.throws(() => parseIdList('7..5'), UsageError);
    assert.throws(() => parseIdList('0..99999999'), UsageError);
    assert.throws(() => parseIdList(' '), UsageError);
  });
});

describe('parseKeyValues', () => {
  it('splits pairs at commas and each pair at its first =', () => {
    assert.deepEqual(parseKeyValues('A=1,B=x=y'), { A: '1', B: 'x=y' });
    assert.deepEqual(parseKeyValues('A=1,2', true), { A: '1,2' });
    assert.deepEqual(parseKeyValues('EMPTY='), { EMPTY: '' });
    assert.throws(() => parseKeyValues('novalue'), UsageError);
    assert.throws(() => parseKeyValues('=1'), UsageError);
  });
});

describe('parseAuthFile', () => {
  it('splits user:password at the first colon, like one_auth', () => {
    assert.deepEqual(parseAuthFile('oneadmin:pa:ss:word\n', 'f'), { username: 'oneadmin', password: 'pa:ss:word' });
    assert.deepEqual(parseAuthFile('\nbob:x\r\n', 'f'), { username: 'bob', password: 'x' });
    assert.throws(() => parseAuthFile('nocolon', 'f'), UsageError);
    assert.throws(() => parseAuthFile(':pw', 'f'), UsageError);
    assert.throws(() => parseAuthFile('', 'f'), UsageError);
  });
});

describe('small parsers', () => {
  it('firstLine drops the line end', () => {
    assert.equal(firstLine('secret\r\nmore'), 'secret');
    assert.equal(firstLine(''), '');
  });

  it('parseCount accepts non-negative integers only', () => {
    assert.equal(parseCount('3', 'n'), 3);
    assert.throws(() => parseCount('-1', 'n'), UsageError);
    assert.throws(() => parseCount('1.5', 'n'), UsageError);
    assert.throws(() => parseCount('0', 'n', 1), UsageError);
  });

  it('parseFilters reads =, != and ~ with upper-cased columns', () => {
    assert.deepEqual(parseFilters(['stat=pend,NAME~web', 'USER!=root']), [
      { column: 'STAT', op: '=', value: 'pend' },
      { column: 'NAME', op: '~', value: 'web' },
      { column: 'USER', op: '!=', value: 'root' },
    ]);
    assert.throws(() => parseFilters(['nope']), UsageError);
  });
});
