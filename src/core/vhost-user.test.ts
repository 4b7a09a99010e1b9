import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OneError } from './errors.js';
import { checkBridgeType, checkVhostUserNic, isVhostUserNic } from './vhost-user.js';

const code = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof OneError ? err.code : String(err);
  }
};

describe('BRIDGE_TYPE and vhost-user NICs', () => {
  it('accepts OpenNebula bridge types per VN_MAD and refuses the others', () => {
    assert.equal(
      code(() => checkBridgeType('ovswitch', 'openvswitch_dpdk', undefined)),
      'ok',
    );
    assert.equal(
      code(() => checkBridgeType('ovswitch', 'openvswitch', undefined)),
      'ok',
    );
    assert.equal(
      code(() => checkBridgeType('bridge', 'linux', undefined)),
      'ok',
    );
    assert.equal(
      code(() => checkBridgeType('bridge', undefined, '0')),
      'ok',
    );
    assert.equal(
      code(() => checkBridgeType('vxlan', 'openvswitch_dpdk', undefined)),
      'E_TEMPLATE_INVALID',
    );
    assert.equal(
      code(() => checkBridgeType('ovswitch', 'linux', undefined)),
      'E_TEMPLATE_INVALID',
    );
  });

  it('refuses security groups on a DPDK network and on a NIC of one', () => {
    assert.equal(
      code(() => checkBridgeType('ovswitch', 'openvswitch_dpdk', '100')),
      'E_VHOST_USER',
    );
    const nic = { VN_MAD: 'ovswitch', BRIDGE_TYPE: 'openvswitch_dpdk', NETWORK_ID: '3' };
    assert.ok(isVhostUserNic(nic));
    assert.equal(
      code(() => checkVhostUserNic(nic, 'NIC[0]')),
      'ok',
    );
    assert.equal(
      code(() => checkVhostUserNic({ ...nic, SECURITY_GROUPS: '0' }, 'NIC[0]')),
      'E_VHOST_USER',
    );
    assert.equal(
      code(() => checkVhostUserNic({ VN_MAD: 'ovswitch', SECURITY_GROUPS: '0' }, 'NIC[0]')),
      'ok',
    );
    assert.ok(!isVhostUserNic({ VN_MAD: 'bridge', BRIDGE_TYPE: 'openvswitch_dpdk' }));
  });
});
