/**
 * Choosing leases, pure: the caller hands in the network's ranges and which
 * lease indices are taken (from the lease table, read in the same transaction
 * that will record the choice), and gets back the addresses to record.
 */
import { OneError } from '../errors.js';
import { type AddressRange, addressAt, indexOf, type LeaseAddresses } from './address-range.js';
import { parseIpv4, parseIpv6, parseMac } from './addresses.js';

/** Taken lease indices per range id. */
export type UsedLeases = ReadonlyMap<number, ReadonlySet<number>>;

/** What a NIC (or a hold) asks for: a specific address, or (nothing given) the next free lease. */
export interface LeaseRequest {
  ip?: string | undefined;
  ip6?: string | undefined;
  mac?: string | undefined;
  /** Only from this range (AR_ID). */
  arId?: number | undefined;
}

/** Finds the range and index of a requested address; refuses an address outside every range. */
export function locate(ars: readonly AddressRange[], req: LeaseRequest): { ar: AddressRange; index: number } {
  const candidates = req.arId === undefined ? ars : ars.filter((a) => a.ar_id === req.arId);
  if (req.arId !== undefined && candidates.length === 0) {
    throw new OneError('E_NOT_FOUND', `address range ${req.arId} does not exist`, { ar_id: req.arId });
  }
  const tries: { kind: 'ip' | 'ip6' | 'mac'; text: string; value: bigint | undefined }[] = [];
  if (req.ip !== undefined) {
    const n = parseIpv4(req.ip);
    tries.push({ kind: 'ip', text: req.ip, value: n === undefined ? undefined : BigInt(n) });
  }
  if (req.ip6 !== undefined) tries.push({ kind: 'ip6', text: req.ip6, value: parseIpv6(req.ip6) });
  if (req.mac !== undefined) tries.push({ kind: 'mac', text: req.mac, value: parseMac(req.mac) });
  let found: { ar: AddressRange; index: number } | undefined;
  for (const t of tries) {
    if (t.value === undefined) {
      throw new OneError('E_VALIDATION', `${t.kind.toUpperCase()} '${t.text}' is not a valid address`, {
        field: t.kind.toUpperCase(),
      });
    }
    let hit: { ar: AddressRange; index: number } | undefined;
    for (const ar of candidates) {
      const index = indexOf(ar, t.kind, t.value);
      if (index !== undefined) {
        hit = { ar, index };
        break;
      }
    }
    if (!hit) {
      throw new OneError(
        'E_IP_OUT_OF_RANGE',
        `${t.kind.toUpperCase()} ${t.text} is not in any address range of the network`,
        {
          field: t.kind.toUpperCase(),
          value: t.text,
        },
      );
    }
    // IP and MAC given together must name the same lease.
    if (found && (found.ar.ar_id !== hit.ar.ar_id || found.index !== hit.index)) {
      throw new OneError(
        'E_VALIDATION',
        `${t.kind.toUpperCase()} ${t.text} does not belong to the same lease as the other addresses`,
        {
          field: t.kind.toUpperCase(),
        },
      );
    }
    found = hit;
  }
  if (!found) throw new OneError('E_INTERNAL', 'locate needs an address');
  return found;
}

/**
 * The lease a request gets: the requested one when it is free (E_LEASE_IN_USE
 * or, for a MAC, E_MAC_IN_USE when taken), or the lowest free index of the
 * first range that has one (E_LEASE_EXHAUSTED when none has).
 */
export function chooseLease(ars: readonly AddressRange[], used: UsedLeases, req: LeaseRequest): LeaseAddresses {
  if (req.ip !== undefined || req.ip6 !== undefined || req.mac !== undefined) {
    const { ar, index } = locate(ars, req);
    if (used.get(ar.ar_id)?.has(index)) {
      const lease = addressAt(ar, index);
      const byMac = req.ip === undefined && req.ip6 === undefined;
      throw new OneError(
        byMac ? 'E_MAC_IN_USE' : 'E_LEASE_IN_USE',
        byMac ? `MAC ${lease.mac} is already leased` : `address ${req.ip ?? req.ip6} is already leased`,
        { ...lease },
      );
    }
    return addressAt(ar, index);
  }
  for (const ar of ars) {
    if (req.arId !== undefined && ar.ar_id !== req.arId) continue;
    const taken = used.get(ar.ar_id);
    if (taken && taken.size >= ar.size) continue;
    for (let i = 0; i < ar.size; i++) if (!taken?.has(i)) return addressAt(ar, i);
  }
  throw new OneError('E_LEASE_EXHAUSTED', 'no free address left in the network', {
    size: ars.reduce((n, a) => n + a.size, 0),
  });
}

/** The first run of `size` free consecutive leases (a reservation's block). */
export function findFreeBlock(
  ars: readonly AddressRange[],
  used: UsedLeases,
  size: number,
  arId?: number,
): { ar: AddressRange; start: number } {
  for (const ar of ars) {
    if (arId !== undefined && ar.ar_id !== arId) continue;
    const taken = used.get(ar.ar_id);
    let run = 0;
    for (let i = 0; i < ar.size; i++) {
      run = taken?.has(i) ? 0 : run + 1;
      if (run === size) return { ar, start: i - size + 1 };
    }
  }
  throw new OneError('E_LEASE_EXHAUSTED', `no ${size} consecutive free addresses left in the network`, { size });
}

/** A range that covers `size` leases of `parent` from `start`: a reservation's own range. */
export function childRange(parent: AddressRange, start: number, size: number, arId: number): AddressRange {
  const first = addressAt(parent, start);
  const ar: AddressRange = { ...parent, ar_id: arId, size, mac: first.mac, parent_network_ar_id: parent.ar_id };
  if (first.ip !== undefined) ar.ip = first.ip;
  if (first.ip6 !== undefined) ar.ip6 = first.ip6;
  return ar;
}
