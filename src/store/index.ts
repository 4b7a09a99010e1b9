import { type DatabaseConfig, openDatabase } from './database.js';
import { LeaseStore } from './lease-store.js';
import { MonitoringStore } from './monitoring-store.js';
import { ObjectStore } from './object-store.js';
import { TokenStore } from './token-store.js';

export type { DatabaseConfig } from './database.js';
export type { LeaseKind, LeaseRow } from './lease-store.js';
export { LeaseStore } from './lease-store.js';
export { MonitoringStore, type SeriesQuery } from './monitoring-store.js';
export type { AnyRow, ChangeEvent, ChangeOp, ListQuery, StoredJson, TxStore } from './object-store.js';
export { ObjectStore, rowToObject } from './object-store.js';
export type { StoredToken } from './token-store.js';
export { TokenStore } from './token-store.js';

/** Everything the server needs from persistence. */
export interface Store {
  kind: DatabaseConfig['kind'];
  objects: ObjectStore;
  tokens: TokenStore;
  leases: LeaseStore;
  /** Monitoring time series (migration 003). */
  monitoring: MonitoringStore;
  close(): Promise<void>;
}

export async function openStore(config: DatabaseConfig): Promise<Store> {
  const opened = await openDatabase(config);
  return {
    kind: opened.kind,
    objects: new ObjectStore(opened.db, opened.kind, opened.direct),
    tokens: new TokenStore(opened.db),
    leases: new LeaseStore(opened.db),
    monitoring: new MonitoringStore(opened.db, opened.direct?.run),
    close: opened.close,
  };
}
