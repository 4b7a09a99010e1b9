/**
 * VM groups (OpenNebula's `onevmgroup`): named roles with placement rules.
 *
 *   NAME = "edge-proxies"
 *   ROLE = [ NAME = "frontend", POLICY = "ANTI_AFFINED", HOST_ANTI_AFFINED = "3" ]
 *   ROLE = [ NAME = "cache", POLICY = "AFFINED" ]
 *   AFFINED = "frontend, cache"
 *
 * A role's POLICY keeps its VMs together (AFFINED) or apart (ANTI_AFFINED);
 * HOST_AFFINED / HOST_ANTI_AFFINED list host ids its VMs must / must not use;
 * AFFINED and ANTI_AFFINED (top level, repeatable) relate whole roles. A VM
 * joins a role with `VMGROUP = [ VMGROUP_NAME | VMGROUP_ID, ROLE ]`.
 *
 * Pure parsing and validation; problems are template issues with positions.
 */
import { getAll, getString, getVectors } from './template/access.js';
import { type TemplateIssue, templateIssue, throwIfIssues } from './template/issues.js';
import type { ParsedTemplate, Template } from './template/types.js';

export const VM_GROUP_POLICIES = ['NONE', 'AFFINED', 'ANTI_AFFINED'] as const;
export type VmGroupRolePolicy = (typeof VM_GROUP_POLICIES)[number];

export interface VmGroupRole {
  id: number;
  name: string;
  policy: VmGroupRolePolicy;
  host_affined: number[];
  host_anti_affined: number[];
}

export interface VmGroupBody {
  roles: VmGroupRole[];
  /** Inter-role rules: role names whose VMs share hosts. */
  affined: string[][];
  /** Inter-role rules: role names whose VMs never share a host. */
  anti_affined: string[][];
}

const ROLE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Reads and checks a VM group template; throws E_TEMPLATE_INVALID listing every problem. */
export function parseVmGroupTemplate(parsed: ParsedTemplate): VmGroupBody {
  const issues: TemplateIssue[] = [];
  const add = (attribute: string, message: string) => issues.push(templateIssue(parsed.positions, attribute, message));
  const t = parsed.template;
  const roles: VmGroupRole[] = [];
  getVectors(t, 'ROLE').forEach((v, i) => {
    const at = `ROLE[${i}]`;
    const name = (v.NAME ?? '').trim();
    if (!ROLE_NAME.test(name)) add(`${at}/NAME`, `role name '${name}' must be 1–64 letters, digits, '_', '.' or '-'`);
    else if (roles.some((r) => r.name === name)) add(`${at}/NAME`, `role '${name}' is defined twice`);
    const policy = (v.POLICY ?? 'NONE').trim().toUpperCase();
    if (!(VM_GROUP_POLICIES as readonly string[]).includes(policy)) {
      add(`${at}/POLICY`, `POLICY must be one of ${VM_GROUP_POLICIES.join(', ')}, got '${v.POLICY}'`);
    }
    const hosts = (key: 'HOST_AFFINED' | 'HOST_ANTI_AFFINED') => {
      const text = (v[key] ?? '').trim();
      if (text === '') return [];
      const ids = text.split(',').map((s) => s.trim());
      const bad = ids.find((s) => !/^\d{1,9}$/.test(s));
      if (bad !== undefined) add(`${at}/${key}`, `'${bad}' is not a host id`);
      return ids.filter((s) => /^\d{1,9}$/.test(s)).map(Number);
    };
    const role: VmGroupRole = {
      id: i,
      name,
      policy: policy as VmGroupRolePolicy,
      host_affined: hosts('HOST_AFFINED'),
      host_anti_affined: hosts('HOST_ANTI_AFFINED'),
    };
    const both = role.host_affined.find((h) => role.host_anti_affined.includes(h));
    if (both !== undefined) add(`${at}/HOST_ANTI_AFFINED`, `host ${both} is both affined and anti-affined`);
    roles.push(role);
  });
  if (roles.length === 0) add('ROLE', 'a VM group needs at least one ROLE = [ NAME = … ]');
  const rules = (key: 'AFFINED' | 'ANTI_AFFINED'): string[][] =>
    getAll(t, key).map((value, i) => {
      const at = `${key}[${i}]`;
      if (typeof value !== 'string') {
        add(at, `${key} is a list of role names like "web, db", not a vector`);
        return [];
      }
      const names = value.split(',').map((s) => s.trim());
      if (names.length < 2) add(at, `${key} relates two or more roles`);
      for (const n of names) if (!roles.some((r) => r.name === n)) add(at, `role '${n}' is not defined`);
      return names;
    });
  const affined = rules('AFFINED');
  const antiAffined = rules('ANTI_AFFINED');
  for (const a of affined) {
    for (const b of antiAffined) {
      const shared = a.filter((n) => b.includes(n));
      if (shared.length >= 2) add('ANTI_AFFINED', `roles ${shared.join(', ')} are both affined and anti-affined`);
    }
  }
  throwIfIssues(issues);
  return { roles, affined, anti_affined: antiAffined };
}

/** A VM's membership as its template states it: `VMGROUP = [ VMGROUP_ID | VMGROUP_NAME, ROLE ]`. */
export function vmGroupRef(template: Template): { id?: number; name?: string; role: string } | undefined {
  const v = getVectors(template, 'VMGROUP')[0];
  if (!v) return undefined;
  const id = v.VMGROUP_ID !== undefined && /^\d+$/.test(v.VMGROUP_ID) ? Number(v.VMGROUP_ID) : undefined;
  return {
    ...(id !== undefined ? { id } : {}),
    ...(v.VMGROUP_NAME !== undefined ? { name: v.VMGROUP_NAME } : {}),
    role: v.ROLE ?? '',
  };
}

/** The NAME attribute, for the pool's name. */
export function vmGroupName(template: Template): string | undefined {
  return getString(template, 'NAME');
}
