import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RuntimeDriver, WorkloadHandle, WorkloadState } from '../../drivers/runtime/types.js';
import { VmStateProbe, type WorkloadSource } from './vm-probes.js';

const handle = (name: string): WorkloadHandle => ({ driver: 'fake', version: 1, name, data: {} });

/** A runtime whose workloads are in `states` (absent = missing), and an agent with `records`. */
function source(
  records: { vmId: number; handle: WorkloadHandle | null }[],
  states: Map<string, WorkloadState>,
  busy: Set<number>,
): WorkloadSource {
  const driver = {
    inspect: async (h: WorkloadHandle) => ({ state: states.get(h.name) ?? 'missing' }),
    list: async () => [...states.keys()],
  } as unknown as RuntimeDriver;
  return {
    records: () => records.map((r) => ({ ...r, runtime: 'fake' })),
    runtimes: new Map([['fake', driver]]),
    busy: (id) => busy.has(id),
  };
}

describe('VM state probe', () => {
  test('a VM in flux (plan running, or not created yet) is named in a full list, never reported absent', async () => {
    const states = new Map<string, WorkloadState>([['one-1', 'running']]);
    const busy = new Set([2]);
    const probe = new VmStateProbe(
      source(
        [
          { vmId: 1, handle: handle('one-1') },
          { vmId: 2, handle: handle('one-2') },
          { vmId: 3, handle: null },
        ],
        states,
        busy,
      ),
      3,
      new AbortController().signal,
    );
    const full = await probe.run(true);
    assert.deepEqual(full.vms, [
      { vmId: 1, state: 'running', deployId: 'one-1' },
      { vmId: 2, state: 'missing', deployId: 'one-2', misses: 0 },
      { vmId: 3, state: 'missing', deployId: 'one-3', misses: 0 },
    ]);
    // A workload of a busy VM the runtime lists is not foreign.
    states.set('one-2', 'created');
    assert.deepEqual((await probe.run(true)).foreign, []);
    // Changes only: nothing about VMs in flux, nothing unchanged.
    assert.deepEqual((await probe.run(false)).vms, []);
    // Once the plan is done its real state is a change.
    busy.clear();
    states.set('one-2', 'running');
    assert.deepEqual((await probe.run(false)).vms, [{ vmId: 2, state: 'running', deployId: 'one-2' }]);
  });

  test('a vanished workload is counted for missingRuns runs before it is reported missing', async () => {
    const probe = new VmStateProbe(
      source([{ vmId: 5, handle: handle('one-5') }], new Map(), new Set()),
      3,
      new AbortController().signal,
    );
    assert.deepEqual((await probe.run(true)).vms, [{ vmId: 5, state: 'missing', deployId: 'one-5', misses: 1 }]);
    assert.deepEqual((await probe.run(false)).vms, []);
    assert.deepEqual((await probe.run(false)).vms, [{ vmId: 5, state: 'missing', deployId: 'one-5' }]);
  });
});
