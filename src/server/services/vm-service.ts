import { OneError } from '../../core/errors.js';
import type { NewPoolObject, PoolObject, VmBody, VmHistoryRecord, VmNumaPlacement } from '../../core/model.js';
import type { Principal } from '../../core/permissions.js';
import {
  parseSchedAction,
  parseTemplateSchedActions,
  type SchedAction,
  type SchedActionInput,
} from '../../core/sched-actions.js';
import {
  applyUserInputs,
  getString,
  getVectors,
  mergeTemplates,
  type ObjectResolver,
  positionOf,
  substitute,
  type TemplateReference,
  type ValidateOptions,
  validateVmTemplate,
} from '../../core/template/index.js';
import type { ParsedTemplate, Template, TemplateVector } from '../../core/template/types.js';
import { emptyVmBody } from '../../core/vm-body.js';
import {
  applyAction,
  isVmAction,
  type Transition,
  VM_ACTIONS,
  type VmAction,
  type VmContext,
  type VmPhase,
} from '../../core/vm-state-machine.js';
import { LCM_STATE_NAMES, LCM_STATES, VM_STATE_NAMES, VM_STATES } from '../../core/vm-states.js';
import { checkVmExpressions } from '../../scheduler/index.js';
import type { Store, TxStore } from '../../store/index.js';
import { principalOf } from '../auth/sessions.js';
import { endsHotplug, settleInTx } from './hotplug-settle.js';
import { acquireImages, diskImageIds, releaseImages, resolveDiskImages } from './image-usage.js';
import { checkName, checkRevision, type KindHandler, type ObjectService } from './object-service.js';
import { resolveOsFiles } from './os-files.js';
import { readTemplate, type TemplateInput } from './template-input.js';
import type { VnetService } from './vnet-service.js';

export interface InstantiateOptions {
  name?: string | undefined;
  /** Create this many VMs; `%i` in the name becomes the index. */
  multiple?: number | undefined;
  /** Create on HOLD: the scheduler leaves them alone until `release`. */
  hold?: boolean | undefined;
  /** Answers to the template's USER_INPUTS. */
  userInputs?: Record<string, string> | undefined;
  /** Extra template merged over the registered one (like `onetemplate instantiate` with a file). */
  extra?: TemplateInput | undefined;
}

export interface ActionParams {
  hostId?: number | undefined;
  dsId?: number | undefined;
  /** The target host, already read and authorized in this transaction (the plan applier). */
  host?: PoolObject<'host'>;
  /** The scheduler's NUMA placement on the target host (pinned VMs). */
  numa?: VmNumaPlacement;
}

const MAX_MULTIPLE = 1000;

export function phaseOf(vm: PoolObject<'vm'>): VmPhase {
  return {
    state: VM_STATE_NAMES[vm.state] ?? 'INIT',
    lcm: LCM_STATE_NAMES[vm.lcmState] ?? 'LCM_INIT',
  } as VmPhase;
}

/** The state machine's memory between steps, kept on the VM. */
export function contextOf(vm: PoolObject<'vm'>): VmContext {
  const last = vm.body.last_action;
  return last && isVmAction(last) ? { lastAction: last } : {};
}

/** Lifecycle states whose host operation runs on the host the VM is leaving (history's previous record). */
const ON_SOURCE_HOST = new Set(['SAVE_MIGRATE', 'MIGRATE']);

/** The host a VM's pending operation must run on: the source host while a migration saves or moves it. */
export function opHostOf(vm: PoolObject<'vm'>): number | null {
  if (ON_SOURCE_HOST.has(LCM_STATE_NAMES[vm.lcmState] ?? '')) {
    const previous = vm.body.history.at(-2);
    if (previous) return previous.host_id;
  }
  return vm.body.host_id;
}

/**
 * What a transition does to the VM body beyond its state: the resched flag,
 * host release (terminal states, resubmit), a reverted migration (back to the
 * source host's history record), and the source host a finished move leaves
 * behind for cleanup. Shared by user actions and driver results.
 */
export function applyTransitionEffects(body: VmBody, t: Transition, now: number): void {
  if (t.effects.setResched) body.resched = true;
  if (t.effects.clearResched) body.resched = false;
  if (t.effects.releasePreviousHost) {
    const previous = body.history.at(-2);
    if (previous && previous.host_id !== body.host_id) {
      body.cleanup_hosts = [...new Set([...(body.cleanup_hosts ?? []), previous.host_id])];
    }
  }
  if (t.effects.revertMigration && body.history.length >= 2) {
    body.history = body.history.slice(0, -1);
    const source = body.history.at(-1) as VmHistoryRecord;
    source.etime = 0;
    body.host_id = source.host_id;
    body.host_name = source.host_name;
  }
  if (t.to.state === 'DONE' || t.effects.clearHost) {
    const last = body.history.at(-1);
    if (last && last.etime === 0) last.etime = now;
    body.host_id = null;
    body.host_name = null;
    body.numa = null;
  }
  if (t.to.state === 'DONE') body.etime = now;
  if (t.to.state === 'PENDING') body.host_id = null;
}

function withSchedActions(body: VmBody, template: Template): VmBody {
  const actions = parseTemplateSchedActions(template, body.stime);
  return actions.length > 0 ? { ...body, sched_actions: actions } : body;
}

function mustFindSchedAction(vm: PoolObject<'vm'>, list: readonly SchedAction[], saId: number): void {
  if (!list.some((sa) => sa.id === saId)) {
    throw new OneError('E_NOT_FOUND', `VM ${vm.id} has no scheduled action ${saId}`, { vm: vm.id, sched_action: saId });
  }
}

/**
 * VM templates and VMs: registration with validation and reference checks,
 * instantiation (user inputs, $VARIABLE substitution, --multiple), and VM
 * actions through the state machine. Actions that need a host are recorded
 * (state, pending host operation, history); the lifecycle controller acts on
 * them when agents exist.
 */
export class VmService {
  private readonly schedListeners: ((vmId: number, list: readonly SchedAction[] | undefined) => void)[] = [];
  private objects!: ObjectService;
  readonly templateHandler: KindHandler<'template'>;
  readonly vmHandler: KindHandler<'vm'>;

  constructor(
    private readonly store: Store,
    readonly nets?: VnetService,
  ) {
    this.templateHandler = {
      adminCreate: false,
      prepareCreate: async (tx, who, input) => {
        const parsed = readTemplate(input);
        await this.validate(tx, who, parsed, { deferVariables: true });
        return {
          uid: who.uid,
          gid: who.gid,
          uname: who.name,
          gname: '',
          perms: 0o600,
          name: checkName(input.name ?? getString(parsed.template, 'NAME')),
          state: 0,
          lcmState: 0,
          template: parsed.template,
          body: {},
        };
      },
      checkTemplate: async (tx, who, _obj, parsed) => {
        await this.validate(tx, who, parsed, { deferVariables: true });
        return parsed.template;
      },
    };
    this.vmHandler = {
      adminCreate: false,
      prepareCreate: async (tx, who, input) => {
        // `onevm create` keeps the template's NAME; only instantiation derives `<template>-<id>` names.
        const parsed = readTemplate(input);
        return this.prepareVm(tx, who, parsed, null, {
          ...input,
          name: input.name ?? getString(parsed.template, 'NAME'),
        });
      },
      checkTemplate: async (tx, who, _obj, parsed) => {
        await this.validate(tx, who, parsed);
        return parsed.template;
      },
      delete: async (tx, who, obj) => {
        await this.applyInTx(tx, who, obj, 'terminate', {});
      },
    };
  }

  bind(objects: ObjectService): void {
    this.objects = objects;
  }

  /** `onetemplate instantiate`: one or more VMs, created atomically. */
  async instantiate(who: Principal, templateId: number, opts: InstantiateOptions): Promise<PoolObject<'vm'>[]> {
    const count = opts.multiple ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > MAX_MULTIPLE) {
      throw new OneError('E_VALIDATION', `multiple must be an integer from 1 to ${MAX_MULTIPLE}`, {
        field: 'multiple',
      });
    }
    const extra = opts.extra?.template !== undefined ? readTemplate(opts.extra) : undefined;
    if (opts.name !== undefined) checkName(opts.name.replaceAll('%i', '0'));
    return this.store.objects.transaction(async (tx) => {
      const tpl = await this.objects.mustGetTx(tx, who, 'template', templateId, 'use');
      const merged = extra ? mergeTemplates(tpl.template, extra.template) : tpl.template;
      const answered = applyUserInputs(merged, opts.userInputs ?? {});
      const vms: PoolObject<'vm'>[] = [];
      for (let i = 0; i < count; i++) {
        const name = opts.name === undefined ? undefined : vmName(opts.name, i, count);
        const parsed: ParsedTemplate = { template: answered, positions: new Map(), format: 'json' };
        vms.push(await tx.create('vm', await this.prepareVm(tx, who, parsed, tpl.id, { name, hold: opts.hold })));
      }
      return vms;
    });
  }

  /** Runs a VM action through the state machine and records the result. */
  async action(
    who: Principal,
    vmId: number,
    action: VmAction,
    params: ActionParams,
    rev?: number,
  ): Promise<PoolObject<'vm'>> {
    return this.store.objects.transaction(async (tx) => {
      const vm = await this.objects.mustGetTx(tx, who, 'vm', vmId, VM_ACTIONS[action].adminOnly ? 'admin' : 'manage');
      checkRevision(vm, rev);
      return this.applyInTx(tx, who, vm, action, params);
    });
  }

  /** Adds a scheduled action; ids grow per VM. */
  async addSchedAction(who: Principal, vmId: number, input: SchedActionInput): Promise<PoolObject<'vm'>> {
    return this.changeSchedActions(who, vmId, input.action, (_vm, list) => {
      const id = list.reduce((max, sa) => Math.max(max, sa.id + 1), 0);
      return [...list, parseSchedAction(input, id, Math.floor(Date.now() / 1000), `SCHED_ACTION[${id}]`)];
    });
  }

  /** Replaces scheduled action `saId` (its last-run record starts afresh). */
  async updateSchedAction(
    who: Principal,
    vmId: number,
    saId: number,
    input: SchedActionInput,
  ): Promise<PoolObject<'vm'>> {
    return this.changeSchedActions(who, vmId, input.action, (vm, list) => {
      mustFindSchedAction(vm, list, saId);
      const next = parseSchedAction(input, saId, Math.floor(Date.now() / 1000), `SCHED_ACTION[${saId}]`);
      return list.map((sa) => (sa.id === saId ? next : sa));
    });
  }

  async deleteSchedAction(who: Principal, vmId: number, saId: number): Promise<PoolObject<'vm'>> {
    return this.changeSchedActions(who, vmId, undefined, (vm, list) => {
      mustFindSchedAction(vm, list, saId);
      return list.filter((sa) => sa.id !== saId);
    });
  }

  /** Called after a VM's schedules were written through this service (the runner keeps its timers). */
  onSchedActions(listener: (vmId: number, list: readonly SchedAction[] | undefined) => void): void {
    this.schedListeners.push(listener);
  }

  private async changeSchedActions(
    who: Principal,
    vmId: number,
    action: string | undefined,
    change: (vm: PoolObject<'vm'>, list: SchedAction[]) => SchedAction[],
  ): Promise<PoolObject<'vm'>> {
    // Scheduling an admin-only action (resched) needs what running it needs.
    const right = action !== undefined && isVmAction(action) && VM_ACTIONS[action].adminOnly ? 'admin' : 'manage';
    const vm = await this.store.objects.transaction(async (tx) => {
      const vm = await this.objects.mustGetTx(tx, who, 'vm', vmId, right);
      const list = change(vm, vm.body.sched_actions ?? []);
      return tx.update('vm', vm.id, vm.revision, (o) => ({ ...o, body: { ...o.body, sched_actions: list } }));
    });
    for (const listener of this.schedListeners) listener(vm.id, vm.body.sched_actions);
    return vm;
  }

  /**
   * Gives NETWORK_MODE=auto NICs the networks the scheduler chose: takes each
   * lease as the VM's owner (who must be allowed to use the network) inside
   * the placement's transaction and writes the filled NICs into the VM's
   * template. Throws (leaving nothing written) when a lease cannot be had.
   */
  async leaseAutoNics(
    tx: TxStore,
    vm: PoolObject<'vm'>,
    chosen: readonly { nicIndex: number; networkId: number }[],
  ): Promise<PoolObject<'vm'>> {
    if (chosen.length === 0) return vm;
    if (!this.nets) throw new OneError('E_UNAVAILABLE', 'NETWORK_MODE=auto needs the virtual network service');
    const user = await tx.get('user', vm.uid);
    if (!user) throw new OneError('E_NOT_FOUND', `the owner of VM ${vm.id} (user ${vm.uid}) no longer exists`);
    const owner = principalOf(user);
    const nics = getVectors(vm.template, 'NIC');
    for (const c of chosen) {
      const nic = nics[c.nicIndex];
      if (!nic) throw new OneError('E_VALIDATION', `VM ${vm.id} has no NIC ${c.nicIndex}`);
      nics[c.nicIndex] = await this.nets.leaseNic(
        tx,
        owner,
        { ...nic, NETWORK_ID: String(c.networkId) },
        vm.id,
        Number(nic.NIC_ID ?? c.nicIndex),
        `NIC[${c.nicIndex}]`,
      );
    }
    const template = { ...vm.template, NIC: nics.length === 1 ? (nics[0] as TemplateVector) : nics };
    return tx.replace(vm, { ...vm, template });
  }

  /** Applies an action inside an open transaction (controllers use it with the system principal). */
  async applyInTx(
    tx: TxStore,
    who: Principal,
    vm: PoolObject<'vm'>,
    action: VmAction,
    params: ActionParams,
  ): Promise<PoolObject<'vm'>> {
    const meta = VM_ACTIONS[action];
    if (action.startsWith('migrate') && vm.state === VM_STATES.POWEROFF) await refuseParkedPersistentMove(tx, vm);
    const t = applyAction(phaseOf(vm), action, contextOf(vm));
    const body: VmBody = {
      ...vm.body,
      history: vm.body.history.map((h) => ({ ...h })),
      pending_op: t.op ?? null,
      last_action: t.context.lastAction ?? null,
    };
    const now = Math.floor(Date.now() / 1000);
    if (meta.needsHost) {
      if (params.hostId === undefined) {
        throw new OneError('E_HOST_REQUIRED', `${action} needs a target host (host_id)`, { action });
      }
      const host =
        params.host?.id === params.hostId
          ? params.host
          : await this.objects.mustGetTx(tx, who, 'host', params.hostId, 'manage');
      const last = body.history.at(-1);
      if (last && last.etime === 0) last.etime = now;
      body.history = [
        ...body.history,
        {
          seq: body.history.length,
          host_id: host.id,
          host_name: host.name,
          ds_id: params.dsId ?? 0,
          action,
          stime: now,
          etime: 0,
        },
      ];
      body.host_id = host.id;
      body.host_name = host.name;
      body.sched_message = '';
      if (params.numa) body.numa = params.numa;
    }
    applyTransitionEffects(body, t, now);
    let template = vm.template;
    if (endsHotplug(vm, t)) {
      // recover --success/--failure/--delete of a hot-plug: settle it as the driver result would have.
      template = await settleInTx(tx, this.nets, vm, action === 'recover-success');
      body.hotplug = null;
    }
    if (t.to.state === 'DONE') await this.nets?.releaseVm(tx, vm.id);
    if (t.to.state === 'DONE') await releaseImages(tx, vm.id, template);
    // `vm` was read in this transaction: write over it (still a compare-and-set on its revision).
    return tx.replace(vm, { ...vm, template, state: VM_STATES[t.to.state], lcmState: LCM_STATES[t.to.lcm], body });
  }

  private async prepareVm(
    tx: TxStore,
    who: Principal,
    parsed: ParsedTemplate,
    templateId: number | null,
    input: { name?: unknown; hold?: unknown },
  ): Promise<NewPoolObject<'vm'>> {
    const id = await tx.allocateId('vm');
    const group = await tx.get('group', who.gid);
    const baseName = getString(parsed.template, 'NAME');
    const name = typeof input.name === 'string' ? input.name : `${baseName ?? 'vm'}-${id}`;
    const template = substitute(parsed.template, {
      vmId: id,
      name,
      uid: who.uid,
      uname: who.name,
      gid: who.gid,
      gname: group?.name ?? '',
      resolver: await this.resolver(tx, who),
      positions: parsed.positions,
    });
    await this.validate(tx, who, { ...parsed, template });
    const withDisks = await resolveDiskImages(tx, who, await this.resolveVmGroup(tx, who, template, parsed.positions));
    const grouped = await resolveOsFiles(tx, who, withDisks, (image) => this.mayUse(who, image));
    await acquireImages(tx, id, grouped);
    const withNics = this.nets ? await this.nets.leaseNics(tx, who, grouped, id) : grouped;
    const hold = input.hold === true;
    return {
      id,
      name: checkName(name),
      uid: who.uid,
      gid: who.gid,
      uname: who.name,
      gname: group?.name ?? '',
      perms: 0o600,
      state: VM_STATES[hold ? 'HOLD' : 'PENDING'],
      lcmState: LCM_STATES.LCM_INIT,
      template: { ...withNics, NAME: name },
      body: withSchedActions(emptyVmBody(templateId, Math.floor(Date.now() / 1000)), template),
    };
  }

  /** Structural validation, then every DISK/NIC reference must name an object the caller may USE. */
  private async validate(
    tx: TxStore,
    who: Principal,
    parsed: ParsedTemplate,
    options?: ValidateOptions,
  ): Promise<void> {
    const { references } = validateVmTemplate(parsed, options);
    // SCHED_REQUIREMENTS / SCHED_RANK errors surface at registration, never at dispatch time.
    checkVmExpressions(parsed.template, { deferVariables: options?.deferVariables === true });
    for (const ref of references) await this.checkReference(tx, who, ref);
  }

  /**
   * `VMGROUP = [ VMGROUP_ID | VMGROUP_NAME (+ VMGROUP_UID/UNAME), ROLE ]`: the group must exist,
   * be usable by the caller and have the role. The VM keeps both the id and the name, as oned does.
   */
  private async resolveVmGroup(
    tx: TxStore,
    who: Principal,
    template: Template,
    positions: ParsedTemplate['positions'],
  ): Promise<Template> {
    const v = getVectors(template, 'VMGROUP')[0];
    if (!v) return template;
    const fail = (sub: string, message: string) => {
      const at = positionOf(positions, `VMGROUP[0]/${sub}`);
      return new OneError('E_TEMPLATE_INVALID', `VMGROUP[0]/${sub}: ${message}`, {
        attribute: `VMGROUP[0]/${sub}`,
        ...(at ? { line: at.line, column: at.column } : {}),
      });
    };
    let group: PoolObject<'vmgroup'> | undefined;
    if (v.VMGROUP_ID !== undefined) {
      if (!/^\d+$/.test(v.VMGROUP_ID)) throw fail('VMGROUP_ID', `'${v.VMGROUP_ID}' is not an id`);
      group = await tx.get('vmgroup', Number(v.VMGROUP_ID));
    } else if (v.VMGROUP_NAME !== undefined) {
      const visible = await tx.list('vmgroup', { visibleTo: who });
      group =
        visible.find((g) => g.name === v.VMGROUP_NAME && g.uid === who.uid) ??
        visible.find((g) => g.name === v.VMGROUP_NAME);
    } else {
      throw fail('VMGROUP_NAME', 'VMGROUP needs VMGROUP_NAME or VMGROUP_ID');
    }
    const which = v.VMGROUP_ID !== undefined ? 'VMGROUP_ID' : 'VMGROUP_NAME';
    const label = v.VMGROUP_ID ?? `'${v.VMGROUP_NAME}'`;
    if (!group) throw fail(which, `VM group ${label} does not exist`);
    try {
      this.objects.authorize(who, 'vmgroup', group.id, group, 'use');
    } catch {
      throw fail(which, `VM group ${label} does not exist or you may not use it`);
    }
    const role = v.ROLE ?? '';
    if (!group.body.roles.some((r) => r.name === role)) {
      throw fail(
        'ROLE',
        `VM group ${group.name} has no role '${role}' (roles: ${group.body.roles.map((r) => r.name).join(', ')})`,
      );
    }
    return { ...template, VMGROUP: { ...v, VMGROUP_ID: String(group.id), VMGROUP_NAME: group.name, ROLE: role } };
  }

  private async checkReference(tx: TxStore, who: Principal, ref: TemplateReference): Promise<void> {
    const kind = ref.kind === 'image' ? 'image' : 'vnet';
    const label = ref.kind === 'image' ? 'image' : 'virtual network';
    let obj: PoolObject<'image' | 'vnet'> | undefined;
    if (ref.id !== undefined) obj = await tx.get(kind, ref.id);
    else if (ref.name !== undefined) {
      let uid = ref.ownerId ?? who.uid;
      if (ref.ownerName !== undefined) {
        const owner = (await tx.list('user')).find((u) => u.name === ref.ownerName);
        if (!owner) throw refError(ref, `user '${ref.ownerName}' does not exist`);
        uid = owner.id;
      }
      obj = (await tx.list(kind, { uid })).find((o) => o.name === ref.name);
      if (!obj && ref.ownerId === undefined && ref.ownerName === undefined) {
        obj = (await tx.list(kind, { visibleTo: who })).find((o) => o.name === ref.name);
      }
    }
    const what = ref.id !== undefined ? `${label} ${ref.id}` : `${label} '${ref.name}'`;
    if (!obj) throw refError(ref, `${what} does not exist`);
    try {
      this.objects.authorize(who, kind, obj.id, obj, 'use');
    } catch {
      throw refError(ref, `${what} does not exist or you may not use it`);
    }
  }

  /** Whether `who` may USE an image (OS/KERNEL_DS, INITRD_DS). */
  private mayUse(who: Principal, image: PoolObject<'image'>): boolean {
    try {
      this.objects.authorize(who, 'image', image.id, image, 'use');
      return true;
    } catch {
      return false;
    }
  }

  /** Object lookups for $NETWORK[…], $IMAGE[…] and $USER[…], loaded before the pure substitution runs. */
  private async resolver(tx: TxStore, who: Principal): Promise<ObjectResolver> {
    const user = await tx.get('user', who.uid);
    const images = await tx.list('image', { visibleTo: who });
    const vnets = await tx.list('vnet', { visibleTo: who });
    const find = <T extends PoolObject>(list: T[], byId: boolean, value: string | undefined) =>
      value === undefined ? undefined : list.find((o) => (byId ? String(o.id) === value : o.name === value));
    const withIdentity = (o: PoolObject | undefined) =>
      o ? { ...o.template, ID: String(o.id), NAME: o.name } : undefined;
    return {
      user: () => withIdentity(user),
      image: ({ key, value, disk }) => {
        const byId = key === 'IMAGE_ID' || disk?.IMAGE_ID !== undefined;
        return withIdentity(find(images, byId, byId ? (disk?.IMAGE_ID ?? value) : (disk?.IMAGE ?? value)));
      },
      network: ({ key, value, nic }) => {
        const byId = key === 'NETWORK_ID' || nic?.NETWORK_ID !== undefined;
        return withIdentity(find(vnets, byId, byId ? (nic?.NETWORK_ID ?? value) : (nic?.NETWORK ?? value)));
      },
    };
  }
}

function vmName(pattern: string, index: number, count: number): string {
  if (pattern.includes('%i')) return pattern.replaceAll('%i', String(index));
  return count > 1 ? `${pattern}-${index}` : pattern;
}

function refError(ref: TemplateReference, message: string): OneError {
  return new OneError('E_TEMPLATE_INVALID', `${ref.attribute}: ${message}`, {
    attribute: ref.attribute,
    ...(ref.line !== undefined ? { line: ref.line, column: ref.column } : {}),
  });
}

/**
 * A powered-off VM's persistent disks hold what it wrote on its host, and a
 * parked VM's migration has no step on that host to copy them back first:
 * refuse rather than start it elsewhere from the image as it was. (A running
 * VM's cold migration copies them back when it stops; undeploy/resume too.)
 */
async function refuseParkedPersistentMove(tx: TxStore, vm: PoolObject<'vm'>): Promise<void> {
  const persistent = await persistentDiskImages(tx, vm.template);
  if (persistent.length === 0) return;
  throw new OneError(
    'E_VM_ACTION_STATE',
    `VM ${vm.id} is powered off with persistent disk image(s) ${persistent.join(', ')} on its host: resume it and migrate it running (its disks are copied back when it stops), or undeploy and resume it`,
    { action: 'migrate', state: 'POWEROFF', images: persistent },
  );
}

/** Ids of the persistent images among a template's DISKs. */
export async function persistentDiskImages(tx: TxStore, template: Template): Promise<number[]> {
  const out: number[] = [];
  for (const id of new Set(diskImageIds(template))) if ((await tx.get('image', id))?.body.persistent) out.push(id);
  return out;
}
