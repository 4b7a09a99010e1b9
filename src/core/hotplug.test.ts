import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOneError } from './errors.js';
import { findDevice, HOTPLUG_STATES, hotplugTransition, nextId, settleHotplug, withDiskIds } from './hotplug.js';
import type { Template } from './template/types.js';
import { ALL_PHASES, applyDriverResult, phaseName } from './vm-state-machine.js';

const RUNNING = { state: 'ACTIVE', lcm: 'RUNNING' } as const;
const POWEROFF = { state: 'POWEROFF', lcm: 'LCM_INIT' } as const;

describe('hot-plug transitions', () => {
  test('RUNNING: NICs go through HOTPLUG_NIC, disks through HOTPLUG, each with its host op', () => {
    assert.deepEqual(hotplugTransition(RUNNING, 'nic-attach'), {
      to: { state: 'ACTIVE', lcm: 'HOTPLUG_NIC' },
      op: 'attach-nic',
    });
    assert.deepEqual(hotplugTransition(RUNNING, 'nic-detach'), {
      to: { state: 'ACTIVE', lcm: 'HOTPLUG_NIC' },
      op: 'detach-nic',
    });
    assert.deepEqual(hotplugTransition(RUNNING, 'disk-attach'), {
      to: { state: 'ACTIVE', lcm: 'HOTPLUG' },
      op: 'attach-disk',
    });
    assert.deepEqual(hotplugTransition(RUNNING, 'disk-detach'), {
      to: { state: 'ACTIVE', lcm: 'HOTPLUG' },
      op: 'detach-disk',
    });
  });

  test('POWEROFF: NIC changes only edit the template; disks go through HOTPLUG_PROLOG/EPILOG_POWEROFF', () => {
    assert.deepEqual(hotplugTransition(POWEROFF, 'nic-attach'), { to: POWEROFF });
    assert.deepEqual(hotplugTransition(POWEROFF, 'nic-detach'), { to: POWEROFF });
    assert.deepEqual(hotplugTransition(POWEROFF, 'disk-attach'), {
      to: { state: 'ACTIVE', lcm: 'HOTPLUG_PROLOG_POWEROFF' },
      op: 'attach-disk',
    });
    assert.deepEqual(hotplugTransition(POWEROFF, 'disk-detach'), {
      to: { state: 'ACTIVE', lcm: 'HOTPLUG_EPILOG_POWEROFF' },
      op: 'detach-disk',
    });
  });

  test('every other phase is refused with E_VM_ACTION_STATE naming where it is allowed', () => {
    for (const phase of ALL_PHASES) {
      const name = phaseName(phase);
      if (name === 'RUNNING' || name === 'POWEROFF') continue;
      assert.throws(
        () => hotplugTransition(phase, 'nic-attach'),
        (err: unknown) =>
          isOneError(err) &&
          err.code === 'E_VM_ACTION_STATE' &&
          err.message.includes(name) &&
          err.message.includes('RUNNING, POWEROFF'),
        name,
      );
    }
  });

  test('either driver result brings each hot-plug state back to its origin', () => {
    for (const lcm of HOTPLUG_STATES) {
      const origin = lcm.endsWith('POWEROFF') ? 'POWEROFF' : 'RUNNING';
      for (const result of ['success', 'failure'] as const) {
        const t = applyDriverResult({ state: 'ACTIVE', lcm }, result);
        assert.equal(t && phaseName(t.to), origin, `${lcm} ${result}`);
        assert.equal(t?.op, undefined);
      }
    }
  });
});

describe('hot-plug templates', () => {
  const t: Template = {
    NIC: [
      { NIC_ID: '0', NETWORK_ID: '1', IP: '10.0.0.1' },
      { NIC_ID: '3', NETWORK_ID: '2', IP: '10.0.1.1', ATTACH: 'YES' },
    ],
    DISK: [{ IMAGE_ID: '4' }, { TYPE: 'fs', SIZE: '8' }],
  };

  test('ids: the next NIC_ID/DISK_ID is above the highest; DISK_IDs are written down before any removal', () => {
    assert.equal(nextId(t, 'NIC'), 4);
    assert.equal(nextId(t, 'DISK'), 2);
    assert.equal(nextId({}, 'NIC'), 0);
    const stamped = withDiskIds(t);
    assert.deepEqual(stamped.DISK, [
      { IMAGE_ID: '4', DISK_ID: '0' },
      { TYPE: 'fs', SIZE: '8', DISK_ID: '1' },
    ]);
    assert.equal(findDevice(stamped, 'DISK', 1)?.TYPE, 'fs');
    assert.equal(findDevice(t, 'NIC', 3)?.IP, '10.0.1.1');
  });

  test('attach ok keeps the NIC without ATTACH; attach failed removes it and reports what left', () => {
    const ok = settleHotplug(t, { kind: 'nic-attach', id: 3 }, true);
    assert.deepEqual(ok.template.NIC, [
      { NIC_ID: '0', NETWORK_ID: '1', IP: '10.0.0.1' },
      { NIC_ID: '3', NETWORK_ID: '2', IP: '10.0.1.1' },
    ]);
    assert.equal(ok.removed, undefined);
    const failed = settleHotplug(t, { kind: 'nic-attach', id: 3 }, false);
    assert.deepEqual(failed.template.NIC, { NIC_ID: '0', NETWORK_ID: '1', IP: '10.0.0.1' });
    assert.deepEqual(failed.removed, { name: 'NIC', vector: { NIC_ID: '3', NETWORK_ID: '2', IP: '10.0.1.1' } });
  });

  test('detach ok removes the disk (the others keep their ids); detach failed keeps it', () => {
    const marked = withDiskIds(t);
    const ok = settleHotplug(marked, { kind: 'disk-detach', id: 0 }, true);
    assert.deepEqual(ok.template.DISK, { TYPE: 'fs', SIZE: '8', DISK_ID: '1' });
    assert.equal(ok.removed?.vector.IMAGE_ID, '4');
    const failed = settleHotplug(marked, { kind: 'disk-detach', id: 0 }, false);
    assert.deepEqual(failed.template.DISK, marked.DISK);
    assert.equal(failed.removed, undefined);
    const last = settleHotplug({ DISK: { DISK_ID: '5', ATTACH: 'YES' } }, { kind: 'disk-detach', id: 5 }, true);
    assert.equal(last.template.DISK, undefined, 'the last disk leaves no empty attribute');
  });
});
