import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkMonitorRecords } from './monitoring.js';

const sample = {
  vmId: 7,
  cpu: 12.5,
  memoryKb: 2048,
  netRxBytes: 1,
  netTxBytes: 2,
  diskReadBytes: 3,
  diskWriteBytes: 4,
};

describe('monitor record checks', () => {
  test('a well-formed batch passes whole', () => {
    const batch = [
      { k: 'beacon', ts: 1, periodMs: 30_000 },
      { k: 'vm-usage', ts: 2, vms: [sample] },
    ];
    const { records, problems } = checkMonitorRecords(batch);
    assert.deepEqual(problems, []);
    assert.equal(records.length, 2);
  });

  test('a VM sample needs every measured field as a finite number; the record is dropped and named', () => {
    for (const bad of [
      { ...sample, memoryKb: undefined },
      { ...sample, netTxBytes: '5,"x":1' },
      { ...sample, diskReadBytes: Number.NaN },
      { ...sample, vmId: -1 },
    ]) {
      const { records, problems } = checkMonitorRecords([
        { k: 'beacon', ts: 1, periodMs: 30_000 },
        { k: 'vm-usage', ts: 2, vms: [sample, bad] },
      ]);
      assert.equal(records.length, 1, 'the good record of the batch is kept');
      assert.equal(problems.length, 1);
      assert.match(problems[0] as string, /^record 1: vm-usage needs vms \[\{vmId, cpu, memoryKb, .*all numbers$/);
    }
  });

  test('a payload that is not a list is refused as such', () => {
    assert.deepEqual(checkMonitorRecords({ k: 'beacon' }).problems, ['the payload is not a list of records']);
  });
});
