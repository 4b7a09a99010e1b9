import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VM_ACTION_LIST } from '../client/index.js';
import { UsageError } from './cli-error.js';
import { migrateAction, RECOVER_MODES, recoverAction, SIMPLE_VM_VERBS } from './vm.js';

describe('vm verbs', () => {
  it('cover every action of the state machine', () => {
    const covered = new Set<string>(['deploy']);
    for (const v of SIMPLE_VM_VERBS) {
      covered.add(v.action);
      if (v.hard) covered.add(v.hard);
    }
    for (const o of [{}, { live: true }, { poweroff: true }, { poweroffHard: true }]) covered.add(migrateAction(o));
    for (const m of RECOVER_MODES) covered.add(recoverAction({ [m]: true }));
    assert.deepEqual([...covered].sort(), [...VM_ACTION_LIST].sort());
  });

  it('migrate takes at most one flavour and recover exactly one mode', () => {
    assert.equal(migrateAction({ live: true }), 'live-migrate');
    assert.throws(() => migrateAction({ live: true, poweroff: true }), UsageError);
    assert.equal(recoverAction({ retry: true }), 'recover-retry');
    assert.throws(() => recoverAction({}), UsageError);
    assert.throws(() => recoverAction({ success: true, failure: true }), UsageError);
  });
});
