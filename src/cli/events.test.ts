import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEvent } from './events.js';

describe('formatEvent', () => {
  it('prints a line per VM of a monitoring event, or its JSON', () => {
    const e = {
      type: 'monitoring' as const,
      event: {
        kind: 'vm' as const,
        vms: [
          { id: 7, host_id: 2, ts: 1000 },
          { id: 8, host_id: 3, ts: 1001 },
        ],
      },
    };
    assert.equal(formatEvent(e, false), '- vm 7 monitoring host=2 ts=1000\n- vm 8 monitoring host=3 ts=1001\n');
    assert.deepEqual(JSON.parse(formatEvent(e, true)), { monitoring: true, ...e.event });
  });

  it('keeps the change and resync lines as they were', () => {
    const change = {
      type: 'change' as const,
      event: { seq: 4, kind: 'vm' as const, op: 'update' as const, id: 1, revision: 2, state: 'HOLD' },
    };
    assert.equal(formatEvent(change, false), '4 vm 1 update rev=2 HOLD\n');
    assert.equal(formatEvent({ type: 'resync', seq: 9 }, false), '9 resync: events were missed; list again\n');
  });
});
