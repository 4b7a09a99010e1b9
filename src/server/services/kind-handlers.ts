import { OneError } from '../../core/errors.js';
import { parseImageFormat } from '../../core/image-format.js';
import {
  type DatastoreType,
  IMAGE_STATES,
  IMAGE_TYPES,
  type ImageOperation,
  type ImageType,
  type PoolObject,
} from '../../core/model.js';
import { ONEADMIN_GID, ONEADMIN_UID, type Principal } from '../../core/permissions.js';
import { getString } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';
import { parseVmGroupTemplate, vmGroupRef } from '../../core/vm-groups.js';
import type { TxStore } from '../../store/index.js';
import { type CreateInput, checkName, type KindHandler, type KindHandlers, ownedBy } from './object-service.js';
import type { SecgroupService } from './secgroup-service.js';
import { readTemplate } from './template-input.js';
import type { UserService } from './user-service.js';
import type { VmService } from './vm-service.js';
import type { VnetService } from './vnet-service.js';

/** Infrastructure objects belong to oneadmin; datastores and networks are usable by everyone by default. */
function infra(perms: number) {
  return { uid: ONEADMIN_UID, gid: ONEADMIN_GID, uname: 'oneadmin', gname: 'oneadmin', perms };
}

function nameFrom(input: CreateInput, template: Template): string {
  return checkName(input.name ?? getString(template, 'NAME'));
}

function invalid(message: string, attribute: string): OneError {
  return new OneError('E_TEMPLATE_INVALID', message, { attribute });
}

function intAttr(t: Template, name: string, fallback: number, min = 0): number {
  const v = getString(t, name);
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw invalid(`${name} must be an integer ≥ ${min}, got '${v}'`, `${name}[0]`);
  return n;
}

async function clusterExists(tx: TxStore, id: number): Promise<number> {
  if (!(await tx.get('cluster', id)))
    throw new OneError('E_NOT_FOUND', `cluster ${id} does not exist`, { kind: 'cluster', id });
  return id;
}

function refuseIfUsed(what: string, count: number, unit: string): void {
  if (count > 0) throw new OneError('E_IN_USE', `${what} still has ${count} ${unit}`, { count });
}

const group: KindHandler<'group'> = {
  adminCreate: true,
  async prepareCreate(_tx, _who, input) {
    const parsed = readTemplate(input, false);
    const name = nameFrom(input, parsed.template);
    // A group is owned by oneadmin and visible to its own members (group USE bit).
    return { ...infra(0o640), name, state: 0, lcmState: 0, template: parsed.template, body: {} };
  },
  async beforeDelete(tx, _who, obj) {
    if (obj.id <= 1) throw new OneError('E_PROTECTED', `group ${obj.name} is built in and cannot be deleted`);
    const members = await tx.list('user', { gid: obj.id });
    if (members.length > 0) {
      throw new OneError('E_GROUP_NOT_EMPTY', `group ${obj.name} still has ${members.length} primary member(s)`, {
        members: members.map((m) => m.id),
      });
    }
  },
};

const cluster: KindHandler<'cluster'> = {
  adminCreate: true,
  async prepareCreate(_tx, _who, input) {
    const parsed = readTemplate(input, false);
    return {
      ...infra(0o600),
      name: nameFrom(input, parsed.template),
      state: 0,
      lcmState: 0,
      template: parsed.template,
      body: {},
    };
  },
  async beforeDelete(tx, _who, obj) {
    if (obj.id === 0) throw new OneError('E_PROTECTED', 'the default cluster cannot be deleted');
    const hosts = (await tx.list('host')).filter((h) => h.body.cluster_id === obj.id);
    refuseIfUsed(`cluster ${obj.name}`, hosts.length, 'host(s)');
  },
};

const host: KindHandler<'host'> = {
  adminCreate: true,
  async prepareCreate(tx, _who, input) {
    const parsed = readTemplate(input, false);
    const clusterId = await clusterExists(tx, typeof input.cluster_id === 'number' ? input.cluster_id : 0);
    const imMad = typeof input.im_mad === 'string' ? input.im_mad : 'oneedge';
    const vmMad = typeof input.vm_mad === 'string' ? input.vm_mad : 'oneedge';
    return {
      ...infra(0o600),
      name: nameFrom(input, parsed.template),
      state: 0, // INIT until its agent reports
      lcmState: 0,
      template: parsed.template,
      body: {
        cluster_id: clusterId,
        im_mad: imMad,
        vm_mad: vmMad,
        credential_hash: null,
        join_token_hash: null,
        join_token_expires: 0,
        last_agent_seq: 0,
        facts: null,
        last_seen: 0,
        connected: false,
      },
    };
  },
  async beforeDelete(tx, _who, obj) {
    const vms = await tx.list('vm', { hostId: obj.id });
    refuseIfUsed(`host ${obj.name}`, vms.length, 'VM(s); terminate or migrate them first');
  },
};

const DATASTORE_TYPES: Record<string, DatastoreType> = {
  IMAGE_DS: 'IMAGE',
  SYSTEM_DS: 'SYSTEM',
  FILE_DS: 'FILE',
  IMAGE: 'IMAGE',
  SYSTEM: 'SYSTEM',
  FILE: 'FILE',
};

const datastore: KindHandler<'datastore'> = {
  adminCreate: true,
  async prepareCreate(_tx, _who, input) {
    const parsed = readTemplate(input);
    const t = parsed.template;
    const rawType = (getString(t, 'TYPE') ?? 'IMAGE_DS').toUpperCase();
    const type = DATASTORE_TYPES[rawType];
    if (!type) throw invalid(`TYPE must be IMAGE_DS, SYSTEM_DS or FILE_DS, got '${rawType}'`, 'TYPE[0]');
    return {
      ...infra(0o644),
      name: nameFrom(input, t),
      state: 0,
      lcmState: 0,
      template: t,
      body: {
        type,
        ds_mad: getString(t, 'DS_MAD') ?? (type === 'SYSTEM' ? '-' : 'fs'),
        tm_mad: getString(t, 'TM_MAD') ?? 'local',
        cluster_ids: [0],
      },
    };
  },
  async beforeDelete(tx, _who, obj) {
    if (obj.id <= 2) throw new OneError('E_PROTECTED', `datastore ${obj.name} is built in and cannot be deleted`);
    const images = (await tx.list('image')).filter((i) => i.body.datastore_id === obj.id);
    refuseIfUsed(`datastore ${obj.name}`, images.length, 'image(s)');
  },
};

/** What the image handler needs from the image service (content lives outside the row). */
export interface ImageHooks {
  freeBytes(dsId: number): Promise<number>;
  /** The row is being deleted in this transaction; its file goes after commit. */
  noteDelete(image: PoolObject<'image'>): void;
  checkPath(raw: string): Promise<unknown>;
  filesystems: readonly string[];
}

function imageHandler(hooks: ImageHooks | undefined): KindHandler<'image'> {
  return {
    adminCreate: false,
    async prepareCreate(tx, who, input) {
      const parsed = readTemplate(input);
      const t = parsed.template;
      const type = (getString(t, 'TYPE') ?? 'OS').toUpperCase() as ImageType;
      if (!IMAGE_TYPES.includes(type)) throw invalid(`TYPE must be one of ${IMAGE_TYPES.join(', ')}`, 'TYPE[0]');
      const rawFormat = getString(t, 'FORMAT') ?? getString(t, 'DRIVER');
      const format = parseImageFormat(rawFormat);
      if (rawFormat !== undefined && !format) {
        throw invalid(`FORMAT must be raw, qcow2, rootfs-tar or iso, got '${rawFormat}'`, 'FORMAT[0]');
      }
      const sha = getString(t, 'SHA256');
      if (sha !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha))
        throw invalid('SHA256 must be 64 hex digits', 'SHA256[0]');
      if (getString(t, 'SOURCE') !== undefined) {
        throw new OneError('E_PATH_INVALID', 'SOURCE is set by the datastore driver, not by users', {
          field: 'SOURCE',
        });
      }
      const dsId = typeof input.datastore_id === 'number' ? input.datastore_id : intAttr(t, 'DATASTORE_ID', 1);
      const ds = await tx.get('datastore', dsId);
      if (ds?.body.type !== 'IMAGE') {
        throw new OneError('E_VALIDATION', `datastore ${dsId} is not an image datastore`, { field: 'datastore_id' });
      }
      const persistent = (getString(t, 'PERSISTENT') ?? 'NO').toUpperCase() === 'YES';
      const path = getString(t, 'PATH');
      const sizeMb = intAttr(t, 'SIZE', 0);
      let state: number = IMAGE_STATES.INIT;
      let operation: ImageOperation | null = null;
      const now = Date.now();
      if (path !== undefined) {
        await hooks?.checkPath(path);
        state = IMAGE_STATES.LOCKED;
        operation = { kind: 'import', done_bytes: 0, total_bytes: 0, started_at: now };
      } else if (sizeMb > 0) {
        const fs = (getString(t, 'FS') ?? getString(t, 'FSTYPE') ?? 'raw').toLowerCase();
        if (hooks && !hooks.filesystems.includes(fs)) {
          throw invalid(`FS must be one of ${hooks.filesystems.join(', ')}, got '${fs}'`, 'FS[0]');
        }
        const free = hooks ? await hooks.freeBytes(dsId) : Number.POSITIVE_INFINITY;
        if (sizeMb * 1048576 > free) {
          throw new OneError(
            'E_DATASTORE_FULL',
            `a ${sizeMb} MB datablock does not fit: datastore ${dsId} has ${Math.floor(free / 1048576)} MB free`,
            { datastore_id: dsId, free_mb: Math.floor(free / 1048576) },
          );
        }
        state = IMAGE_STATES.LOCKED;
        operation = { kind: 'mkfs', done_bytes: 0, total_bytes: sizeMb * 1048576, started_at: now };
      }
      return {
        ...ownedBy(who),
        name: nameFrom(input, t),
        state,
        lcmState: 0,
        template: t,
        body: {
          type,
          datastore_id: dsId,
          persistent,
          format: format ?? 'raw',
          size_mb: sizeMb,
          source: '',
          sha256: null,
          running_vms: [],
          error: null,
          operation,
        },
      };
    },
    async beforeDelete(_tx, _who, obj) {
      if (obj.body.running_vms.length > 0) {
        throw new OneError('E_IN_USE', `image ${obj.id} is used by VM(s) ${obj.body.running_vms.join(', ')}`, {
          vms: obj.body.running_vms,
        });
      }
    },
    async delete(tx, _who, obj) {
      await tx.delete('image', obj.id, obj.revision);
      hooks?.noteDelete(obj);
    },
  };
}

/**
 * VM groups belong to their creator, like templates. The template is checked
 * on create and update (roles, policies, inter-role rules); a group that VMs
 * still belong to cannot be deleted, nor lose a role they use.
 */
const vmgroup: KindHandler<'vmgroup'> = {
  adminCreate: false,
  async prepareCreate(tx, who, input) {
    const parsed = readTemplate(input);
    const group = await tx.get('group', who.gid);
    return {
      ...ownedBy(who),
      gname: group?.name ?? '',
      name: nameFrom(input, parsed.template),
      state: 0,
      lcmState: 0,
      template: parsed.template,
      body: parseVmGroupTemplate(parsed),
    };
  },
  async checkTemplate(tx, _who, obj, parsed) {
    const body = parseVmGroupTemplate(parsed);
    const used = new Set((await vmsInGroup(tx, obj.id)).map((m) => m.role));
    const dropped = [...used].find((r) => !body.roles.some((role) => role.name === r));
    if (dropped !== undefined) {
      throw new OneError('E_IN_USE', `role '${dropped}' of VM group ${obj.name} still has VMs`, { role: dropped });
    }
    return parsed.template;
  },
  bodyFromTemplate: (_obj, parsed) => parseVmGroupTemplate(parsed),
  async beforeDelete(tx, _who, obj) {
    refuseIfUsed(`VM group ${obj.name}`, (await vmsInGroup(tx, obj.id)).length, 'VM(s)');
  },
};

/** Live VMs whose VMGROUP names this group (by id: creation resolves names to ids). */
export async function vmsInGroup(tx: TxStore, groupId: number): Promise<{ vmId: number; role: string }[]> {
  const out: { vmId: number; role: string }[] = [];
  for (const vm of await tx.list('vm', {})) {
    const ref = vmGroupRef(vm.template);
    if (ref?.id === groupId) out.push({ vmId: vm.id, role: ref.role });
  }
  return out;
}

export function kindHandlers(
  users: UserService,
  vms: VmService,
  nets: VnetService,
  secgroups: SecgroupService,
  images?: ImageHooks,
): KindHandlers {
  return {
    user: users.handler,
    group,
    cluster,
    host,
    datastore,
    image: imageHandler(images),
    vnet: nets.handler,
    secgroup: secgroups.handler,
    template: vms.templateHandler,
    vm: vms.vmHandler,
    vmgroup,
  };
}

export type { PoolObject, Principal };
