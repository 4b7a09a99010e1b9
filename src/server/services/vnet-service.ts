import { randomInt } from 'node:crypto';
import { OneError } from '../../core/errors.js';
import {
  type AddressRange,
  checkOverlap,
  childRange,
  chooseLease,
  findFreeBlock,
  type LeaseAddresses,
  type LeaseRequest,
  locate,
  NIC_NETWORK_ATTRIBUTES,
  parseAddressRange,
  parseMacPrefix,
} from '../../core/ipam/index.js';
import type { NewPoolObject, PoolObject, VnetBody } from '../../core/model.js';
import { ONEADMIN_GID, ONEADMIN_UID, type Principal } from '../../core/permissions.js';
import { getString, getVectors, removeAttribute } from '../../core/template/index.js';
import type { Template, TemplateVector } from '../../core/template/types.js';
import { checkBridgeType, checkVhostUserNic } from '../../core/vhost-user.js';
import { parseVlanList } from '../../core/vlan-list.js';
import type { LeaseRow, Store, TxStore } from '../../store/index.js';
import { type CreateInput, checkName, checkRevision, type KindHandler, type ObjectService } from './object-service.js';
import { readTemplate, type TemplateInput } from './template-input.js';

export const VN_MADS = ['bridge', 'vxlan', 'ovswitch', '802.1Q'] as const;
export type VnMad = (typeof VN_MADS)[number];
/** OpenNebula's default MAC_PREFIX. */
const MAC_PREFIX = parseMacPrefix('02:00') as bigint;
/** Linux interface names are at most 15 characters. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** The VXLAN MTU on a 1500-byte underlay (50 bytes of outer headers). */
export const VXLAN_MTU = 1450;

/** The NIC attributes the lease step writes into the VM's NIC (OpenNebula fills the same ones). */
export type LeasedNic = TemplateVector;

function invalid(message: string, attribute: string): OneError {
  return new OneError('E_TEMPLATE_INVALID', message, { attribute });
}

function templateOf(input: TemplateInput): Template {
  return readTemplate(input).template;
}

/** What a lease looks like in `vnet show` (API field names). */
export interface LeaseView {
  ar_id: number;
  index: number;
  mac: string;
  ip: string | null;
  ip6: string | null;
  kind: string;
  vm_id: number | null;
  vm_name: string | null;
  nic_id: number | null;
  reserved_by: number | null;
}

/**
 * Virtual networks: address ranges, leases (table vnet_leases, written in the
 * same transaction as the change that takes or frees them), holds and
 * reservations. VMs take leases at instantiate and NIC attach and free them
 * when they are done or the NIC detaches.
 */
export class VnetService {
  private objects!: ObjectService;
  readonly handler: KindHandler<'vnet'>;

  constructor(private readonly store: Store) {
    this.handler = {
      adminCreate: true,
      prepareCreate: async (tx, _who, input) => this.prepareCreate(tx, input),
      checkTemplate: async (_tx, _who, obj, parsed) => {
        // ARs are managed by addar/rmar/updatear; the rest of the template may change.
        if (getVectors(parsed.template, 'AR').length > 0) {
          throw invalid('address ranges change with addar / rmar / updatear, not with update', 'AR[0]');
        }
        const mad = getString(parsed.template, 'VN_MAD');
        if (mad !== undefined && mad !== obj.body.vn_mad) {
          throw invalid('VN_MAD cannot change once the network exists', 'VN_MAD[0]');
        }
        checkUplinkAttributes(obj.body.vn_mad, parsed.template);
        return parsed.template;
      },
      beforeDelete: async (tx, _who, obj) => {
        const rows = await this.store.leases.list(obj.id, tx.trx);
        const vms = rows.filter((r) => r.kind === 'vm');
        if (vms.length > 0) {
          throw new OneError('E_IN_USE', `network ${obj.id} still has ${vms.length} lease(s) used by VMs`, {
            vms: [...new Set(vms.map((r) => r.vm_id))],
          });
        }
        const reservations = rows.filter((r) => r.kind === 'reserved');
        if (reservations.length > 0) {
          throw new OneError(
            'E_IN_USE',
            `network ${obj.id} has reservations; delete networks ${[...new Set(reservations.map((r) => r.owner_vnet_id))].join(', ')} first`,
          );
        }
        await this.store.leases.removeNetwork(tx.trx, obj.id);
        const parent = obj.body.parent_network_id;
        if (parent !== undefined && parent !== null) {
          await this.store.leases.removeReserved(tx.trx, parent, obj.id);
          await this.bumpUsed(tx, parent);
        }
      },
    };
  }

  bind(objects: ObjectService): void {
    this.objects = objects;
  }

  private async prepareCreate(tx: TxStore, input: CreateInput): Promise<NewPoolObject<'vnet'>> {
    const parsed = readTemplate(input);
    let t = parsed.template;
    const mad = getString(t, 'VN_MAD');
    if (!mad) throw invalid(`VN_MAD is required (${VN_MADS.join(', ')})`, 'VN_MAD[0]');
    if (!(VN_MADS as readonly string[]).includes(mad)) {
      throw invalid(`VN_MAD must be one of ${VN_MADS.join(', ')}, got '${mad}'`, 'VN_MAD[0]');
    }
    const id = await tx.allocateId('vnet');
    const ars: AddressRange[] = [];
    getVectors(t, 'AR').forEach((v, i) => {
      const ar = parseAddressRange(v, i, {
        macPrefix: MAC_PREFIX,
        randomMacSuffix: randomInt(2 ** 31),
        attribute: `AR[${i}]`,
      });
      checkOverlap(ars, ar);
      ars.push(ar);
    });
    t = removeAttribute(t, 'AR');
    const body = networkBody(id, mad as VnMad, t);
    body.ar_pool = ars;
    body.next_ar_id = ars.length;
    return {
      id,
      uid: ONEADMIN_UID,
      gid: ONEADMIN_GID,
      uname: 'oneadmin',
      gname: 'oneadmin',
      perms: 0o644,
      name: checkName(input.name ?? getString(t, 'NAME')),
      state: 1, // READY
      lcmState: 0,
      template: t,
      body,
    };
  }

  // --- address ranges -----------------------------------------------------------------------

  async addAr(who: Principal, id: number, input: TemplateInput, rev?: number): Promise<PoolObject<'vnet'>> {
    const t = templateOf(input);
    const v = (getVectors(t, 'AR')[0] ??
      Object.fromEntries(Object.entries(t).filter(([, x]) => typeof x === 'string'))) as TemplateVector;
    return this.mutate(who, id, rev, async (_tx, net) => {
      const arId = net.body.next_ar_id ?? (net.body.ar_pool ?? []).length;
      const ar = parseAddressRange(v, arId, {
        macPrefix: MAC_PREFIX,
        randomMacSuffix: randomInt(2 ** 31),
        attribute: 'AR',
      });
      checkOverlap(net.body.ar_pool ?? [], ar);
      return { ...net.body, ar_pool: [...(net.body.ar_pool ?? []), ar], next_ar_id: arId + 1 };
    });
  }

  async rmAr(who: Principal, id: number, arId: number, rev?: number): Promise<PoolObject<'vnet'>> {
    return this.mutate(who, id, rev, async (tx, net) => {
      const ar = mustAr(net, arId);
      const used = (await this.store.leases.used(net.id, tx.trx)).get(ar.ar_id)?.size ?? 0;
      if (used > 0)
        throw new OneError('E_IN_USE', `address range ${arId} of network ${id} has ${used} lease(s)`, { ar_id: arId });
      return { ...net.body, ar_pool: (net.body.ar_pool ?? []).filter((a) => a.ar_id !== arId) };
    });
  }

  /** Changes SIZE (not below the highest leased index) and addresses of a range with no leases. */
  async updateAr(who: Principal, id: number, arId: number, input: TemplateInput, rev?: number) {
    const t = templateOf(input);
    const v = (getVectors(t, 'AR')[0] ??
      Object.fromEntries(Object.entries(t).filter(([, x]) => typeof x === 'string'))) as TemplateVector;
    return this.mutate(who, id, rev, async (tx, net) => {
      const old = mustAr(net, arId);
      const merged: TemplateVector = {
        TYPE: old.type,
        SIZE: String(old.size),
        MAC: old.mac,
        ...(old.ip ? { IP: old.ip } : {}),
        ...(old.ip6 ? { IP6: old.ip6, PREFIX_LENGTH: String(old.prefix_length ?? 64) } : {}),
        ...(old.global_prefix ? { GLOBAL_PREFIX: old.global_prefix } : {}),
        ...(old.ula_prefix ? { ULA_PREFIX: old.ula_prefix } : {}),
        ...v,
      };
      const ar = parseAddressRange(merged, arId, { macPrefix: MAC_PREFIX, randomMacSuffix: 0, attribute: 'AR' });
      const used = [...((await this.store.leases.used(net.id, tx.trx)).get(arId) ?? [])];
      const moved = ar.mac !== old.mac || ar.ip !== old.ip || ar.ip6 !== old.ip6 || ar.type !== old.type;
      if (used.length > 0 && moved) {
        throw new OneError('E_IN_USE', `address range ${arId} has leases: only SIZE may change`, { ar_id: arId });
      }
      const highest = Math.max(-1, ...used);
      if (ar.size <= highest) {
        throw new OneError(
          'E_IN_USE',
          `address range ${arId} has a lease at index ${highest}: SIZE must be > ${highest}`,
          {
            ar_id: arId,
          },
        );
      }
      checkOverlap(net.body.ar_pool ?? [], ar);
      return { ...net.body, ar_pool: (net.body.ar_pool ?? []).map((a) => (a.ar_id === arId ? ar : a)) };
    });
  }

  // --- holds and reservations --------------------------------------------------------------------

  async hold(who: Principal, id: number, req: LeaseRequest, rev?: number): Promise<PoolObject<'vnet'>> {
    if (req.ip === undefined && req.ip6 === undefined && req.mac === undefined) {
      throw new OneError('E_VALIDATION', 'hold needs an ip, ip6 or mac', { field: 'ip' });
    }
    return this.mutate(who, id, rev, async (tx, net) => {
      const lease = chooseLease(net.body.ar_pool ?? [], await this.store.leases.used(net.id, tx.trx), req);
      await this.store.leases.insert(tx.trx, leaseRow(net.id, lease, { kind: 'hold' }));
      return { ...net.body, used_leases: (net.body.used_leases ?? 0) + 1 };
    });
  }

  /** Frees a held address (an address a VM uses is freed by the VM, not here). */
  async release(who: Principal, id: number, req: LeaseRequest, rev?: number): Promise<PoolObject<'vnet'>> {
    return this.mutate(who, id, rev, async (tx, net) => {
      const { ar, index } = locate(net.body.ar_pool ?? [], req);
      const row = (await this.store.leases.list(net.id, tx.trx)).find((r) => r.ar_id === ar.ar_id && r.idx === index);
      if (row?.kind !== 'hold') {
        throw new OneError(
          row ? 'E_IN_USE' : 'E_NOT_FOUND',
          row
            ? `the address is ${row.kind === 'vm' ? `used by VM ${row.vm_id}` : `reserved by network ${row.owner_vnet_id}`}, not held`
            : 'the address is not held',
          { ar_id: ar.ar_id, index },
        );
      }
      await this.store.leases.remove(tx.trx, net.id, ar.ar_id, index);
      return { ...net.body, used_leases: Math.max(0, (net.body.used_leases ?? 1) - 1) };
    });
  }

  /**
   * `onevnet reserve`: carves `size` consecutive free addresses out of the
   * network into a new network owned by the caller (the parent's leases are
   * marked reserved for it). Needs USE on the parent, like OpenNebula.
   */
  async reserve(
    who: Principal,
    id: number,
    opts: { size: number; name: string; arId?: number | undefined },
  ): Promise<PoolObject<'vnet'>> {
    if (!Number.isInteger(opts.size) || opts.size < 1) {
      throw new OneError('E_VALIDATION', 'size must be a positive integer', { field: 'size' });
    }
    const name = checkName(opts.name);
    return this.store.objects.transaction(async (tx) => {
      const parent = await this.objects.mustGetTx(tx, who, 'vnet', id, 'use');
      const used = await this.store.leases.used(parent.id, tx.trx);
      const { ar, start } = findFreeBlock(parent.body.ar_pool ?? [], used, opts.size, opts.arId);
      const childId = await tx.allocateId('vnet');
      const group = await tx.get('group', who.gid);
      const child = await tx.create('vnet', {
        id: childId,
        uid: who.uid,
        gid: who.gid,
        uname: who.name,
        gname: group?.name ?? '',
        perms: 0o600,
        name,
        state: 1,
        lcmState: 0,
        template: { ...parent.template, NAME: name },
        body: {
          ...parent.body,
          ar_pool: [childRange(ar, start, opts.size, 0)],
          next_ar_id: 1,
          used_leases: 0,
          parent_network_id: parent.id,
        },
      });
      for (let i = start; i < start + opts.size; i++) {
        const lease = chooseLease([ar], used, { mac: childMac(ar, i) });
        await this.store.leases.insert(
          tx.trx,
          leaseRow(parent.id, lease, { kind: 'reserved', owner_vnet_id: child.id }),
        );
      }
      await tx.update('vnet', parent.id, parent.revision, (o) => ({
        ...o,
        body: { ...o.body, used_leases: (o.body.used_leases ?? 0) + opts.size },
      }));
      return child;
    });
  }

  async leases(who: Principal, id: number): Promise<LeaseView[]> {
    const net = await this.objects.get(who, 'vnet', id);
    const rows = await this.store.leases.list(net.id);
    const names = new Map<number, string>();
    for (const vmId of new Set(rows.map((r) => r.vm_id).filter((v): v is number => v !== null))) {
      const vm = await this.store.objects.get('vm', vmId);
      if (vm) names.set(vmId, vm.name);
    }
    return rows.map((r) => ({
      ar_id: r.ar_id,
      index: r.idx,
      mac: r.mac,
      ip: r.ip,
      ip6: r.ip6,
      kind: r.kind,
      vm_id: r.vm_id,
      vm_name: r.vm_id === null ? null : (names.get(r.vm_id) ?? null),
      nic_id: r.nic_id,
      reserved_by: r.owner_vnet_id,
    }));
  }

  // --- VM NICs ----------------------------------------------------------------------------------

  /**
   * Takes a lease for every NIC of a new VM (inside its creation transaction)
   * and returns the template with each NIC filled in: NIC_ID, NETWORK_ID,
   * NETWORK, IP/IP6/MAC, AR_ID, BRIDGE, VN_MAD, VLAN_ID and the network's
   * GATEWAY/DNS/MTU/… attributes. NICs with NETWORK_MODE=auto are left for
   * the scheduler.
   */
  async leaseNics(tx: TxStore, who: Principal, template: Template, vmId: number): Promise<Template> {
    const nics = getVectors(template, 'NIC');
    if (nics.length === 0) return template;
    const filled: TemplateVector[] = [];
    for (const [i, nic] of nics.entries()) filled.push(await this.leaseNic(tx, who, nic, vmId, i, `NIC[${i}]`));
    return { ...template, NIC: filled.length === 1 ? (filled[0] as TemplateVector) : filled };
  }

  async leaseNic(
    tx: TxStore,
    who: Principal,
    nic: TemplateVector,
    vmId: number,
    nicId: number,
    attribute: string,
  ): Promise<TemplateVector> {
    if (
      (nic.NETWORK_MODE ?? '').toLowerCase() === 'auto' &&
      nic.NETWORK_ID === undefined &&
      nic.NETWORK === undefined
    ) {
      return { ...nic, NIC_ID: String(nicId) };
    }
    const net = await this.findNetwork(tx, who, nic, attribute);
    const bridgeType = getString(net.template, 'BRIDGE_TYPE');
    checkVhostUserNic({ ...nic, NETWORK: net.name, VN_MAD: net.body.vn_mad, BRIDGE_TYPE: bridgeType }, attribute);
    const req: LeaseRequest = {
      ip: nic.IP,
      ip6: nic.IP6,
      mac: nic.MAC,
      arId: nic.AR_ID === undefined ? undefined : Number(nic.AR_ID),
    };
    let lease: LeaseAddresses;
    try {
      lease = chooseLease(net.body.ar_pool ?? [], await this.store.leases.used(net.id, tx.trx), req);
    } catch (err) {
      if (err instanceof OneError)
        throw new OneError(err.code, `${attribute}: network ${net.id} (${net.name}): ${err.message}`, {
          ...err.details,
          attribute,
          network_id: net.id,
        });
      throw err;
    }
    await this.store.leases.insert(tx.trx, leaseRow(net.id, lease, { kind: 'vm', vm_id: vmId, nic_id: nicId }));
    await tx.update('vnet', net.id, net.revision, (o) => ({
      ...o,
      body: { ...o.body, used_leases: (o.body.used_leases ?? 0) + 1 },
    }));
    return nicFromLease(nic, net, lease, nicId);
  }

  /** Frees every lease of a VM (it is done) or of one of its NICs (detached). */
  async releaseVm(tx: TxStore, vmId: number, nicId?: number): Promise<LeaseRow[]> {
    const freed = await this.store.leases.releaseVm(tx.trx, vmId, nicId);
    for (const netId of new Set(freed.map((r) => r.vnet_id))) await this.bumpUsed(tx, netId);
    return freed;
  }

  private async bumpUsed(tx: TxStore, netId: number): Promise<void> {
    const net = await tx.get('vnet', netId);
    if (!net) return;
    const count = await this.store.leases.count(netId, tx.trx);
    await tx.update('vnet', netId, net.revision, (o) => ({ ...o, body: { ...o.body, used_leases: count } }));
  }

  private async findNetwork(
    tx: TxStore,
    who: Principal,
    nic: TemplateVector,
    attribute: string,
  ): Promise<PoolObject<'vnet'>> {
    let net: PoolObject<'vnet'> | undefined;
    if (nic.NETWORK_ID !== undefined) net = await tx.get('vnet', Number(nic.NETWORK_ID));
    else if (nic.NETWORK !== undefined) {
      const uname = nic.NETWORK_UNAME;
      const uid = nic.NETWORK_UID !== undefined ? Number(nic.NETWORK_UID) : undefined;
      const visible = await tx.list('vnet', { visibleTo: who });
      net = visible.find(
        (n) =>
          n.name === nic.NETWORK && (uid === undefined || n.uid === uid) && (uname === undefined || n.uname === uname),
      );
    } else {
      throw invalid(`${attribute} needs NETWORK_ID or NETWORK (or NETWORK_MODE=auto)`, attribute);
    }
    if (!net) throw invalid(`${attribute}: the virtual network does not exist`, attribute);
    try {
      return this.objects.authorize(who, 'vnet', net.id, net, 'use');
    } catch {
      throw invalid(`${attribute}: network ${net.id} does not exist or you may not use it`, attribute);
    }
  }

  private async mutate(
    who: Principal,
    id: number,
    rev: number | undefined,
    change: (tx: TxStore, net: PoolObject<'vnet'>) => Promise<VnetBody>,
  ): Promise<PoolObject<'vnet'>> {
    return this.store.objects.transaction(async (tx) => {
      const net = await this.objects.mustGetTx(tx, who, 'vnet', id, 'manage');
      checkRevision(net, rev);
      const body = await change(tx, net);
      return tx.update('vnet', id, net.revision, (o) => ({ ...o, body }));
    });
  }
}

function mustAr(net: PoolObject<'vnet'>, arId: number): AddressRange {
  const ar = (net.body.ar_pool ?? []).find((a) => a.ar_id === arId);
  if (!ar) throw new OneError('E_NOT_FOUND', `network ${net.id} has no address range ${arId}`, { ar_id: arId });
  return ar;
}

function childMac(ar: AddressRange, index: number): string {
  const base = BigInt(`0x${ar.mac.replaceAll(':', '')}`) + BigInt(index);
  return base.toString(16).padStart(12, '0').match(/../g)?.join(':') ?? '';
}

function leaseRow(
  vnetId: number,
  lease: LeaseAddresses,
  who: { kind: 'vm' | 'hold' | 'reserved'; vm_id?: number; nic_id?: number; owner_vnet_id?: number },
): Omit<LeaseRow, 'created_at'> {
  return {
    vnet_id: vnetId,
    ar_id: lease.ar_id,
    idx: lease.index,
    mac: lease.mac,
    ip: lease.ip ?? null,
    ip6: lease.ip6 ?? lease.ip6_global ?? lease.ip6_ula ?? null,
    kind: who.kind,
    vm_id: who.vm_id ?? null,
    nic_id: who.nic_id ?? null,
    owner_vnet_id: who.owner_vnet_id ?? null,
  };
}

/** The body of a new network: driver, bridge name and VLAN/VNI, checked. */
function networkBody(id: number, mad: VnMad, t: Template): VnetBody {
  const vlanText = getString(t, 'VLAN_ID');
  let vlan: number | null = null;
  if (mad !== 'bridge') {
    const max = mad === 'vxlan' ? 16_777_215 : 4094;
    vlan = vlanText === undefined || vlanText === '' ? 100 + (id % 3900) : Number(vlanText);
    if (!Number.isInteger(vlan) || vlan < 1 || vlan > max)
      throw invalid(`VLAN_ID must be from 1 to ${max}, got '${vlanText}'`, 'VLAN_ID[0]');
  }
  const bridge = getString(t, 'BRIDGE') ?? (mad === 'ovswitch' ? 'oeovs0' : `onebr${id}`);
  if (!IFNAME.test(bridge))
    throw invalid(`BRIDGE must be an interface name of 1-15 letters, digits, _ . -, got '${bridge}'`, 'BRIDGE[0]');
  checkUplinkAttributes(mad, t);
  const mtu = getString(t, 'MTU');
  if (mtu !== undefined && (!/^\d+$/.test(mtu) || Number(mtu) < 576 || Number(mtu) > 9000)) {
    throw invalid(`MTU must be from 576 to 9000, got '${mtu}'`, 'MTU[0]');
  }
  return {
    cluster_ids: [0],
    vn_mad: mad,
    bridge,
    vlan_id: vlan,
    ar_pool: [],
    next_ar_id: 0,
    used_leases: 0,
    parent_network_id: null,
  };
}

/** PHYDEV (an interface name) and VLAN_TAGGED_ID (ovswitch trunk NICs: tags and ranges 1-4094). */
function checkUplinkAttributes(mad: string, t: Template): void {
  checkBridgeType(mad, getString(t, 'BRIDGE_TYPE'), getString(t, 'SECURITY_GROUPS'));
  const phydev = getString(t, 'PHYDEV');
  if (phydev !== undefined && !IFNAME.test(phydev)) {
    throw invalid(`PHYDEV must be an interface name of 1-15 letters, digits, _ . -, got '${phydev}'`, 'PHYDEV[0]');
  }
  const tagged = getString(t, 'VLAN_TAGGED_ID');
  if (tagged === undefined) return;
  if (mad !== 'ovswitch') throw invalid(`VLAN_TAGGED_ID needs VN_MAD = ovswitch, not ${mad}`, 'VLAN_TAGGED_ID[0]');
  try {
    parseVlanList(tagged);
  } catch (err) {
    throw invalid(`VLAN_TAGGED_ID: ${(err as Error).message}`, 'VLAN_TAGGED_ID[0]');
  }
}

function nicFromLease(
  nic: TemplateVector,
  net: PoolObject<'vnet'>,
  lease: LeaseAddresses,
  nicId: number,
): TemplateVector {
  const out: TemplateVector = {
    ...nic,
    NIC_ID: String(nicId),
    NETWORK_ID: String(net.id),
    NETWORK: net.name,
    AR_ID: String(lease.ar_id),
    MAC: lease.mac,
  };
  if (lease.ip) out.IP = lease.ip;
  if (lease.ip6) out.IP6 = lease.ip6;
  if (lease.ip6_global) out.IP6_GLOBAL = lease.ip6_global;
  if (lease.ip6_ula) out.IP6_ULA = lease.ip6_ula;
  const ar = (net.body.ar_pool ?? []).find((a) => a.ar_id === lease.ar_id);
  if (ar?.prefix_length !== undefined) out.PREFIX_LENGTH = String(ar.prefix_length);
  out.BRIDGE = net.body.bridge;
  out.VN_MAD = net.body.vn_mad;
  if (net.body.vlan_id !== null && net.body.vlan_id !== undefined) out.VLAN_ID = String(net.body.vlan_id);
  for (const a of NIC_NETWORK_ATTRIBUTES) {
    const v = getString(net.template, a);
    if (v !== undefined && out[a] === undefined) out[a] = v;
  }
  if (out.MTU === undefined && net.body.vn_mad === 'vxlan') out.MTU = String(VXLAN_MTU);
  // The host side of the network — the uplink, (ovswitch) the VLANs a trunk NIC carries and the datapath
  // (BRIDGE_TYPE) — comes from the network only: a NIC naming its own PHYDEV could pull any host interface
  // into a switch.
  for (const a of ['PHYDEV', 'VLAN_TAGGED_ID', 'BRIDGE_TYPE']) {
    const v = getString(net.template, a);
    if (v !== undefined) out[a] = v;
    else delete out[a];
  }
  const groups = getString(net.template, 'SECURITY_GROUPS');
  if (groups !== undefined && out.SECURITY_GROUPS === undefined) out.SECURITY_GROUPS = groups;
  return out;
}
