import { OneError } from '../../core/errors.js';
import type { KindBodies, NewPoolObject, ObjectKind, PoolObject } from '../../core/model.js';
import { checkChmod, DEFAULT_PERMISSIONS, hasRight, type Principal, type Right } from '../../core/permissions.js';
import { mergeTemplates } from '../../core/template/index.js';
import type { ParsedTemplate, Template } from '../../core/template/types.js';
import type { ListQuery, Store, TxStore } from '../../store/index.js';
import { readTemplate, type TemplateInput } from './template-input.js';

/** What a create request carries: a name, a template, and kind-specific fields. */
export interface CreateInput extends TemplateInput {
  name?: string | undefined;
  [field: string]: unknown;
}

/**
 * Kind-specific rules plugged into the generic object service: how a create
 * request becomes a row, how an updated template is checked, and what must
 * hold before a delete.
 */
export interface KindHandler<K extends ObjectKind> {
  /** Only administrators may create (hosts, clusters, datastores, networks, users, groups). */
  adminCreate: boolean;
  prepareCreate(tx: TxStore, who: Principal, input: CreateInput): Promise<NewPoolObject<K>>;
  /** Validates (and may normalise) a new template for an existing object. */
  checkTemplate?(tx: TxStore, who: Principal, obj: PoolObject<K>, parsed: ParsedTemplate): Promise<Template>;
  /** The body for an updated template, for kinds whose body is what their template means (VM groups). */
  bodyFromTemplate?(obj: PoolObject<K>, parsed: ParsedTemplate): PoolObject<K>['body'];
  beforeDelete?(tx: TxStore, who: Principal, obj: PoolObject<K>): Promise<void>;
  /** Runs in the delete transaction instead of removing the row (VMs are terminated, not removed). */
  delete?(tx: TxStore, who: Principal, obj: PoolObject<K>): Promise<void>;
}

export type KindHandlers = { [K in ObjectKind]: KindHandler<K> };

const NAME_RE = /^[^\s/\\'"`<>|:;&$][^/\\'"`<>|;&$]{0,127}$/;

/** Object names: 1–128 characters, no path separators, quotes or shell metacharacters. */
export function checkName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.trim() !== name) {
    throw new OneError(
      'E_VALIDATION',
      `invalid ${field} ${JSON.stringify(name)}: 1-128 characters, no leading/trailing blanks, no / \\ ' " \` < > | ; & $`,
      { field },
    );
  }
  return name;
}

export function ownedBy(who: Principal): { uid: number; gid: number; uname: string; gname: string; perms: number } {
  return { uid: who.uid, gid: who.gid, uname: who.name, gname: '', perms: DEFAULT_PERMISSIONS };
}

/**
 * Generic create/read/update/delete/chown/chmod for every pooled kind, with the
 * permission checks OpenNebula applies (USE to see, MANAGE to change, ADMIN for
 * admin bits; only administrators change owners).
 */
export class ObjectService {
  constructor(
    private readonly store: Store,
    private readonly handlers: KindHandlers,
  ) {}

  async get<K extends ObjectKind>(who: Principal, kind: K, id: number, right: Right = 'use'): Promise<PoolObject<K>> {
    const obj = await this.store.objects.get(kind, id);
    return this.authorize(who, kind, id, obj, right);
  }

  authorize<K extends ObjectKind>(
    who: Principal,
    kind: K,
    id: number,
    obj: PoolObject<K> | undefined,
    right: Right,
  ): PoolObject<K> {
    // Objects the caller may not even see are reported as missing, so ids do not leak existence.
    if (!obj || !hasRight(who, obj, 'use'))
      throw new OneError('E_NOT_FOUND', `${kind} ${id} does not exist`, { kind, id });
    if (!hasRight(who, obj, right)) {
      throw new OneError('E_FORBIDDEN', `${right.toUpperCase()} permission on ${kind} ${id} is required`, {
        kind,
        id,
        right,
      });
    }
    return obj;
  }

  async mustGetTx<K extends ObjectKind>(tx: TxStore, who: Principal, kind: K, id: number, right: Right) {
    return this.authorize(who, kind, id, await tx.get(kind, id), right);
  }

  listQuery(who: Principal, query: Omit<ListQuery, 'visibleTo'>): ListQuery {
    return { ...query, visibleTo: who };
  }

  async create<K extends ObjectKind>(who: Principal, kind: K, input: CreateInput): Promise<PoolObject<K>> {
    const handler = this.handlers[kind] as KindHandler<K>;
    if (handler.adminCreate && !who.admin) {
      throw new OneError('E_FORBIDDEN', `only administrators (oneadmin group) may create a ${kind}`, { kind });
    }
    return this.store.objects.transaction(async (tx) => {
      const obj = await handler.prepareCreate(tx, who, input);
      if (!obj.gname) obj.gname = (await tx.get('group', obj.gid))?.name ?? '';
      return tx.create(kind, obj);
    });
  }

  /** Replaces (or with `append`, merges into) the template of an object. */
  async updateTemplate<K extends ObjectKind>(
    who: Principal,
    kind: K,
    id: number,
    input: TemplateInput & { append?: boolean | undefined },
    expectedRevision: number | undefined,
  ): Promise<PoolObject<K>> {
    const parsed = readTemplate(input);
    const handler = this.handlers[kind] as KindHandler<K>;
    return this.store.objects.transaction(async (tx) => {
      const obj = await this.mustGetTx(tx, who, kind, id, 'manage');
      checkRevision(obj, expectedRevision);
      let template = input.append ? mergeTemplates(obj.template, parsed.template) : parsed.template;
      // Positions point into the submitted text, so they only describe a replaced template.
      const checked: ParsedTemplate = input.append ? { template, positions: new Map(), format: parsed.format } : parsed;
      if (handler.checkTemplate) template = await handler.checkTemplate(tx, who, obj, checked);
      const body = handler.bodyFromTemplate?.(obj, { ...checked, template }) ?? obj.body;
      return tx.update(kind, id, obj.revision, (o) => ({ ...o, template, body }));
    });
  }

  async rename<K extends ObjectKind>(who: Principal, kind: K, id: number, name: unknown, rev?: number) {
    const valid = checkName(name);
    return this.store.objects.transaction(async (tx) => {
      const obj = await this.mustGetTx(tx, who, kind, id, 'manage');
      checkRevision(obj, rev);
      return tx.update(kind, id, obj.revision, (o) => ({ ...o, name: valid }));
    });
  }

  async delete<K extends ObjectKind>(who: Principal, kind: K, id: number, rev?: number): Promise<void> {
    const handler = this.handlers[kind] as KindHandler<K>;
    await this.store.objects.transaction(async (tx) => {
      const obj = await this.mustGetTx(tx, who, kind, id, 'manage');
      checkRevision(obj, rev);
      if (handler.beforeDelete) await handler.beforeDelete(tx, who, obj);
      if (handler.delete) await handler.delete(tx, who, obj);
      else await tx.delete(kind, id, obj.revision);
    });
  }

  /**
   * Changes owner and/or group. A new owner needs a global administrator; a new
   * group needs MANAGE and membership of that group (or an administrator).
   */
  async chown<K extends ObjectKind>(
    who: Principal,
    kind: K,
    id: number,
    change: { uid?: number | undefined; gid?: number | undefined },
    rev?: number,
  ): Promise<PoolObject<K>> {
    return this.store.objects.transaction(async (tx) => {
      const obj = await this.mustGetTx(tx, who, kind, id, 'manage');
      checkRevision(obj, rev);
      const next = { uid: obj.uid, gid: obj.gid, uname: obj.uname, gname: obj.gname };
      if (change.uid !== undefined && change.uid !== obj.uid) {
        if (!who.admin) throw new OneError('E_FORBIDDEN', 'only administrators may change the owner', { kind, id });
        const user = await tx.get('user', change.uid);
        if (!user)
          throw new OneError('E_NOT_FOUND', `user ${change.uid} does not exist`, { kind: 'user', id: change.uid });
        next.uid = user.id;
        next.uname = user.name;
      }
      if (change.gid !== undefined && change.gid !== obj.gid) {
        if (!who.admin && !who.groups.includes(change.gid)) {
          throw new OneError('E_FORBIDDEN', `you are not a member of group ${change.gid}`, {
            kind,
            id,
            gid: change.gid,
          });
        }
        const group = await tx.get('group', change.gid);
        if (!group) {
          throw new OneError('E_NOT_FOUND', `group ${change.gid} does not exist`, { kind: 'group', id: change.gid });
        }
        next.gid = group.id;
        next.gname = group.name;
      }
      return tx.update(kind, id, obj.revision, (o) => ({ ...o, ...next }));
    });
  }

  async chmod<K extends ObjectKind>(who: Principal, kind: K, id: number, perms: number, rev?: number) {
    return this.store.objects.transaction(async (tx) => {
      const obj = await this.mustGetTx(tx, who, kind, id, 'manage');
      checkRevision(obj, rev);
      checkChmod(who, obj, perms);
      return tx.update(kind, id, obj.revision, (o) => ({ ...o, perms }));
    });
  }
}

export function checkRevision(obj: PoolObject, expected: number | undefined): void {
  if (expected !== undefined && obj.revision !== expected) {
    throw new OneError(
      'E_REVISION_MISMATCH',
      `${obj.kind} ${obj.id} is at revision ${obj.revision}, not ${expected}; re-read it and retry`,
      { kind: obj.kind, id: obj.id, revision: obj.revision },
    );
  }
}

export type Bodies = KindBodies;
