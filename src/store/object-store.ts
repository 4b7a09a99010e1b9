import { CompiledQuery, type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import { OneError } from '../core/errors.js';
import type { KindBodies, NewPoolObject, ObjectKind, PoolObject, VmNumaPlacement } from '../core/model.js';
import type { Principal } from '../core/permissions.js';
import type { Template } from '../core/template/types.js';
import { vmHasSchedActions, vmNeedsWork } from '../core/vm-body.js';
import type { DirectSqlite } from './database.js';
import { objectJsonSql } from './render-sql.js';
import type { Database, ObjectTable, VmTable } from './schema.js';
import { TABLE_OF } from './tables.js';

export type ChangeOp = 'create' | 'update' | 'delete';

/** Published after the transaction that made the change commits. */
export interface ChangeEvent {
  kind: ObjectKind;
  op: ChangeOp;
  id: number;
  revision: number;
  uid: number;
  gid: number;
  perms: number;
  state: number;
  lcmState: number;
}

export interface ListQuery {
  /** Only objects this principal may USE (admins see everything). */
  visibleTo?: Principal;
  /** mine: owned by visibleTo; group: in one of its groups; all (default): every visible one. */
  scope?: 'mine' | 'group' | 'all';
  /** Keyset pagination: ids greater than this. */
  after?: number;
  /** Maximum rows; 0 or undefined = no limit. */
  limit?: number;
  /** VMs: exclude DONE unless true. */
  includeDone?: boolean;
  /** Exact STATE filter. */
  state?: number;
  hostId?: number;
  /** VMs only: just those core/vm-body.ts says have work outstanding (an indexed read). */
  needsWork?: boolean;
  /** VMs only: just those with scheduled actions still to run (an indexed read). */
  schedPending?: boolean;
  uid?: number;
  gid?: number;
  /** Only these ids (at most a few thousand per query). */
  ids?: readonly number[];
}

type Db = Kysely<Database> | Transaction<Database>;
/** A stored object's columns as read back. */
type AnyRow = ObjectTable;

const OBJECT_COLUMNS = [
  'id',
  'name',
  'uid',
  'gid',
  'uname',
  'gname',
  'perms',
  'state',
  'lcm_state',
  'template',
  'body',
  'revision',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof AnyRow)[];

const VM_DONE = 6;
/** Attempts of a transaction that lost a compare-and-set race to a concurrent writer. */
const MAX_ATTEMPTS = 8;
const EMPTY = Buffer.alloc(0);
const OWNER_USE = 0o400;
const GROUP_USE = 0o040;
const OTHER_USE = 0o004;

/**
 * Repository for every pooled object kind. All kinds share one row shape, so
 * one implementation serves them all; kind-specific data is JSON in `body`.
 * Writes use compare-and-set on `revision`; ids come from `pool_control`
 * and are never reused.
 */
export class ObjectStore {
  private readonly listeners = new Set<(e: ChangeEvent) => void>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly direct?: DirectSqlite,
  ) {}

  onChange(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs `fn` in one database transaction. Change events are published only
   * after commit, and not at all on rollback. When another writer changed a
   * row between this transaction's read and its compare-and-set write (possible
   * on PostgreSQL, where transactions overlap), the whole transaction runs
   * again on fresh data, a few times; a stale revision the caller asked for
   * (If-Match) is not such a race and fails at once.
   */
  async transaction<T>(fn: (tx: TxStore) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const events: ChangeEvent[] = [];
      try {
        const result = await this.db
          .transaction()
          .execute(async (trx) => fn(new TxStore(trx, events, this.dialect, this.direct)));
        for (const e of events) this.publish(e);
        return result;
      } catch (err) {
        const race = err instanceof OneError && err.code === 'E_REVISION_MISMATCH' && err.details.race === true;
        if (!race || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }

  async get<K extends ObjectKind>(kind: K, id: number): Promise<PoolObject<K> | undefined> {
    return getObject(this.db, kind, id);
  }

  /** The API representation, composed by the database, plus what a permission check needs; no parsing. */
  async getJson(kind: ObjectKind, id: number): Promise<StoredJson | undefined> {
    return this.db
      .selectFrom(TABLE_OF[kind] as 'vms')
      .select(['uid', 'gid', 'perms', 'revision', objectJsonSql(kind, this.dialect).as('json')])
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /**
   * A page of API representations composed and joined into the items of one
   * JSON array by the database itself, so listing 20,000 objects moves one buffer
   * into the process instead of 20,000 rows. SQLite hands the concatenation
   * over as a blob (no UTF-8 decoding into a JS string); the ordered subquery
   * fixes the order (SQLite does not flatten an ORDER BY subquery under an
   * aggregate). PostgreSQL orders inside string_agg.
   */
  async listJson(
    kind: ObjectKind,
    query: ListQuery = {},
  ): Promise<{ items: Buffer; count: number; lastId: number | null }> {
    const agg: RawBuilder<string | Buffer | null> =
      this.dialect === 'postgres' ? sql`string_agg(json, ',' ORDER BY id)` : sql`cast(group_concat(json, ',') as blob)`;
    let inner = this.db
      .selectFrom(TABLE_OF[kind] as 'vms')
      .select(['id', objectJsonSql(kind, this.dialect).as('json')])
      .orderBy('id');
    inner = applyFilters(inner, kind, query);
    if (query.limit) inner = inner.limit(query.limit);
    const row = await this.db
      .selectFrom(inner.as('page'))
      .select([agg.as('items'), (eb) => eb.fn.countAll<number>().as('count'), (eb) => eb.fn.max('id').as('last')])
      .executeTakeFirstOrThrow();
    const items = row.items === null ? EMPTY : typeof row.items === 'string' ? Buffer.from(row.items) : row.items;
    return { items, count: Number(row.count), lastId: row.last === null ? null : Number(row.last) };
  }

  async getByName<K extends ObjectKind>(kind: K, name: string, uid?: number): Promise<PoolObject<K> | undefined> {
    let q = this.db
      .selectFrom(TABLE_OF[kind] as 'users')
      .select(OBJECT_COLUMNS)
      .where('name', '=', name);
    if (uid !== undefined) q = q.where('uid', '=', uid);
    const row = await q.orderBy('id').limit(1).executeTakeFirst();
    return row ? rowToObject(kind, row) : undefined;
  }

  /** Id and revision of every object matching `query` (what a cache needs to find its stale entries). */
  async listRevisions(kind: ObjectKind, query: ListQuery = {}): Promise<{ id: number; revision: number }[]> {
    let q = this.db
      .selectFrom(TABLE_OF[kind] as 'vms')
      .select(['id', 'revision'])
      .orderBy('id');
    q = applyFilters(q, kind, query);
    return q.execute();
  }

  async listRows(kind: ObjectKind, query: ListQuery = {}): Promise<AnyRow[]> {
    return listRows(this.db, kind, query);
  }

  async list<K extends ObjectKind>(kind: K, query: ListQuery = {}): Promise<PoolObject<K>[]> {
    const direct = this.direct;
    // Holding the connection (Kysely's lock) keeps the direct read out of any transaction in progress.
    if (direct) return this.db.connection().execute(async (conn) => listObjects(direct, conn, kind, query));
    return (await listRows(this.db, kind, query)).map((r) => rowToObject(kind, r));
  }

  async count(kind: ObjectKind, query: ListQuery = {}): Promise<number> {
    const { limit: _l, after: _a, ...rest } = query;
    let q = this.db.selectFrom(TABLE_OF[kind] as 'users').select((eb) => eb.fn.countAll<number>().as('n'));
    q = applyFilters(q, kind, rest);
    const row = await q.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** How many visible objects are in each (state, lcm_state): one grouped query, no rows read into Node. */
  async countByState(
    kind: ObjectKind,
    query: ListQuery = {},
  ): Promise<{ state: number; lcm_state: number; n: number }[]> {
    const { limit: _l, after: _a, ...rest } = query;
    let q = this.db
      .selectFrom(TABLE_OF[kind] as 'users')
      .select(['state', 'lcm_state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['state', 'lcm_state']);
    q = applyFilters(q, kind, rest);
    const rows = await q.execute();
    return rows.map((r) => ({ state: Number(r.state), lcm_state: Number(r.lcm_state), n: Number(r.n) }));
  }

  /**
   * Sums numeric top-level template attributes (e.g. CPU, VCPU, MEMORY) over
   * the VMs matching `query` that hold a host in one of `states`, in the
   * database. A missing or non-numeric value counts as `fallback[name]` (or 0).
   */
  async sumVmTemplate(
    query: ListQuery,
    states: readonly number[],
    names: readonly string[],
    fallback: Readonly<Record<string, number>> = {},
  ): Promise<Record<string, number>> {
    const value = (name: string): RawBuilder<number> => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new OneError('E_INTERNAL', `bad template attribute ${name}`);
      const dflt = fallback[name] ?? 0;
      return this.dialect === 'postgres'
        ? sql<number>`sum(case when (template::jsonb ->> ${name}) ~ '^[-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?$' then (template::jsonb ->> ${name})::float8 else ${dflt}::float8 end)`
        : sql<number>`sum(coalesce(cast(json_extract(template, ${`$.${name}`}) as real), ${dflt}))`;
    };
    const { limit: _l, after: _a, ...rest } = query;
    let q = this.db
      .selectFrom('vms')
      .select(names.map((n, i) => value(n).as(`v${i}`)))
      .where('host_id', 'is not', null)
      .where('state', 'in', states.length > 0 ? [...states] : [-1]);
    q = applyFilters(q, 'vm', { ...rest, includeDone: true });
    const row = (await q.executeTakeFirst()) as Record<string, unknown> | undefined;
    return Object.fromEntries(names.map((n, i) => [n, Number(row?.[`v${i}`] ?? 0) || 0]));
  }

  /** Hosts matching `query` whose agent reported its machine, and the sum of their CPUs and memory (MB). */
  async sumHostFacts(query: ListQuery): Promise<{ reporting: number; cpus: number; memoryMb: number }> {
    const pg = this.dialect === 'postgres';
    const num = (field: string): RawBuilder<number> =>
      pg
        ? sql<number>`sum(case when jsonb_typeof(body::jsonb #> ${`{facts,${field}}`}) = 'number' then (body::jsonb #>> ${`{facts,${field}}`})::float8 else 0 end)`
        : sql<number>`sum(coalesce(cast(json_extract(body, ${`$.facts.${field}`}) as real), 0))`;
    const reporting: RawBuilder<number> = pg
      ? sql<number>`sum(case when jsonb_typeof(body::jsonb -> 'facts') = 'object' then 1 else 0 end)`
      : sql<number>`sum(case when json_type(body, '$.facts') = 'object' then 1 else 0 end)`;
    const { limit: _l, after: _a, ...rest } = query;
    let q = this.db
      .selectFrom('hosts')
      .select([reporting.as('reporting'), num('cpus').as('cpus'), num('memoryMb').as('memory')]);
    q = applyFilters(q, 'host', rest);
    const row = (await q.executeTakeFirst()) as Record<string, unknown> | undefined;
    return {
      reporting: Number(row?.reporting ?? 0) || 0,
      cpus: Number(row?.cpus ?? 0) || 0,
      memoryMb: Number(row?.memory ?? 0) || 0,
    };
  }

  async create<K extends ObjectKind>(kind: K, obj: NewPoolObject<K>): Promise<PoolObject<K>> {
    return this.transaction((tx) => tx.create(kind, obj));
  }

  async update<K extends ObjectKind>(
    kind: K,
    id: number,
    expectedRevision: number | undefined,
    mutate: (current: PoolObject<K>) => PoolObject<K> | Promise<PoolObject<K>>,
  ): Promise<PoolObject<K>> {
    return this.transaction((tx) => tx.update(kind, id, expectedRevision, mutate));
  }

  async delete(kind: ObjectKind, id: number, expectedRevision?: number): Promise<void> {
    await this.transaction((tx) => tx.delete(kind, id, expectedRevision));
  }

  private publish(e: ChangeEvent): void {
    for (const l of this.listeners) l(e);
  }
}

/** The store's operations bound to one open transaction. */
export class TxStore {
  constructor(
    readonly trx: Transaction<Database>,
    private readonly events: ChangeEvent[],
    private readonly dialect: 'sqlite' | 'postgres' = 'sqlite',
    private readonly direct?: DirectSqlite,
  ) {}

  get<K extends ObjectKind>(kind: K, id: number): Promise<PoolObject<K> | undefined> {
    return getObject(this.trx, kind, id);
  }

  async mustGet<K extends ObjectKind>(kind: K, id: number): Promise<PoolObject<K>> {
    const obj = await getObject(this.trx, kind, id);
    if (!obj) throw notFound(kind, id);
    return obj;
  }

  // async: a failing read (bad row, SQL error) rejects like every other store call instead of throwing.
  async list<K extends ObjectKind>(kind: K, query: ListQuery = {}): Promise<PoolObject<K>[]> {
    if (this.direct) return listObjects(this.direct, this.trx, kind, query);
    return (await listRows(this.trx, kind, query)).map((r) => rowToObject(kind, r));
  }

  /**
   * What the VMs in `states` placed on each of `hostIds` allocate, summed by
   * the database: CPU ×100 per core (template CPU, default 1, rounded per VM)
   * and memory in KB (template MEMORY MB, default 0) — the same figures as
   * `allocation()` in server/agents/placement.ts — plus the NUMA placements of
   * the pinned ones, the only rows parsed. Hosts without VMs are absent.
   */
  async hostAllocations(
    hostIds: readonly number[],
    states: readonly number[],
  ): Promise<Map<number, { cpu: number; memKb: number; numa: VmNumaPlacement[] }>> {
    const out = new Map<number, { cpu: number; memKb: number; numa: VmNumaPlacement[] }>();
    if (hostIds.length === 0) return out;
    const pg = this.dialect === 'postgres';
    const num = (name: string, dflt: number): RawBuilder<number> =>
      pg
        ? sql<number>`coalesce(case when (template::jsonb ->> ${name}) ~ '^[-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?$' then (template::jsonb ->> ${name})::float8 end, ${dflt}::float8)`
        : sql<number>`coalesce(cast(json_extract(template, ${`$.${name}`}) as real), ${dflt})`;
    const sums = await this.trx
      .selectFrom('vms')
      .select([
        'host_id',
        sql<number>`sum(round(${num('CPU', 1)} * 100))`.as('cpu'),
        sql<number>`sum(${num('MEMORY', 0)} * 1024)`.as('mem'),
      ])
      .where('host_id', 'in', [...hostIds])
      .where('state', 'in', [...states])
      .groupBy('host_id')
      .execute();
    for (const r of sums) out.set(Number(r.host_id), { cpu: Number(r.cpu), memKb: Number(r.mem), numa: [] });
    const pinned = await this.trx
      .selectFrom('vms')
      .select(['host_id', 'body'])
      .where('host_id', 'in', [...hostIds])
      .where('state', 'in', [...states])
      .where('body', 'like', '%"numa":{%')
      .execute();
    for (const r of pinned) {
      const numa = (JSON.parse(r.body) as KindBodies['vm']).numa;
      if (numa) out.get(Number(r.host_id))?.numa.push(numa);
    }
    return out;
  }

  /** Reserves the next id of a kind, for objects whose content depends on their id ($VMID). */
  allocateId(kind: ObjectKind): Promise<number> {
    return nextId(this.trx, kind);
  }

  async create<K extends ObjectKind>(kind: K, obj: NewPoolObject<K>): Promise<PoolObject<K>> {
    const id = obj.id ?? (await nextId(this.trx, kind));
    if (obj.id !== undefined) await bumpId(this.trx, kind, obj.id);
    const now = Date.now();
    const created: PoolObject<K> = { ...obj, kind, id, revision: 1, createdAt: now, updatedAt: now };
    await checkName(this.trx, created);
    await this.trx
      .insertInto(TABLE_OF[kind] as 'vms')
      .values(objectToRow(created))
      .execute();
    this.events.push(changeEvent(created, 'create'));
    return created;
  }

  async update<K extends ObjectKind>(
    kind: K,
    id: number,
    expectedRevision: number | undefined,
    mutate: (current: PoolObject<K>) => PoolObject<K> | Promise<PoolObject<K>>,
  ): Promise<PoolObject<K>> {
    const current = await this.mustGet(kind, id);
    if (expectedRevision !== undefined && current.revision !== expectedRevision) throw staleRevision(kind, current);
    return this.replace(current, await mutate(structuredClone(current)));
  }

  /**
   * Writes `next` over `current`, an object this transaction already read:
   * no second read. The write is still a compare-and-set on current's
   * revision, so a concurrent change makes it fail (E_REVISION_MISMATCH).
   * `next` must be a new object, not `current` modified in place.
   */
  async replace<K extends ObjectKind>(current: PoolObject<K>, next: PoolObject<K>): Promise<PoolObject<K>> {
    const { kind, id } = current;
    const updated: PoolObject<K> = { ...next, kind, id, revision: current.revision + 1, updatedAt: Date.now() };
    if (updated.name !== current.name || updated.uid !== current.uid) await checkName(this.trx, updated);
    // The hottest write path (every VM transition, every placement): one precompiled statement,
    // no query building.
    const row = objectToRow(updated);
    const columns = changedColumns(current, updated, row);
    const params: unknown[] = [];
    for (let i = 0; i < WRITABLE.length; i++) if (columns & (1 << i)) params.push(row[WRITABLE[i] as keyof VmTable]);
    params.push(id, current.revision);
    const text = updateSql(kind, columns, this.dialect);
    const changed = this.direct
      ? this.direct.run(text, params)
      : Number((await this.trx.executeQuery(CompiledQuery.raw(text, params))).numAffectedRows ?? 0);
    if (changed !== 1) throw staleRevision(kind, current, true);
    this.events.push(changeEvent(updated, 'update'));
    return updated;
  }

  async delete(kind: ObjectKind, id: number, expectedRevision?: number): Promise<void> {
    const current = await this.mustGet(kind, id);
    if (expectedRevision !== undefined && current.revision !== expectedRevision) throw staleRevision(kind, current);
    await this.trx
      .deleteFrom(TABLE_OF[kind] as 'users')
      .where('id', '=', id)
      .execute();
    this.events.push(changeEvent({ ...current, revision: current.revision + 1 }, 'delete'));
  }
}

function notFound(kind: ObjectKind, id: number): OneError {
  return new OneError('E_NOT_FOUND', `${kind} ${id} does not exist`, { kind, id });
}

/** `race`: the row changed under a running transaction (retryable), not a stale If-Match. */
function staleRevision(kind: ObjectKind, current: PoolObject, race = false): OneError {
  return new OneError(
    'E_REVISION_MISMATCH',
    `${kind} ${current.id} was changed by someone else (revision is now ${current.revision})`,
    { kind, id: current.id, revision: current.revision, ...(race ? { race: true } : {}) },
  );
}

async function getObject<K extends ObjectKind>(db: Db, kind: K, id: number): Promise<PoolObject<K> | undefined> {
  const row = await db
    .selectFrom(TABLE_OF[kind] as 'vms')
    .select(OBJECT_COLUMNS)
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? rowToObject(kind, row) : undefined;
}

function applyFilters<Q extends { where: (...args: never[]) => Q }>(q: Q, kind: ObjectKind, query: ListQuery): Q {
  // biome-ignore lint/suspicious/noExplicitAny: Kysely's builder type differs per table; the columns are common
  let b = q as any;
  const who = query.visibleTo;
  if (who && !who.admin) {
    const groups = who.groups.length > 0 ? who.groups : [-1];
    // biome-ignore lint/suspicious/noExplicitAny: see above
    b = b.where((eb: any) =>
      eb.or([
        eb.and([eb('uid', '=', who.uid), eb(sql`perms & ${OWNER_USE}`, '!=', 0)]),
        eb.and([eb('gid', 'in', groups), eb(sql`perms & ${GROUP_USE}`, '!=', 0)]),
        eb(sql`perms & ${OTHER_USE}`, '!=', 0),
      ]),
    );
  }
  if (who && query.scope === 'mine') b = b.where('uid', '=', who.uid);
  if (who && query.scope === 'group') b = b.where('gid', 'in', who.groups.length > 0 ? who.groups : [-1]);
  if (kind === 'vm' && !query.includeDone && query.state === undefined) b = b.where('state', '!=', VM_DONE);
  if (query.state !== undefined) b = b.where('state', '=', query.state);
  if (query.hostId !== undefined && kind === 'vm') b = b.where('host_id', '=', query.hostId);
  // A literal, not a parameter: only then can the planner use the partial index (where needs_work = 1).
  if (query.needsWork && kind === 'vm') b = b.where(sql<boolean>`"needs_work" = 1`);
  if (query.schedPending && kind === 'vm') b = b.where(sql<boolean>`"sched_pending" = 1`);
  if (query.uid !== undefined) b = b.where('uid', '=', query.uid);
  if (query.gid !== undefined) b = b.where('gid', '=', query.gid);
  if (query.after !== undefined) b = b.where('id', '>', query.after);
  if (query.ids !== undefined) b = b.where('id', 'in', query.ids.length > 0 ? query.ids : [-1]);
  return b as Q;
}

function selectRows(db: Db, kind: ObjectKind, query: ListQuery) {
  let q = db
    .selectFrom(TABLE_OF[kind] as 'vms')
    .select(OBJECT_COLUMNS)
    .orderBy('id');
  q = applyFilters(q, kind, query);
  return query.limit ? q.limit(query.limit) : q;
}

async function listRows(db: Db, kind: ObjectKind, query: ListQuery): Promise<AnyRow[]> {
  return selectRows(db, kind, query).execute();
}

/**
 * The objects matching `query`, each parsed as SQLite steps to its row: a
 * scheduling pass reads 100,000 VMs, and holding all their raw rows at once
 * made the garbage collector copy and promote them only to drop them. `db`
 * must be the connection the caller holds (a transaction, or Kysely's
 * `connection()`).
 */
function listObjects<K extends ObjectKind>(direct: DirectSqlite, db: Db, kind: K, query: ListQuery): PoolObject<K>[] {
  const { sql: text, parameters } = selectRows(db, kind, query).compile();
  const out: PoolObject<K>[] = [];
  direct.each(text, parameters, (row) => out.push(rowToObject(kind, row as AnyRow)));
  return out;
}

async function nextId(trx: Transaction<Database>, kind: ObjectKind): Promise<number> {
  const row = await trx
    .updateTable('pool_control')
    .set((eb) => ({ last_oid: eb('last_oid', '+', 1) }))
    .where('kind', '=', kind)
    .returning('last_oid')
    .executeTakeFirst();
  if (row) return row.last_oid;
  await trx.insertInto('pool_control').values({ kind, last_oid: 0 }).execute();
  return 0;
}

/** Keeps pool_control ahead of an explicitly chosen id (bootstrap objects). */
async function bumpId(trx: Transaction<Database>, kind: ObjectKind, id: number): Promise<void> {
  const row = await trx.selectFrom('pool_control').select('last_oid').where('kind', '=', kind).executeTakeFirst();
  if (!row) await trx.insertInto('pool_control').values({ kind, last_oid: id }).execute();
  else if (row.last_oid < id)
    await trx.updateTable('pool_control').set({ last_oid: id }).where('kind', '=', kind).execute();
}

const GLOBAL_NAMES = new Set<ObjectKind>(['user', 'group', 'cluster', 'host', 'datastore']);

async function checkName(trx: Transaction<Database>, obj: PoolObject): Promise<void> {
  if (obj.kind === 'vm') return;
  let q = trx
    .selectFrom(TABLE_OF[obj.kind] as 'users')
    .select('id')
    .where('name', '=', obj.name)
    .where('id', '!=', obj.id);
  if (!GLOBAL_NAMES.has(obj.kind)) q = q.where('uid', '=', obj.uid);
  const clash = await q.executeTakeFirst();
  if (clash) {
    throw new OneError(
      'E_NAME_TAKEN',
      `${/^[aeiou]/.test(obj.kind) ? 'an' : 'a'} ${obj.kind} named '${obj.name}' already exists (id ${clash.id})`,
      {
        kind: obj.kind,
        name: obj.name,
        id: clash.id,
      },
    );
  }
}

function changeEvent(obj: PoolObject, op: ChangeOp): ChangeEvent {
  return {
    kind: obj.kind,
    op,
    id: obj.id,
    revision: obj.revision,
    uid: obj.uid,
    gid: obj.gid,
    perms: obj.perms,
    state: obj.state,
    lcmState: obj.lcmState,
  };
}

/**
 * The stored text of a template read from the database, kept on the parsed
 * object under a non-enumerable symbol (JSON, spreads and structuredClone
 * leave it behind). Templates are immutable (every change builds a new object;
 * the parsed ones are frozen, so an in-place change throws instead of being
 * lost), and a write of an object whose template was not replaced skips
 * serialising it again. A property, not a WeakMap: 100,000 weak entries made
 * every young-generation GC of a scheduling pass process them.
 */
const TEXT: unique symbol = Symbol('stored template text');

function storedText(template: Template): string | undefined {
  return (template as { [TEXT]?: string })[TEXT];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const k in value) deepFreeze(value[k]);
    Object.freeze(value);
  }
  return value;
}

export function rowToObject<K extends ObjectKind>(kind: K, row: AnyRow): PoolObject<K> {
  const template = JSON.parse(row.template) as Template;
  Object.defineProperty(template, TEXT, { value: row.template });
  deepFreeze(template);
  return {
    kind,
    id: row.id,
    name: row.name,
    uid: row.uid,
    gid: row.gid,
    uname: row.uname,
    gname: row.gname,
    perms: row.perms,
    state: row.state,
    lcmState: row.lcm_state,
    template,
    body: JSON.parse(row.body) as KindBodies[K],
    revision: row.revision,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Columns an update may write (all but id and created_at), in statement order; the last three are the VMs' own. */
const WRITABLE: readonly (keyof VmTable)[] = [
  ...OBJECT_COLUMNS.filter((c) => c !== 'id' && c !== 'created_at'),
  'host_id',
  'needs_work',
  'sched_pending',
];

const bit = (c: keyof VmTable): number => 1 << WRITABLE.indexOf(c);
/** Written by every update: the body may change anywhere; revision and time always do. */
const ALWAYS = bit('body') | bit('revision') | bit('updated_at');

/**
 * The columns an update must write, as a bit set over WRITABLE: SQLite
 * rewrites every index whose column appears in an UPDATE's SET list, changed
 * or not, so writing only what changed keeps a placement from touching the
 * name, owner and group indexes (measured: a third of the applier's time).
 */
function changedColumns(current: PoolObject, next: PoolObject, row: VmTable): number {
  let set = ALWAYS;
  if (next.name !== current.name) set |= bit('name');
  if (next.uid !== current.uid) set |= bit('uid');
  if (next.gid !== current.gid) set |= bit('gid');
  if (next.uname !== current.uname) set |= bit('uname');
  if (next.gname !== current.gname) set |= bit('gname');
  if (next.perms !== current.perms) set |= bit('perms');
  if (next.state !== current.state) set |= bit('state');
  if (next.lcmState !== current.lcmState) set |= bit('lcm_state');
  if (next.template !== current.template && row.template !== storedText(current.template)) {
    set |= bit('template');
  }
  if (current.kind === 'vm') {
    const was = current.body as KindBodies['vm'];
    if (row.host_id !== was.host_id) set |= bit('host_id');
    if (row.needs_work !== (vmNeedsWork(was) ? 1 : 0)) set |= bit('needs_work');
    if (row.sched_pending !== (vmHasSchedActions(was) ? 1 : 0)) set |= bit('sched_pending');
  }
  return set;
}

const UPDATE_SQL = new Map<string, string>();

/** `UPDATE <table> SET <the columns in set> WHERE id = ? AND revision = ?` in the dialect's placeholder style. */
function updateSql(kind: ObjectKind, set: number, dialect: 'sqlite' | 'postgres'): string {
  const key = `${dialect}:${kind}:${set}`;
  let text = UPDATE_SQL.get(key);
  if (text === undefined) {
    let n = 0;
    const p = () => (dialect === 'postgres' ? `$${++n}` : '?');
    const assignments = WRITABLE.filter((_, i) => set & (1 << i)).map((c) => `"${c}" = ${p()}`);
    text = `update "${TABLE_OF[kind]}" set ${assignments.join(', ')} where "id" = ${p()} and "revision" = ${p()}`;
    UPDATE_SQL.set(key, text);
  }
  return text;
}

function objectToRow(obj: PoolObject): VmTable {
  // An unchanged template (most writes) reuses the text it was read from.
  const row: VmTable = {
    id: obj.id,
    name: obj.name,
    uid: obj.uid,
    gid: obj.gid,
    uname: obj.uname,
    gname: obj.gname,
    perms: obj.perms,
    state: obj.state,
    lcm_state: obj.lcmState,
    template: storedText(obj.template) ?? JSON.stringify(obj.template),
    body: JSON.stringify(obj.body),
    revision: obj.revision,
    created_at: obj.createdAt,
    updated_at: obj.updatedAt,
    host_id: null,
    needs_work: 0,
    sched_pending: 0,
  };
  if (obj.kind === 'vm') {
    const body = obj.body as KindBodies['vm'];
    row.host_id = body.host_id;
    row.needs_work = vmNeedsWork(body) ? 1 : 0;
    row.sched_pending = vmHasSchedActions(body) ? 1 : 0;
  } else {
    delete (row as Partial<VmTable>).host_id;
    delete (row as Partial<VmTable>).needs_work;
    delete (row as Partial<VmTable>).sched_pending;
  }
  return row;
}

export type { AnyRow };

export interface StoredJson {
  uid: number;
  gid: number;
  perms: number;
  revision: number;
  json: string;
}
