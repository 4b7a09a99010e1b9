import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOneError } from './errors.js';
import { machineOf } from './machine-spec.js';
import { parseNative } from './template/index.js';

describe('microVM machine spec from a template', () => {
  it('reads GRAPHICS, OS/KERNEL_CMD and TOPOLOGY/THREADS (NICs are virtual-network NICs, not HOST_NIC)', () => {
    const t = parseNative(`HOST_NIC = [ BRIDGE = br0 ]
GRAPHICS = [ TYPE = vnc ]
OS = [ KERNEL_CMD = "loglevel=4" ]
TOPOLOGY = [ THREADS = 2 ]`);
    assert.deepEqual(machineOf(t.template), { vnc: true, kernelCmdline: 'loglevel=4', threads: 2 });
  });

  it('refuses bad thread counts with E_TEMPLATE_INVALID', () => {
    for (const bad of ['TOPOLOGY = [ THREADS = 3 ]', 'TOPOLOGY = [ THREADS = x ]']) {
      assert.throws(
        () => machineOf(parseNative(bad).template),
        (e) => isOneError(e) && e.code === 'E_TEMPLATE_INVALID',
        bad,
      );
    }
  });
});
