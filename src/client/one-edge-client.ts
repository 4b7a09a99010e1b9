import type { HostOperatorAction } from '../core/host-states.js';
import { OBJECT_KINDS, type ObjectKind } from '../core/model.js';
import type { SchedActionInput } from '../core/sched-actions.js';
import type { VmAction } from '../core/vm-state-machine.js';
import { ApiError } from './api-error.js';
import { type EventStreamOptions, streamEvents } from './event-stream.js';
import { HttpTransport, hasXhr, type TransportOptions } from './http-transport.js';
import { type FollowLogOptions, followLog } from './log-stream.js';
import type {
  ApiObject,
  ChownInput,
  CloudSummary,
  CreateInput,
  Health,
  HostMonitoring,
  InstantiateOptions,
  ListOptions,
  ListResult,
  LogChunk,
  LogFollowEnd,
  MonitoringQuery,
  SessionUser,
  StreamEvent,
  TokenResponse,
  UpdateInput,
  VmActionParams,
  VmMonitoring,
} from './types.js';

/** URL segment of each kind's collection (`/api/v1/<plural>`). */
export const PLURALS: Readonly<Record<ObjectKind, string>> = {
  user: 'users',
  group: 'groups',
  cluster: 'clusters',
  host: 'hosts',
  datastore: 'datastores',
  image: 'images',
  vnet: 'vnets',
  secgroup: 'secgroups',
  template: 'templates',
  vm: 'vms',
  vmgroup: 'vmgroups',
};

export function isObjectKind(value: unknown): value is ObjectKind {
  return typeof value === 'string' && (OBJECT_KINDS as readonly string[]).includes(value);
}

function monitoringQuery(q: MonitoringQuery, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams(extra);
  if (q.from !== undefined) p.set('from', String(Math.floor(q.from)));
  if (q.to !== undefined) p.set('to', String(Math.floor(q.to)));
  if (q.limit !== undefined) p.set('limit', String(Math.floor(q.limit)));
  const s = p.toString();
  return s ? `?${s}` : '';
}

function checkId(id: number, what = 'id'): number {
  if (!Number.isInteger(id) || id < 0) {
    throw new ApiError('E_VALIDATION', `${what} must be a non-negative integer, got ${String(id)}`, { field: what });
  }
  return id;
}

/**
 * The typed client of the ONEedge REST API (`/api/v1`): one method per route.
 * Every failure is an ApiError with the API's stable code. Uses only web
 * platform APIs (fetch, AbortSignal, TextDecoder), so the web UI shares it.
 *
 *     const one = await OneEdgeClient.login('http://127.0.0.1:2633', 'oneadmin', pw);
 *     const { items } = await one.list('vm', { all: true });
 */
export class OneEdgeClient {
  private readonly http: HttpTransport;
  /** Set by `login`: the token's expiry and the user it belongs to. */
  session: TokenResponse | undefined;

  constructor(url: string, token: string | undefined, options: TransportOptions = {}) {
    this.http = new HttpTransport(url, token, options);
  }

  /** Exchanges a username and password for a token; the client then uses it. */
  static async login(
    url: string,
    username: string,
    password: string,
    options: TransportOptions = {},
  ): Promise<OneEdgeClient> {
    const client = new OneEdgeClient(url, undefined, options);
    const session = await client.http.request<TokenResponse>('POST', '/auth/token', { body: { username, password } });
    client.http.setToken(session.token);
    client.session = session;
    return client;
  }

  /** The front-end URL without `/api/v1`. */
  get url(): string {
    return this.http.baseUrl;
  }

  get token(): string | undefined {
    return this.http.bearer;
  }

  // --- system and session ------------------------------------------------------------------

  async health(signal?: AbortSignal): Promise<Health> {
    return this.http.request('GET', '/health', { signal });
  }

  /** VMs and hosts by state, allocated capacity and object counts (what a dashboard shows). */
  async summary(signal?: AbortSignal): Promise<CloudSummary> {
    return this.http.request('GET', '/summary', { signal });
  }

  async whoami(signal?: AbortSignal): Promise<SessionUser> {
    return this.http.request('GET', '/auth/whoami', { signal });
  }

  /** Revokes this client's token on the server. */
  async logout(): Promise<void> {
    await this.http.request('DELETE', '/auth/token');
    this.http.setToken(undefined);
    this.session = undefined;
  }

  // --- generic pool operations ------------------------------------------------------------

  /** One page of a pool, or with `all: true` every page (following `next`) in one result. */
  async list<K extends ObjectKind>(kind: K, options: ListOptions = {}): Promise<ListResult<K>> {
    const { all, signal, ...query } = options;
    const path = `/${PLURALS[kind]}`;
    const first = await this.http.request<ListResult<K>>('GET', path, { query: { ...query }, signal });
    if (!all) return first;
    const items = [...first.items];
    let next = first.next;
    while (next !== null) {
      const page: ListResult<K> = await this.http.request<ListResult<K>>('GET', path, {
        query: { ...query, after: next },
        signal,
      });
      items.push(...page.items);
      // A server that does not advance would loop forever; stop instead.
      next = page.next !== null && page.next > next ? page.next : null;
    }
    return { items, next: null, total: first.total };
  }

  async get<K extends ObjectKind>(kind: K, id: number, signal?: AbortSignal): Promise<ApiObject<K>> {
    return this.http.request('GET', `/${PLURALS[kind]}/${checkId(id)}`, { signal });
  }

  async create<K extends ObjectKind>(kind: K, input: CreateInput): Promise<ApiObject<K>> {
    return this.http.request('POST', `/${PLURALS[kind]}`, { body: input });
  }

  /** Replaces (or with `append`, merges into) the template; with `ifMatchRevision` only if unchanged since. */
  async update<K extends ObjectKind>(
    kind: K,
    id: number,
    input: UpdateInput,
    ifMatchRevision?: number,
  ): Promise<ApiObject<K>> {
    return this.http.request('PUT', `/${PLURALS[kind]}/${checkId(id)}`, { body: input, ifMatch: ifMatchRevision });
  }

  /** Deletes an object; for a VM this is `terminate`. */
  async delete(kind: ObjectKind, id: number, ifMatchRevision?: number): Promise<void> {
    await this.http.request('DELETE', `/${PLURALS[kind]}/${checkId(id)}`, { ifMatch: ifMatchRevision });
  }

  async chown<K extends ObjectKind>(
    kind: K,
    id: number,
    owner: ChownInput,
    ifMatchRevision?: number,
  ): Promise<ApiObject<K>> {
    return this.http.request('POST', `/${PLURALS[kind]}/${checkId(id)}/chown`, {
      body: owner,
      ifMatch: ifMatchRevision,
    });
  }

  /** `permissions`: octal digits (`640`) or letters (`um-u-----`). */
  async chmod<K extends ObjectKind>(
    kind: K,
    id: number,
    permissions: string,
    ifMatchRevision?: number,
  ): Promise<ApiObject<K>> {
    return this.http.request('POST', `/${PLURALS[kind]}/${checkId(id)}/chmod`, {
      body: { permissions },
      ifMatch: ifMatchRevision,
    });
  }

  async rename<K extends ObjectKind>(
    kind: K,
    id: number,
    name: string,
    ifMatchRevision?: number,
  ): Promise<ApiObject<K>> {
    return this.http.request('POST', `/${PLURALS[kind]}/${checkId(id)}/rename`, {
      body: { name },
      ifMatch: ifMatchRevision,
    });
  }

  /**
   * An id from an id or a name: digits are taken as an id as they are; a name
   * is looked up among the visible objects of the kind. Throws E_NOT_FOUND
   * when nothing has the name and E_VALIDATION when several objects do.
   */
  async resolveId(kind: ObjectKind, ref: string | number): Promise<number> {
    if (typeof ref === 'number') return checkId(ref);
    if (/^\d+$/.test(ref)) return Number(ref);
    const { items } = await this.list(kind, { all: true });
    const hits = items.filter((o) => o.name === ref);
    if (hits.length === 0) throw new ApiError('E_NOT_FOUND', `no ${kind} named '${ref}'`, { kind, name: ref });
    if (hits.length > 1) {
      const ids = hits.map((o) => o.id);
      throw new ApiError(
        'E_VALIDATION',
        `${hits.length} ${kind}s are named '${ref}' (ids ${ids.join(', ')}); use an id`,
        {
          field: 'name',
          ids,
        },
      );
    }
    return hits[0]!.id;
  }

  // --- templates --------------------------------------------------------------------------

  /** `onetemplate instantiate`: the new VMs (PENDING, or HOLD with `hold`). */
  async instantiate(templateId: number, options: InstantiateOptions = {}): Promise<ApiObject<'vm'>[]> {
    const res = await this.http.request<{ items: ApiObject<'vm'>[] }>(
      'POST',
      `/templates/${checkId(templateId)}/instantiate`,
      { body: options },
    );
    return res.items;
  }

  async cloneTemplate(templateId: number, name: string): Promise<ApiObject<'template'>> {
    return this.http.request('POST', `/templates/${checkId(templateId)}/clone`, { body: { name } });
  }

  // --- VMs --------------------------------------------------------------------------------

  /** Runs a state-machine action (`terminate`, `poweroff-hard`, `deploy`, `recover-retry`, …). */
  async vmAction(
    id: number,
    action: VmAction,
    params: VmActionParams = {},
    ifMatchRevision?: number,
  ): Promise<ApiObject<'vm'>> {
    return this.http.request('POST', `/vms/${checkId(id)}/actions/${encodeURIComponent(action)}`, {
      body: params,
      ifMatch: ifMatchRevision,
    });
  }

  /** The actions the VM's current state allows. */
  async vmAllowedActions(id: number): Promise<VmAction[]> {
    const res = await this.http.request<{ actions: VmAction[] }>('GET', `/vms/${checkId(id)}/actions`);
    return res.actions;
  }

  /** Schedules an action on a VM (SCHED_ACTION): `time` is epoch seconds or "+SECONDS". */
  async vmSchedAdd(id: number, input: SchedActionInput): Promise<ApiObject<'vm'>> {
    return this.http.request('POST', `/vms/${checkId(id)}/sched-actions`, { body: input });
  }

  async vmSchedUpdate(id: number, saId: number, input: SchedActionInput): Promise<ApiObject<'vm'>> {
    return this.http.request('PUT', `/vms/${checkId(id)}/sched-actions/${checkId(saId)}`, { body: input });
  }

  async vmSchedDelete(id: number, saId: number): Promise<ApiObject<'vm'>> {
    return this.http.request('DELETE', `/vms/${checkId(id)}/sched-actions/${checkId(saId)}`);
  }

  /** The tail of a VM's console log, read from its host through the front-end. */
  async vmLog(id: number, tailBytes?: number): Promise<{ data: string; truncated: boolean }> {
    const q = tailBytes === undefined ? '' : `?tail=${Math.max(0, Math.floor(tailBytes))}`;
    return this.http.request('GET', `/vms/${checkId(id)}/log${q}`);
  }

  /**
   * Follows a VM's console log as its workload writes (`kubectl logs -f`):
   * `onChunk` gets the tail, then new output, until the workload's log goes
   * away (resolves `{end: 'gone'}`) or `signal` aborts (`{end: 'aborted'}`).
   */
  async followVmLog(
    id: number,
    onChunk: (chunk: LogChunk) => void,
    signal: AbortSignal,
    options?: FollowLogOptions,
  ): Promise<LogFollowEnd> {
    return followLog(this.http, checkId(id), onChunk, signal, options);
  }

  // --- virtual networks ---------------------------------------------------------------------

  /** Adds an address range (`AR = [TYPE=IP4, IP=…, SIZE=…]` text or the AR's attributes). */
  async vnetAddAr(id: number, template: string): Promise<ApiObject<'vnet'>> {
    return this.http.request('POST', `/vnets/${checkId(id)}/ars`, { body: { template } });
  }

  async vnetUpdateAr(id: number, arId: number, template: string): Promise<ApiObject<'vnet'>> {
    return this.http.request('PUT', `/vnets/${checkId(id)}/ars/${checkId(arId)}`, { body: { template } });
  }

  async vnetRmAr(id: number, arId: number): Promise<ApiObject<'vnet'>> {
    return this.http.request('DELETE', `/vnets/${checkId(id)}/ars/${checkId(arId)}`);
  }

  /** Holds (or releases) one address: `{ip}`, `{ip6}` or `{mac}`. */
  async vnetHold(id: number, address: VnetAddress): Promise<ApiObject<'vnet'>> {
    return this.http.request('POST', `/vnets/${checkId(id)}/hold`, { body: address });
  }

  async vnetRelease(id: number, address: VnetAddress): Promise<ApiObject<'vnet'>> {
    return this.http.request('POST', `/vnets/${checkId(id)}/release`, { body: address });
  }

  /** Reserves `size` consecutive addresses as a new network named `name`, owned by the caller. */
  async vnetReserve(id: number, size: number, name: string, arId?: number): Promise<ApiObject<'vnet'>> {
    return this.http.request('POST', `/vnets/${checkId(id)}/reserve`, {
      body: { size, name, ...(arId !== undefined ? { ar_id: arId } : {}) },
    });
  }

  async vnetLeases(id: number): Promise<VnetLease[]> {
    const res = await this.http.request<{ items: VnetLease[] }>('GET', `/vnets/${checkId(id)}/leases`);
    return res.items;
  }

  // --- images -----------------------------------------------------------------------------

  /**
   * Uploads the content of a new image (state INIT) as a raw stream. `size`
   * goes out as Content-Length so an upload that cannot fit is refused before
   * it starts; `sha256`, when given, must match what arrives.
   */
  async uploadImage(
    id: number,
    body: ReadableStream<Uint8Array> | Blob | Uint8Array,
    options: {
      size?: number;
      sha256?: string;
      signal?: AbortSignal;
      /** Called as bytes leave (in a browser, for a Blob/File: through XMLHttpRequest's upload progress). */
      onProgress?: (sent: number, total: number) => void;
    } = {},
  ): Promise<ApiObject<'image'>> {
    const headers: Record<string, string> = {};
    if (options.sha256) headers['x-content-sha256'] = options.sha256;
    const path = `/images/${checkId(id)}/content`;
    const progress = options.onProgress;
    if (progress && hasXhr() && body instanceof Blob) {
      return this.http.uploadXhr(path, body, headers, progress, options.signal);
    }
    if (options.size !== undefined) headers['content-length'] = String(options.size);
    let stream = body;
    if (progress) {
      const total =
        options.size ?? (body instanceof Uint8Array ? body.byteLength : body instanceof Blob ? body.size : 0);
      let sent = 0;
      const source =
        body instanceof ReadableStream
          ? body
          : body instanceof Uint8Array
            ? new Blob([new Uint8Array(body)]).stream()
            : body.stream();
      stream = source.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            sent += chunk.byteLength;
            progress(sent, total);
            controller.enqueue(chunk);
          },
        }),
      );
    }
    return this.http.upload(path, stream, headers, options.signal);
  }

  async cloneImage(id: number, name: string, datastoreId?: number): Promise<ApiObject<'image'>> {
    return this.http.request('POST', `/images/${checkId(id)}/clone`, {
      body: datastoreId === undefined ? { name } : { name, datastore_id: datastoreId },
    });
  }

  async imageAction(
    id: number,
    action: 'persistent' | 'nonpersistent' | 'enable' | 'disable',
  ): Promise<ApiObject<'image'>> {
    return this.http.request('POST', `/images/${checkId(id)}/actions/${action}`);
  }

  /** `onevm disk-saveas`: a new image made from a VM's disk; LOCKED until the host uploaded it. */
  async diskSaveAs(vmId: number, diskId: number, name: string): Promise<ApiObject<'image'>> {
    return this.http.request('POST', `/vms/${checkId(vmId)}/disks/${checkId(diskId, 'disk_id')}/saveas`, {
      body: { name },
    });
  }

  /**
   * `onevm nic-attach`: a NIC as a vector (`{NETWORK: 'net', IP: '…'}`) or
   * template text (`NIC = [ NETWORK = net ]`). Returns the VM: HOTPLUG_NIC
   * while its host plugs the interface, or POWEROFF when only the template changed.
   */
  async attachNic(vmId: number, nic: Record<string, string> | string): Promise<ApiObject<'vm'>> {
    return this.http.request('POST', `/vms/${checkId(vmId)}/nics`, {
      body: { template: typeof nic === 'string' ? nic : { NIC: nic } },
    });
  }

  /** `onevm nic-detach`: the lease is freed once the host removed the interface. */
  async detachNic(vmId: number, nicId: number): Promise<ApiObject<'vm'>> {
    return this.http.request('DELETE', `/vms/${checkId(vmId)}/nics/${checkId(nicId, 'nic_id')}`);
  }

  /**
   * `onevm disk-attach`: an image (`{IMAGE: 'data'}` / `{IMAGE_ID: '3'}`) or a
   * volatile disk (`{TYPE: 'fs', SIZE: '64', FORMAT: 'ext4'}`), or template text.
   */
  async attachDisk(vmId: number, disk: Record<string, string> | string): Promise<ApiObject<'vm'>> {
    return this.http.request('POST', `/vms/${checkId(vmId)}/disks`, {
      body: { template: typeof disk === 'string' ? disk : { DISK: disk } },
    });
  }

  /** `onevm disk-detach`: unmounted, copied back to a persistent image, removed. */
  async detachDisk(vmId: number, diskId: number): Promise<ApiObject<'vm'>> {
    return this.http.request('DELETE', `/vms/${checkId(vmId)}/disks/${checkId(diskId, 'disk_id')}`);
  }

  /** Per-host download counters of an image (since the front-end started). */
  async imageTransfers(id: number): Promise<{
    image_id: number;
    hosts: { host_id: number; requests: number; bytes: number; uploads: number; upload_bytes: number }[];
  }> {
    return this.http.request('GET', `/images/${checkId(id)}/transfers`);
  }

  /** A VM's usage: the newest sample and the stored history within the window. */
  async vmMonitoring(id: number, query: MonitoringQuery = {}): Promise<VmMonitoring> {
    return this.http.request('GET', `/vms/${checkId(id)}/monitoring${monitoringQuery(query)}`);
  }

  /**
   * A single-use token for the VM's VNC console (GRAPHICS=[TYPE=VNC]) and the
   * absolute WebSocket URL to connect with it (RFB in binary frames).
   */
  async vmVncToken(id: number): Promise<{ token: string; url: string; wsUrl: string; expires_in_ms: number }> {
    const res = await this.http.request<{ token: string; url: string; expires_in_ms: number }>(
      'POST',
      `/vms/${checkId(id)}/vnc-token`,
    );
    const origin = new URL(this.url);
    const wsUrl = `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}${res.url}`;
    return { ...res, wsUrl };
  }

  // --- hosts ------------------------------------------------------------------------------

  /** A host's monitoring records (usage, system, datastore) within the window. */
  async hostMonitoring(
    id: number,
    query: MonitoringQuery & { kinds?: ('host' | 'system' | 'datastore')[] } = {},
  ): Promise<HostMonitoring> {
    const extra = query.kinds?.length ? { kind: query.kinds.join(',') } : {};
    return this.http.request('GET', `/hosts/${checkId(id)}/monitoring${monitoringQuery(query, extra)}`);
  }

  /** A one-time join token and the command to run on the edge host. */
  async hostJoinToken(
    id: number,
  ): Promise<{ token: string; expires_at: number; ca_hash: string; url: string; command: string }> {
    return this.http.request('POST', `/hosts/${checkId(id)}/join-token`);
  }

  /** Revokes the host's agent credential and closes its session. */
  async revokeHost(id: number): Promise<ApiObject<'host'>> {
    return this.http.request('POST', `/hosts/${checkId(id)}/revoke`);
  }

  async hostAction(id: number, action: HostOperatorAction, ifMatchRevision?: number): Promise<ApiObject<'host'>> {
    return this.http.request('POST', `/hosts/${checkId(id)}/actions/${action}`, { ifMatch: ifMatchRevision });
  }

  async enableHost(id: number): Promise<ApiObject<'host'>> {
    return this.hostAction(id, 'enable');
  }

  async disableHost(id: number): Promise<ApiObject<'host'>> {
    return this.hostAction(id, 'disable');
  }

  async offlineHost(id: number): Promise<ApiObject<'host'>> {
    return this.hostAction(id, 'offline');
  }

  // --- users ------------------------------------------------------------------------------

  /** Changes a password; the server ends that user's sessions. */
  async setPassword(userId: number, password: string): Promise<void> {
    await this.http.request('POST', `/users/${checkId(userId)}/password`, { body: { password } });
  }

  async addGroup(userId: number, gid: number): Promise<ApiObject<'user'>> {
    return this.http.request('PUT', `/users/${checkId(userId)}/groups/${checkId(gid, 'gid')}`);
  }

  async delGroup(userId: number, gid: number): Promise<ApiObject<'user'>> {
    return this.http.request('DELETE', `/users/${checkId(userId)}/groups/${checkId(gid, 'gid')}`);
  }

  async enableUser(userId: number): Promise<ApiObject<'user'>> {
    return this.http.request('POST', `/users/${checkId(userId)}/enable`);
  }

  async disableUser(userId: number): Promise<ApiObject<'user'>> {
    return this.http.request('POST', `/users/${checkId(userId)}/disable`);
  }

  // --- events -----------------------------------------------------------------------------

  /**
   * Streams object changes of the given kinds (all when empty) to `onEvent`
   * until `signal` aborts; reconnects with Last-Event-ID after a break.
   */
  async events(
    kinds: readonly ObjectKind[] | undefined,
    onEvent: (e: StreamEvent) => void,
    signal: AbortSignal,
    options?: EventStreamOptions,
  ): Promise<void> {
    return streamEvents(this.http, kinds, onEvent, signal, options);
  }
}

export interface VnetAddress {
  ip?: string;
  ip6?: string;
  mac?: string;
  ar_id?: number;
}

/** One lease as `GET /vnets/:id/leases` lists it. */
export interface VnetLease {
  ar_id: number;
  index: number;
  mac: string;
  ip: string | null;
  ip6: string | null;
  kind: 'vm' | 'hold' | 'reserved';
  vm_id: number | null;
  vm_name: string | null;
  nic_id: number | null;
  reserved_by: number | null;
}
