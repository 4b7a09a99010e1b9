import type { HostOperatorAction } from '../core/host-states.js';
import { OBJECT_KINDS, type ObjectKind } from '../core/model.js';
import type { SchedActionInput } from '../core/sched-actions.js';
import type { VmAction } from '../core/vm-state-machine.js';
import { ApiError } from './api-error.js';
import { type EventStreamOptions, streamEvents } from './event-stream.js';
import { HttpTransport, type TransportOptions } from './http-transport.js';
import type {
  ApiObject,
  ChownInput,
  CreateInput,
  Health,
  InstantiateOptions,
  ListOptions,
  ListResult,
  SessionUser,
  StreamEvent,
  TokenResponse,
  UpdateInput,
  VmActionParams,
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
  template: 'templates',
  vm: 'vms',
  vmgroup: 'vmgroups',
};

export function isObjectKind(value: unknown): value is ObjectKind {
  return typeof value === 'string' && (OBJECT_KINDS as readonly string[]).includes(value);
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
