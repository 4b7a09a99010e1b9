import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOneError } from './errors.js';
import { defaultMac, machineOf } from './machine-spec.js';
import { parseNative } from './template/index.js';

describe('microVM machine spec from a template', () => {
  it('reads HOST_NIC, GRAPHICS, OS/KERNEL_CMD and TOPOLOGY/THREADS', () => {
    const t = parseNative(`HOST_NIC = [ BRIDGE = br0 ]
HOST_NIC = [ BRIDGE = br1, MAC = "02:AA:00:00:00:01", MTU = 1450 ]
GRAPHICS = [ TYPE = vnc ]
OS = [ KERNEL_CMD = "loglevel=4" ]
TOPOLOGY = [ THREADS = 2 ]`);
    assert.deepEqual(machineOf(300, t.template), {
      nics: [
        { bridge: 'br0', mac: defaultMac(300, 0) },
        { bridge: 'br1', mac: '02:aa:00:00:00:01', mtu: 1450 },
      ],
      vnc: true,
      kernelCmdline: 'loglevel=4',
      threads: 2,
    });
    assert.equal(defaultMac(300, 1), '02:00:00:01:2c:01');
  });

  it('refuses bad bridges, MACs, MTUs and thread counts with E_TEMPLATE_INVALID', () => {
    for (const bad of [
      'HOST_NIC = [ BRIDGE = "br0; rm -rf /" ]',
      'HOST_NIC = [ BRIDGE = br0, MAC = "zz:00:00:00:00:00" ]',
      'HOST_NIC = [ BRIDGE = br0, MTU = 100 ]',
      'TOPOLOGY = [ THREADS = 3 ]',
    ]) {
      assert.throws(
        () => machineOf(1, parseNative(bad).template),
        (e) => isOneError(e) && e.code === 'E_TEMPLATE_INVALID',
        bad,
      );
    }
  });
});
