import { type Kysely, sql } from 'kysely';
import type { RunWrite } from './database.js';
import type { Database, HostMonitoringTable, VmMonitoringTable } from './schema.js';

/** Rows per INSERT statement (PostgreSQL): well under its bound-parameter limit. */
const CHUNK = 1000;
const INSERT_HOST = 'insert into "host_monitoring" ("host_id", "ts", "kind", "data") values (?, ?, ?, ?)';
const INSERT_VM = 'insert into "vm_monitoring" ("vm_id", "host_id", "ts", "data") values (?, ?, ?, ?)';

export interface SeriesQuery {
  from: number;
  to: number;
  limit: number;
}

/**
 * Monitoring time series (migration 003): batched inserts (one transaction
 * per ingest tick, multi-row statements), range reads, expiry.
 */
export class MonitoringStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly runWrite?: RunWrite,
  ) {}

  /**
   * Writes every row of one tick in one transaction. On SQLite each row goes
   * through one prepared single-row INSERT: building and preparing a
   * 1,000-row statement (4,000 parameters, a new SQL text for every
   * remainder size) cost more than the rows themselves at 5,000 hosts.
   */
  async insert(hostRows: HostMonitoringTable[], vmRows: VmMonitoringTable[]): Promise<void> {
    if (hostRows.length === 0 && vmRows.length === 0) return;
    const run = this.runWrite;
    if (run) {
      await this.db.transaction().execute(async () => {
        for (const r of hostRows) run(INSERT_HOST, [r.host_id, r.ts, r.kind, r.data]);
        for (const r of vmRows) run(INSERT_VM, [r.vm_id, r.host_id, r.ts, r.data]);
      });
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < hostRows.length; i += CHUNK) {
        await trx
          .insertInto('host_monitoring')
          .values(hostRows.slice(i, i + CHUNK))
          .execute();
      }
      for (let i = 0; i < vmRows.length; i += CHUNK) {
        await trx
          .insertInto('vm_monitoring')
          .values(vmRows.slice(i, i + CHUNK))
          .execute();
      }
    });
  }

  async hostSeries(hostId: number, q: SeriesQuery, kinds?: string[]): Promise<HostMonitoringTable[]> {
    let query = this.db
      .selectFrom('host_monitoring')
      .selectAll()
      .where('host_id', '=', hostId)
      .where('ts', '>=', q.from)
      .where('ts', '<=', q.to);
    if (kinds && kinds.length > 0) query = query.where('kind', 'in', kinds);
    const rows = await query.orderBy('ts', 'desc').limit(q.limit).execute();
    return rows.reverse().map((r) => ({ ...r, ts: Number(r.ts) }));
  }

  async vmSeries(vmId: number, q: SeriesQuery): Promise<VmMonitoringTable[]> {
    const rows = await this.db
      .selectFrom('vm_monitoring')
      .selectAll()
      .where('vm_id', '=', vmId)
      .where('ts', '>=', q.from)
      .where('ts', '<=', q.to)
      .orderBy('ts', 'desc')
      .limit(q.limit)
      .execute();
    return rows.reverse().map((r) => ({ ...r, ts: Number(r.ts) }));
  }

  /** Deletes rows older than the given times (ms); returns how many went. */
  async expire(hostBefore: number | null, vmBefore: number | null): Promise<number> {
    let n = 0;
    if (hostBefore !== null) {
      const r = await this.db.deleteFrom('host_monitoring').where('ts', '<', hostBefore).executeTakeFirst();
      n += Number(r.numDeletedRows);
    }
    if (vmBefore !== null) {
      const r = await this.db.deleteFrom('vm_monitoring').where('ts', '<', vmBefore).executeTakeFirst();
      n += Number(r.numDeletedRows);
    }
    return n;
  }

  /** The host each VM is placed on (null when none), for the given ids. */
  async vmHosts(ids: number[]): Promise<Map<number, number | null>> {
    const out = new Map<number, number | null>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.db
        .selectFrom('vms')
        .select(['id', 'host_id'])
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .execute();
      for (const r of rows) out.set(r.id, r.host_id);
    }
    return out;
  }

  /** Hosts by state and live VMs by (state, lcm_state), for /metrics. */
  async fleet(): Promise<{ hosts: Map<number, number>; vms: { state: number; lcm: number; n: number }[] }> {
    const h = await this.db
      .selectFrom('hosts')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const v = await this.db
      .selectFrom('vms')
      .select(['state', 'lcm_state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('state', '!=', 6)
      .groupBy(['state', 'lcm_state'])
      .execute();
    return {
      hosts: new Map(h.map((r) => [r.state, Number(r.n)])),
      vms: v.map((r) => ({ state: r.state, lcm: r.lcm_state, n: Number(r.n) })),
    };
  }

  /** Time of a trivial query, ms (database health for /metrics). */
  async ping(): Promise<number> {
    const t = performance.now();
    await sql`select 1`.execute(this.db);
    return performance.now() - t;
  }

  /** Row counts, for /metrics. */
  async counts(): Promise<{ host: number; vm: number }> {
    const h = await sql<{ n: number }>`select count(*) as n from host_monitoring`.execute(this.db);
    const v = await sql<{ n: number }>`select count(*) as n from vm_monitoring`.execute(this.db);
    return { host: Number(h.rows[0]?.n ?? 0), vm: Number(v.rows[0]?.n ?? 0) };
  }
}
