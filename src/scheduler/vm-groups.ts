import type { HostPool } from './host-pool.js';
import type { PendingVm, SnapshotVmGroup, VmGroupPolicy } from './types.js';

/*
 * VM groups (OpenNebula VMGroupXML / VMGroupRole):
 *  - role ANTI_AFFINED: no two VMs of the role on one host;
 *  - role AFFINED, and an AFFINED rule between roles: all their VMs on the
 *    same host(s). When some already run, the others must go to a host running
 *    one of them; when none runs, the first to be scheduled leads: it needs a
 *    host with room for the whole set and satisfying every member's
 *    requirements, and the other pending members follow it to that host;
 *  - an ANTI_AFFINED rule between roles: a role's VMs avoid hosts running the
 *    other roles' VMs;
 *  - HOST_AFFINED / HOST_ANTI_AFFINED: host ids the role's VMs must / must not use.
 * Rules sharing a role are merged (OpenNebula's VMGroupRule::reduce).
 * Placements in this call count as running from the moment they are made.
 */

export interface RoleState {
  readonly label: string;
  readonly policy: VmGroupPolicy;
  readonly hostAffined: ReadonlySet<number> | null;
  readonly hostAntiAffined: ReadonlySet<number>;
  /** VMs of the role per host index. */
  readonly hosts: Map<number, number>;
  readonly antiRoles: RoleState[];
  readonly sets: AffinedSet[];
}

export interface AffinedSet {
  /** Member VM ids (every role of the set). */
  readonly members: number[];
  /** Members per host index; `total` = all of them. */
  readonly hosts: Map<number, number>;
  total: number;
}

export class VmGroups {
  private readonly roleOf = new Map<number, RoleState>();

  constructor(groups: readonly SnapshotVmGroup[], vms: readonly PendingVm[], pool: HostPool) {
    const extra = new Map<string, number[]>();
    for (const vm of vms) {
      if (vm.vmGroup === undefined) continue;
      const key = `${vm.vmGroup.id}/${vm.vmGroup.role}`;
      extra.set(key, [...(extra.get(key) ?? []), vm.id]);
    }
    for (const g of groups) this.addGroup(g, extra);
    for (let h = 0; h < pool.n; h++) {
      for (const id of pool.hosts[h]!.vmIds ?? []) if (this.roleOf.has(id)) this.record(id, h);
    }
  }

  roleFor(vmId: number): RoleState | undefined {
    return this.roleOf.get(vmId);
  }

  /**
   * Whether host h (id `hostId`) satisfies the role's rules for a VM that is
   * itself already counted on host index `current` (a rescheduled VM; -1: nowhere).
   */
  allows(role: RoleState, h: number, hostId: number, current: number): boolean {
    if (role.hostAffined !== null && !role.hostAffined.has(hostId)) return false;
    if (role.hostAntiAffined.has(hostId)) return false;
    const self = h === current ? 1 : 0;
    if (role.policy === 'ANTI_AFFINED' && (role.hosts.get(h) ?? 0) - self > 0) return false;
    for (const other of role.antiRoles) if ((other.hosts.get(h) ?? 0) > 0) return false;
    for (const set of role.sets) {
      const others = set.total - (current === -1 ? 0 : 1);
      if (others > 0 && (set.hosts.get(h) ?? 0) - self <= 0) return false;
    }
    return true;
  }

  /** The affined sets of the role that run nowhere yet (the VM would lead them). */
  ledSets(role: RoleState, current: number): AffinedSet[] {
    return role.sets.filter((s) => s.total - (current === -1 ? 0 : 1) === 0);
  }

  /** Counts a VM on host h (already running, or placed now). */
  record(vmId: number, h: number): void {
    const role = this.roleOf.get(vmId);
    if (role === undefined) return;
    role.hosts.set(h, (role.hosts.get(h) ?? 0) + 1);
    for (const set of role.sets) {
      set.hosts.set(h, (set.hosts.get(h) ?? 0) + 1);
      set.total++;
    }
  }

  private addGroup(g: SnapshotVmGroup, extra: ReadonlyMap<string, number[]>): void {
    const roles = new Map<string, RoleState>();
    const members = new Map<string, number[]>();
    for (const r of g.roles) {
      const ids = [...new Set([...(r.vmIds ?? []), ...(extra.get(`${g.id}/${r.name}`) ?? [])])];
      const role: RoleState = {
        label: `VM group ${g.name} role ${r.name}`,
        policy: r.policy ?? 'NONE',
        hostAffined: r.hostAffined !== undefined && r.hostAffined.length > 0 ? new Set(r.hostAffined) : null,
        hostAntiAffined: new Set(r.hostAntiAffined ?? []),
        hosts: new Map(),
        antiRoles: [],
        sets: [],
      };
      roles.set(r.name, role);
      members.set(r.name, ids);
      for (const id of ids) this.roleOf.set(id, role);
      if (role.policy === 'AFFINED') role.sets.push({ members: ids, hosts: new Map(), total: 0 });
    }
    for (const rule of g.antiAffined ?? []) {
      for (const a of rule) {
        for (const b of rule) {
          const ra = roles.get(a);
          const rb = roles.get(b);
          if (a !== b && ra !== undefined && rb !== undefined && !ra.antiRoles.includes(rb)) ra.antiRoles.push(rb);
        }
      }
    }
    for (const component of reduceRules(g.affined ?? [], roles)) {
      const set: AffinedSet = {
        members: component.flatMap((name) => members.get(name) ?? []),
        hosts: new Map(),
        total: 0,
      };
      for (const name of component) roles.get(name)!.sets.push(set);
    }
  }
}

/** Merges affined rules that share a role into connected groups of two or more roles. */
function reduceRules(rules: readonly (readonly string[])[], roles: ReadonlyMap<string, RoleState>): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  for (const rule of rules) {
    const known = rule.filter((name) => roles.has(name));
    for (const name of known) if (!parent.has(name)) parent.set(name, name);
    for (let i = 1; i < known.length; i++) parent.set(find(known[i]!), find(known[0]!));
  }
  const components = new Map<string, string[]>();
  for (const name of parent.keys()) {
    const root = find(name);
    components.set(root, [...(components.get(root) ?? []), name]);
  }
  return [...components.values()].filter((c) => c.length > 1);
}
