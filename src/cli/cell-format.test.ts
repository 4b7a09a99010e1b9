import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatElapsed,
  formatMegabytes,
  hostShortState,
  imageShortState,
  permissionTriplets,
  templateString,
  vmShortState,
} from './cell-format.js';

describe('state short names', () => {
  it('uses the LCM short name while ACTIVE and the STATE short name otherwise', () => {
    assert.equal(vmShortState({ state: 'PENDING', lcm_state: 'LCM_INIT' }), 'pend');
    assert.equal(vmShortState({ state: 'HOLD', lcm_state: 'LCM_INIT' }), 'hold');
    assert.equal(vmShortState({ state: 'ACTIVE', lcm_state: 'RUNNING' }), 'runn');
    assert.equal(vmShortState({ state: 'ACTIVE', lcm_state: 'BOOT_FAILURE' }), 'fail');
    assert.equal(vmShortState({ state: 'POWEROFF', lcm_state: 'LCM_INIT' }), 'poff');
    assert.equal(vmShortState({ state: 'SOMETHING_NEW', lcm_state: 'X' }), 'some');
  });

  it('names host and image states as onehost/oneimage do', () => {
    assert.equal(hostShortState({ state: 'MONITORED' }), 'on');
    assert.equal(hostShortState({ state: 'DISABLED' }), 'dsbl');
    assert.equal(imageShortState({ state: 'READY' }), 'rdy');
  });
});

describe('cell formats', () => {
  it('formats megabytes', () => {
    assert.equal(formatMegabytes(256), '256M');
    assert.equal(formatMegabytes(1024), '1G');
    assert.equal(formatMegabytes(1536), '1.5G');
    assert.equal(formatMegabytes(3 * 1024 * 1024), '3T');
    assert.equal(formatMegabytes(Number.NaN), '-');
  });

  it('formats elapsed time like onevm list', () => {
    assert.equal(formatElapsed(0), '0d 00h00');
    assert.equal(formatElapsed(3 * 86400 + 4 * 3600 + 5 * 60 + 59), '3d 04h05');
    assert.equal(formatElapsed(-5), '0d 00h00');
  });

  it('spells permissions as letters per owner, group and other', () => {
    assert.deepEqual(permissionTriplets('640'), { owner: 'um-', group: 'u--', other: '---' });
    assert.deepEqual(permissionTriplets('777'), { owner: 'uma', group: 'uma', other: 'uma' });
  });

  it('reads single template attributes', () => {
    assert.equal(
      templateString({ CPU: '1', DISK: [{ IMAGE: 'a' }, { IMAGE: 'b' }], NIC: { NETWORK: 'x' } }, 'CPU'),
      '1',
    );
    assert.equal(templateString({ NIC: { NETWORK: 'x' } }, 'NIC'), '');
    assert.equal(templateString({}, 'MEMORY'), '');
  });
});
