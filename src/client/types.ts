import type { KindBodies, ObjectKind } from '../core/model.js';
import type { Template, TemplateFormat } from '../core/template/types.js';

/** Fields every object of the API carries, whatever its kind. */
export interface ApiObjectBase {
  id: number;
  name: string;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Octal owner/group/other digits, use=4 manage=2 admin=1, e.g. "640". */
  permissions: string;
  /** Send back as If-Match to change only this revision. */
  revision: number;
  /** ms since the epoch */
  created_at: number;
  updated_at: number;
  /** State name (VMs, hosts, images, networks). */
  state?: string;
  /** VM LCM_STATE name. */
  lcm_state?: string;
  template: Template;
}

/** Kind-specific fields as the API shows them (secrets such as password hashes never leave the server). */
export type ApiBodies = {
  [K in ObjectKind]: K extends 'user' ? Omit<KindBodies['user'], 'password_hash'> : KindBodies[K];
};

/** One object as `GET /api/v1/<plural>/:id` returns it. */
export type ApiObject<K extends ObjectKind = ObjectKind> = ApiObjectBase & ApiBodies[K];

export interface ListResult<K extends ObjectKind = ObjectKind> {
  items: ApiObject<K>[];
  /** Pass as `after` for the next page; null on the last page. */
  next: number | null;
  /** Visible objects matching the filter. */
  total: number;
}

export interface ListQuery {
  /** Page size; 0 means everything (server default 500). */
  limit?: number;
  /** Return objects with an id greater than this. */
  after?: number;
  scope?: 'mine' | 'group' | 'all';
  /** State name, e.g. PENDING. */
  state?: string;
  /** Include VMs in DONE. */
  include_done?: boolean;
  host_id?: number;
}

export interface ListOptions extends ListQuery {
  /** Follow `next` until the last page and return every item in one result. */
  all?: boolean;
  signal?: AbortSignal;
}

/** A template as the API accepts it: text in any syntax, or the canonical object. */
export interface TemplateInput {
  template?: string | Template;
  format?: TemplateFormat | 'auto';
}

export interface CreateInput extends TemplateInput {
  name?: string;
  /** Kind-specific fields: `password`, `group_id` (user), `cluster_id`, `im_mad`, `vm_mad` (host), `datastore_id` (image), `hold` (vm). */
  [field: string]: unknown;
}

export interface UpdateInput extends TemplateInput {
  /** Merge into the current template instead of replacing it. */
  append?: boolean;
}

export interface ChownInput {
  uid?: number;
  gid?: number;
}

export interface InstantiateOptions {
  /** VM name; `%i` becomes the index when several are created. */
  name?: string;
  multiple?: number;
  /** Create on HOLD instead of PENDING. */
  hold?: boolean;
  /** Answers to the template's USER_INPUTS. */
  user_inputs?: Record<string, string>;
  /** Merged over the registered template. */
  extra?: TemplateInput;
}

export interface VmActionParams {
  /** Target host of deploy and migrate. */
  host_id?: number;
  /** System datastore of deploy and migrate. */
  ds_id?: number;
}

export interface SessionUser {
  id: number;
  name: string;
  gid: number;
  groups: number[];
  admin: boolean;
}

export interface TokenResponse {
  token: string;
  /** ms since the epoch */
  expires_at: number;
  user: SessionUser;
}

export interface Health {
  status: string;
  version: string;
  database: string;
}

/** `GET /api/v1/summary`: counts over what the caller may use. */
export interface CloudSummary {
  vms: {
    total: number;
    /** `PENDING`, `HOLD`, …; ACTIVE VMs as `ACTIVE/<LCM_STATE>`. */
    by_state: Record<string, number>;
    allocated: { cpu: number; vcpu: number; memory_mb: number };
  };
  hosts: { total: number; by_state: Record<string, number>; reporting: number; cpus: number; memory_mb: number };
  counts: Record<ObjectKind, number>;
}

/** One change from `GET /api/v1/events`. */
export interface ObjectEvent {
  seq: number;
  kind: ObjectKind;
  op: 'create' | 'update' | 'delete';
  id: number;
  revision: number;
  state?: string;
  lcm_state?: string;
}

/**
 * `GET /api/v1/events?monitoring=true`: usage samples of these VMs were
 * stored (the newest at `ts`); re-read their monitoring from there.
 */
export interface VmMonitoringEvent {
  kind: 'vm';
  vms: { id: number; host_id: number; ts: number }[];
}

/**
 * What `events()` hands to its callback: a change, a request to re-list
 * because events were missed, or (when asked for) new VM monitoring samples.
 */
export type StreamEvent =
  | { type: 'change'; event: ObjectEvent }
  | { type: 'resync'; seq: number }
  | { type: 'monitoring'; event: VmMonitoringEvent };

/** A piece of a followed VM log (`GET /vms/:id/log?follow=true`). */
export interface LogChunk {
  data: string;
  /** On the first chunk: older output was cut (the tail was shorter than the log). */
  truncated: boolean;
}

/** How a log follow ended: `gone` (the workload's log went away) or `aborted` (the caller stopped). */
export interface LogFollowEnd {
  end: string;
}

/** Time window of a monitoring query: ms since the epoch (default: the last hour), newest `limit` rows. */
export interface MonitoringQuery {
  from?: number;
  to?: number;
  limit?: number;
}

/** `GET /hosts/:id/monitoring`: host records (kind host = usage, system, datastore) with their fields. */
export interface HostMonitoring {
  host_id: number;
  from: number;
  to: number;
  items: ({ ts: number; kind: 'host' | 'system' | 'datastore' } & Record<string, unknown>)[];
}

/** One VM usage sample: CPU in percent of one core, memory in KB, cumulative byte counters. */
export interface VmUsageSample {
  ts: number;
  host_id: number;
  cpu: number;
  memoryKb: number;
  netRxBytes: number;
  netTxBytes: number;
  diskReadBytes: number;
  diskWriteBytes: number;
}

/** `GET /vms/:id/monitoring`: the newest sample the front-end holds and the stored ones in the window. */
export interface VmMonitoring {
  vm_id: number;
  from: number;
  to: number;
  current: VmUsageSample | null;
  items: VmUsageSample[];
}
