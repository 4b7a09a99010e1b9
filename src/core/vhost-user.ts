/**
 * vhost-user NICs, as the front-end sees them (the host side is
 * src/drivers/network/vhost-user.ts). OpenNebula's naming: an `ovswitch`
 * virtual network with `BRIDGE_TYPE = openvswitch_dpdk` puts its VMs' NICs on
 * the DPDK datapath; here a microVM's NIC on such a network is a vhost-user
 * port of the host's DPDK-enabled Open vSwitch. Hosts report whether they can
 * (host attribute VHOST_USER = YES|NO); the scheduler places VMs with such
 * NICs only where they can.
 *
 * vhost-user NICs have no kernel interface, so nftables cannot filter them:
 * security groups are refused on them (E_VHOST_USER) instead of being
 * silently skipped.
 */
import { OneError } from './errors.js';

export const DPDK_BRIDGE_TYPE = 'openvswitch_dpdk';

/** BRIDGE_TYPE values per VN_MAD (OpenNebula's; the first is the default). */
export const BRIDGE_TYPES: Readonly<Record<string, readonly string[]>> = {
  bridge: ['linux'],
  vxlan: ['linux'],
  '802.1Q': ['linux'],
  ovswitch: ['openvswitch', DPDK_BRIDGE_TYPE],
};

/** The host template attribute that says whether a host gives vhost-user NICs. */
export const VHOST_USER_ATTRIBUTE = 'VHOST_USER';

/** Whether a (leased) NIC vector is a vhost-user NIC. */
export function isVhostUserNic(nic: Readonly<Record<string, string | undefined>>): boolean {
  return nic.VN_MAD === 'ovswitch' && nic.BRIDGE_TYPE === DPDK_BRIDGE_TYPE;
}

/**
 * A network's BRIDGE_TYPE must fit its VN_MAD, and an openvswitch_dpdk network
 * cannot carry SECURITY_GROUPS (its microVM NICs cannot be filtered).
 */
export function checkBridgeType(mad: string, bridgeType: string | undefined, securityGroups: string | undefined): void {
  if (bridgeType === undefined) return;
  const allowed = BRIDGE_TYPES[mad] ?? [];
  if (!allowed.includes(bridgeType)) {
    throw new OneError(
      'E_TEMPLATE_INVALID',
      `BRIDGE_TYPE must be one of ${allowed.join(', ')} for VN_MAD ${mad}, got '${bridgeType}'`,
      { attribute: 'BRIDGE_TYPE[0]' },
    );
  }
  if (bridgeType === DPDK_BRIDGE_TYPE && securityGroups !== undefined) {
    throw new OneError(
      'E_VHOST_USER',
      'SECURITY_GROUPS cannot apply to a BRIDGE_TYPE = openvswitch_dpdk network: its vhost-user NICs bypass the kernel, where security groups are enforced',
      { attribute: 'SECURITY_GROUPS[0]' },
    );
  }
}

/** A NIC on an openvswitch_dpdk network that names SECURITY_GROUPS is refused (see checkBridgeType). */
export function checkVhostUserNic(nic: Readonly<Record<string, string | undefined>>, attribute: string): void {
  if (isVhostUserNic(nic) && nic.SECURITY_GROUPS !== undefined) {
    throw new OneError(
      'E_VHOST_USER',
      `${attribute}: network ${nic.NETWORK ?? nic.NETWORK_ID} has BRIDGE_TYPE = openvswitch_dpdk (vhost-user NICs, not filtered by the kernel), so the NIC cannot have SECURITY_GROUPS`,
      { attribute: `${attribute}/SECURITY_GROUPS` },
    );
  }
}
