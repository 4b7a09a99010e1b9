import { OneError } from './errors.js';

/**
 * OpenNebula-style permissions: owner / group / other × use / manage / admin,
 * stored as the 9-bit octal number `chmod` takes (`640` = owner use+manage,
 * group use). Each octal digit is use=4, manage=2, admin=1.
 */
export type Right = 'use' | 'manage' | 'admin';

const RIGHT_BIT: Record<Right, number> = { use: 4, manage: 2, admin: 1 };

/** The default for new objects: OpenNebula's UMASK 177 gives 600. */
export const DEFAULT_PERMISSIONS = 0o600;

/** Who is asking: a user id, its groups (primary first) and whether it is an administrator. */
export interface Principal {
  uid: number;
  gid: number;
  groups: readonly number[];
  admin: boolean;
  name: string;
}

/** The ownership fields every pooled object carries. */
export interface Owned {
  uid: number;
  gid: number;
  perms: number;
}

export const ONEADMIN_UID = 0;
export const ONEADMIN_GID = 0;
export const USERS_GID = 1;

/** The front-end's own controllers (lifecycle, scheduled actions) act as oneadmin. */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({
  uid: ONEADMIN_UID,
  gid: ONEADMIN_GID,
  groups: [ONEADMIN_GID],
  admin: true,
  name: 'oneadmin',
});

/** Parses `"640"` (octal digits) or `"um-u-----"` (OpenNebula's letter form). */
export function parsePermissions(text: string): number {
  const s = text.trim();
  if (/^[0-7]{3}$/.test(s)) return Number.parseInt(s, 8);
  if (/^([u-][m-][a-]){3}$/.test(s)) {
    let bits = 0;
    for (let i = 0; i < 9; i++) if (s[i] !== '-') bits |= 1 << (8 - i);
    return bits;
  }
  throw new OneError(
    'E_VALIDATION',
    `invalid permissions '${text}': expected three octal digits like 640 or um-u-----`,
    {
      field: 'permissions',
    },
  );
}

export function formatOctal(perms: number): string {
  return (perms & 0o777).toString(8).padStart(3, '0');
}

export function formatLetters(perms: number): string {
  let out = '';
  for (let i = 0; i < 9; i++) out += perms & (1 << (8 - i)) ? 'uma'[i % 3] : '-';
  return out;
}

/**
 * Whether `who` holds `right` on `obj`. Administrators hold every right;
 * otherwise the owner digit applies to the owner, the group digit to members of
 * the object's group, and the other digit to everyone.
 */
export function hasRight(who: Principal, obj: Owned, right: Right): boolean {
  if (who.admin) return true;
  const bit = RIGHT_BIT[right];
  if (obj.uid === who.uid && ((obj.perms >> 6) & bit) !== 0) return true;
  if (who.groups.includes(obj.gid) && ((obj.perms >> 3) & bit) !== 0) return true;
  return (obj.perms & bit) !== 0;
}

/** A chmod may grant the admin bit only when the caller already holds admin. */
export function checkChmod(who: Principal, obj: Owned, next: number): void {
  const addsAdmin = next & 0o111 & ~obj.perms;
  if (addsAdmin !== 0 && !hasRight(who, obj, 'admin')) {
    throw new OneError('E_FORBIDDEN', 'setting an admin permission bit requires admin rights on the object');
  }
}
