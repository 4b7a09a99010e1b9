import type { AccessList } from './types.js';

/**
 * Precomputed ACL decisions: for an owner (uid, gid), a mask over a list of
 * objects (1 = may use). uid 0 and gid 0 (oneadmin) may use everything, as
 * OpenNebula's scheduler skips the ACL check for them. Masks are cached per
 * owner because many VMs share one.
 */
export class AccessMasks {
  private readonly cache = new Map<string, Uint8Array | null>();

  constructor(
    private readonly list: AccessList | undefined,
    private readonly objectIds: readonly number[],
  ) {}

  /** The mask for an owner, or null when the owner may use every object. */
  maskFor(uid: number, gid: number): Uint8Array | null {
    if (this.list === undefined || uid === 0 || gid === 0) return null;
    const key = `${uid}:${gid}`;
    let mask = this.cache.get(key);
    if (mask === undefined) {
      mask = this.build(uid, gid);
      this.cache.set(key, mask);
    }
    return mask;
  }

  private build(uid: number, gid: number): Uint8Array | null {
    const byUser = this.list?.byUser?.[String(uid)];
    const byGroup = this.list?.byGroup?.[String(gid)];
    if (byUser === '*' || byGroup === '*') return null;
    const allowed = new Set([...(byUser ?? []), ...(byGroup ?? [])]);
    return Uint8Array.from(this.objectIds, (id) => (allowed.has(id) ? 1 : 0));
  }
}
