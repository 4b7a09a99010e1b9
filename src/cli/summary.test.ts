import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSummary } from './summary.js';

test('oneedge summary prints states sorted, allocations and host totals', () => {
  const text = formatSummary({
    vms: {
      total: 3,
      by_state: { PENDING: 1, 'ACTIVE/RUNNING': 2 },
      allocated: { cpu: 1.254, vcpu: 3, memory_mb: 256 },
    },
    hosts: { total: 2, by_state: { MONITORED: 1, INIT: 1 }, reporting: 1, cpus: 4, memory_mb: 8192 },
    counts: { vm: 3, host: 2 } as Record<string, number> as never,
  });
  assert.equal(
    text,
    [
      'VMS      3  ACTIVE/RUNNING=2 PENDING=1',
      'HOSTS    2  INIT=1 MONITORED=1',
      'ALLOC    CPU=1.25 VCPU=3 MEMORY=256M',
      'CAPACITY CPUS=4 MEMORY=8192M (1 of 2 hosts reported)',
      'OBJECTS  host=2 vm=3',
      '',
    ].join('\n'),
  );
  assert.match(
    formatSummary({
      vms: { total: 0, by_state: {}, allocated: { cpu: 0, vcpu: 0, memory_mb: 0 } },
      hosts: { total: 0, by_state: {}, reporting: 0, cpus: 0, memory_mb: 0 },
      counts: {} as never,
    }),
    /^VMS {6}0 {2}-$/m,
  );
});
