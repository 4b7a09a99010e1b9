import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOneError } from './errors.js';
import {
  applyHostEvent,
  HOST_STATE_NAMES,
  HOST_STATE_TRAITS,
  HOST_STATES,
  type HostEvent,
  type HostState,
  shortHostStateName,
} from './host-states.js';

const STATES: HostState[] = ['INIT', 'MONITORED', 'ERROR', 'DISABLED', 'OFFLINE'];

/** event → from → expected new state; '-' means no change (null). Written from reference §1.1/§5.5. */
const EXPECT: Record<HostEvent, Record<HostState, HostState | '-'>> = {
  enable: { INIT: '-', MONITORED: '-', ERROR: 'INIT', DISABLED: 'INIT', OFFLINE: 'INIT' },
  disable: { INIT: 'DISABLED', MONITORED: 'DISABLED', ERROR: 'DISABLED', DISABLED: '-', OFFLINE: 'DISABLED' },
  offline: { INIT: 'OFFLINE', MONITORED: 'OFFLINE', ERROR: 'OFFLINE', DISABLED: 'OFFLINE', OFFLINE: '-' },
  report: { INIT: 'MONITORED', MONITORED: '-', ERROR: 'MONITORED', DISABLED: '-', OFFLINE: '-' },
  silent: { INIT: 'ERROR', MONITORED: 'ERROR', ERROR: '-', DISABLED: '-', OFFLINE: '-' },
};

test('host state numbers', () => {
  assert.deepEqual(HOST_STATES, { INIT: 0, MONITORED: 2, ERROR: 3, DISABLED: 4, OFFLINE: 8 });
  assert.equal(HOST_STATE_NAMES[8], 'OFFLINE');
  assert.equal(HOST_STATE_NAMES[1], undefined);
  assert.deepEqual(STATES.map(shortHostStateName), ['init', 'on', 'err', 'dsbl', 'off']);
});

test('every event in every host state', () => {
  for (const [event, row] of Object.entries(EXPECT) as [HostEvent, Record<HostState, HostState | '-'>][]) {
    for (const from of STATES) {
      const t = applyHostEvent(from, event);
      const want = row[from];
      if (want === '-') assert.equal(t, null, `${event} in ${from}`);
      else assert.deepEqual(t, { event, from, to: want, hostFailed: want === 'ERROR' }, `${event} in ${from}`);
    }
  }
});

test('an unknown event is E_VALIDATION', () => {
  assert.throws(
    () => applyHostEvent('MONITORED', 'reboot' as HostEvent),
    (err) => isOneError(err) && err.code === 'E_VALIDATION',
  );
});

test('traits: only enabled hosts are scheduled, OFFLINE hosts are left alone', () => {
  assert.deepEqual(
    STATES.filter((s) => HOST_STATE_TRAITS[s].schedulable),
    ['INIT', 'MONITORED'],
  );
  assert.deepEqual(
    STATES.filter((s) => !HOST_STATE_TRAITS[s].monitored),
    ['OFFLINE'],
  );
  assert.equal(HOST_STATE_TRAITS.DISABLED.manualDeploy, true);
});
