import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOneError } from './errors.js';
import { isDue, isFinished, nextRun, parseSchedAction, parseTemplateSchedActions } from './sched-actions.js';
import { parseTemplate } from './template/index.js';

/** Epoch seconds of a local date-time. */
const at = (y: number, mo: number, d: number, h = 0, mi = 0) =>
  Math.floor(new Date(y, mo - 1, d, h, mi).getTime() / 1000);

const refused = (fn: () => unknown, field: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(isOneError(err));
    assert.equal(err.code, 'E_SCHED_ACTION');
    assert.match(String(err.details.field), field);
    return true;
  });

describe('scheduled actions', () => {
  it('reads SCHED_ACTION vectors from a template; +SECONDS counts from the VM creation', () => {
    const { template } = parseTemplate(
      'SCHED_ACTION = [ ACTION = "poweroff", TIME = "+3600" ]\nSCHED_ACTION = [ ACTION = "resume", TIME = "1800000000", REPEAT = "3", DAYS = "6", END_TYPE = "1", END_VALUE = "4" ]',
    );
    const [a, b] = parseTemplateSchedActions(template, 1_000_000);
    assert.deepEqual(a, {
      id: 0,
      action: 'poweroff',
      time: 1_003_600,
      repeat: null,
      days: [],
      end_type: 'never',
      end_value: 0,
      done: 0,
      message: '',
    });
    assert.equal(b?.repeat, 'hourly');
    assert.deepEqual(b?.days, [6]);
    assert.equal(b?.end_type, 'times');
    assert.equal(b?.end_value, 4);
  });

  it('refuses bad input naming the attribute and field', () => {
    const p = (input: Parameters<typeof parseSchedAction>[0]) => parseSchedAction(input, 2, 0, 'SCHED_ACTION[2]');
    refused(() => p({ action: 'fly', time: '+1' }), /^SCHED_ACTION\[2\]\/ACTION$/);
    refused(() => p({ action: 'migrate', time: '+1' }), /ACTION/); // needs a host
    refused(() => p({ action: 'poweroff', time: 'tomorrow' }), /TIME/);
    refused(() => p({ action: 'poweroff', time: '+1', repeat: '7', days: '1' }), /REPEAT/);
    refused(() => p({ action: 'poweroff', time: '+1', repeat: 'weekly' }), /DAYS/);
    refused(() => p({ action: 'poweroff', time: '+1', repeat: 'weekly', days: '1,9' }), /DAYS/);
    refused(() => p({ action: 'poweroff', time: '+1', repeat: 'monthly', days: '0' }), /DAYS/);
    refused(() => p({ action: 'poweroff', time: '+1', repeat: 'hourly', days: '2,3' }), /DAYS/);
    refused(() => p({ action: 'poweroff', time: '+1', repeat: 'hourly', days: '1', end_type: '5' }), /END_TYPE/);
    refused(() => p({ action: 'poweroff', time: '+1', end_type: 'times', end_value: 3 }), /END_TYPE/);
    refused(
      () => p({ action: 'poweroff', time: '+1', repeat: '3', days: '1', end_type: '1', end_value: 'x' }),
      /END_VALUE/,
    );
  });

  it('is due once its time has come, and finished after a one-off run', () => {
    const sa = parseSchedAction({ action: 'terminate', time: '100' }, 0, 0, 'x');
    assert.equal(isDue(sa, 99), false);
    assert.equal(isDue(sa, 100), true);
    assert.equal(nextRun(sa, 100), null);
    const ran = { ...sa, done: 100 };
    assert.equal(isDue(ran, 200), false);
    assert.equal(isFinished(ran), true);
  });

  it('weekly runs on the listed weekdays at the same time of day', () => {
    // Monday 2026-11-30 08:15 local; repeat Wednesday (3) and Friday (5).
    const sa = parseSchedAction({ action: 'reboot', time: at(2026, 11, 30, 8, 15), repeat: 0, days: '5,3' }, 0, 0, 'x');
    assert.deepEqual(sa.days, [3, 5]);
    const first = nextRun(sa, sa.time);
    assert.equal(first?.time, at(2026, 12, 2, 8, 15), 'Wednesday');
    const second = nextRun({ ...sa, time: first?.time as number }, first?.time as number);
    assert.equal(second?.time, at(2026, 12, 4, 8, 15), 'Friday');
    // Missed runs are skipped: after a long outage the next is after the run.
    assert.equal(nextRun(sa, at(2026, 12, 20, 12))?.time, at(2026, 12, 23, 8, 15));
  });

  it('monthly and yearly use days of the month and of the year', () => {
    const monthly = parseSchedAction({ action: 'reboot', time: at(2027, 1, 31, 6), repeat: 1, days: '31' }, 0, 0, 'x');
    assert.equal(nextRun(monthly, monthly.time)?.time, at(2027, 3, 31, 6), 'February has no 31st');
    const yearly = parseSchedAction({ action: 'reboot', time: at(2027, 1, 1, 0), repeat: 2, days: '0,59' }, 0, 0, 'x');
    assert.equal(nextRun(yearly, yearly.time)?.time, at(2027, 3, 1, 0), 'day 59 of 2027 is 1 March');
  });

  it('hourly steps N hours from the first time; END_TYPE times counts every run; date stops after it', () => {
    const sa = parseSchedAction(
      { action: 'reboot', time: 7200, repeat: 3, days: '2', end_type: 1, end_value: 3 },
      0,
      0,
      'x',
    );
    const r1 = nextRun(sa, 7200);
    assert.deepEqual(r1, { time: 14_400, endValue: 2 });
    const r2 = nextRun({ ...sa, time: 14_400, end_value: 2 }, 14_400);
    assert.deepEqual(r2, { time: 21_600, endValue: 1 });
    assert.equal(nextRun({ ...sa, time: 21_600, end_value: 1 }, 21_600), null, 'three runs in all');
    assert.equal(nextRun(sa, 50_000)?.time, 50_400, 'missed runs are skipped');
    const dated = { ...sa, end_type: 'date' as const, end_value: 14_400 };
    assert.equal(nextRun(dated, 7200)?.time, 14_400);
    assert.equal(nextRun({ ...dated, time: 14_400 }, 14_400), null);
  });
});
