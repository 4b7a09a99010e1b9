import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PoolObject } from '../../core/model.js';
import { networkFactsTemplate, planNics, vhostUserSchedMessage, withNetworkRequirements } from './network-plan.js';

const dpdkNic = {
  NIC_ID: '0',
  NETWORK_ID: '4',
  VN_MAD: 'ovswitch',
  BRIDGE_TYPE: 'openvswitch_dpdk',
  BRIDGE: 'oeovs0',
  VLAN_ID: '10',
  MAC: '02:00:c0:a8:46:0a',
  IP: '192.168.70.10',
};
const vm = (nic: Record<string, string>) =>
  ({ id: 5, uid: 0, gid: 0, state: 1, template: { NAME: 'v', NIC: nic }, body: {} }) as unknown as PoolObject<'vm'>;
const host = (id: number, vhostUser: boolean | undefined, why?: string) =>
  ({
    id,
    template: {},
    body: {
      facts: {
        vhostUser,
        ...(why ? { networkUnusable: { 'vhost-user': why } } : {}),
      },
    },
  }) as unknown as PoolObject<'host'>;

describe('vhost-user NICs in placement and plans', () => {
  it('a NIC on an openvswitch_dpdk network needs VHOST_USER = "YES" besides its driver', () => {
    const t = withNetworkRequirements({ NAME: 'v', NIC: dpdkNic, SCHED_REQUIREMENTS: 'ID = 2' });
    assert.equal(t.SCHED_REQUIREMENTS, '(ID = 2) & NETWORK_DRIVERS = "*,ovswitch,*" & VHOST_USER = "YES"');
    const plain = withNetworkRequirements({ NAME: 'v', NIC: { ...dpdkNic, BRIDGE_TYPE: 'openvswitch' } });
    assert.equal(plain.SCHED_REQUIREMENTS, 'NETWORK_DRIVERS = "*,ovswitch,*"');
  });

  it('hosts publish VHOST_USER from their facts', () => {
    assert.deepEqual(networkFactsTemplate(['ovswitch'], true), { NETWORK_DRIVERS: ',ovswitch,', VHOST_USER: 'YES' });
    assert.deepEqual(networkFactsTemplate(['bridge'], false), { NETWORK_DRIVERS: ',bridge,', VHOST_USER: 'NO' });
    assert.deepEqual(networkFactsTemplate(['bridge']), { NETWORK_DRIVERS: ',bridge,' });
  });

  it('the plan marks the NIC vhostUser', () => {
    const [nic] = planNics(vm(dpdkNic), () => []);
    assert.equal(nic?.vhostUser, true);
    assert.equal(nic?.vlanId, 10);
    assert.equal(planNics(vm({ ...dpdkNic, BRIDGE_TYPE: 'openvswitch' }), () => [])[0]?.vhostUser, undefined);
  });

  it('SCHED_MESSAGE names the NIC and every host reason when no host gives vhost-user NICs', () => {
    const msg = vhostUserSchedMessage(
      vm(dpdkNic),
      [host(1, false, 'DPDK is disabled (--ovs-dpdk off)'), host(2, false, '3 free 2 MB hugepages, DPDK needs 80')],
      () => true,
      'no host matches SCHED_REQUIREMENTS',
    );
    assert.equal(
      msg,
      'no host gives vhost-user NICs (NIC 0 is on BRIDGE_TYPE = openvswitch_dpdk network 4) — host 1: DPDK is disabled (--ovs-dpdk off); host 2: 3 free 2 MB hugepages, DPDK needs 80',
    );
  });

  it('with some DPDK hosts it adds the lacking hosts to a requirements failure, and leaves other messages', () => {
    const hosts = [host(1, true), host(3, false, 'DPDK is disabled (--ovs-dpdk off)')];
    const req = vhostUserSchedMessage(vm(dpdkNic), hosts, () => true, 'no host matches SCHED_REQUIREMENTS');
    assert.match(
      req,
      /^no host matches SCHED_REQUIREMENTS \(NIC 0 .* needs VHOST_USER = "YES" — host 3: DPDK is disabled/,
    );
    assert.equal(
      vhostUserSchedMessage(vm(dpdkNic), hosts, () => true, 'no host with 4 free CPUs'),
      'no host with 4 free CPUs',
    );
    assert.equal(
      vhostUserSchedMessage(vm({ ...dpdkNic, BRIDGE_TYPE: 'openvswitch' }), [host(3, false)], () => true, 'x'),
      'x',
    );
  });
});
