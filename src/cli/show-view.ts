import {
  type ApiObject,
  type ObjectKind,
  serializeTemplate,
  type Template,
  type VmUsageSample,
} from '../client/index.js';
import { formatTime, permissionTriplets } from './cell-format.js';
import { hostSections, vmUsageSection } from './monitoring.js';
import { renderTable } from './table.js';

/** Section titles as OpenNebula's `one<noun> show` prints them. */
export const KIND_TITLES: Readonly<Record<ObjectKind, string>> = {
  user: 'USER',
  group: 'GROUP',
  cluster: 'CLUSTER',
  host: 'HOST',
  datastore: 'DATASTORE',
  image: 'IMAGE',
  vnet: 'VIRTUAL NETWORK',
  secgroup: 'SECURITY GROUP',
  template: 'TEMPLATE',
  vm: 'VIRTUAL MACHINE',
  vmgroup: 'VM GROUP',
};

const COMMON = new Set([
  'id',
  'name',
  'uid',
  'gid',
  'uname',
  'gname',
  'permissions',
  'revision',
  'created_at',
  'updated_at',
  'state',
  'lcm_state',
  'template',
]);

/** Kind-specific fields `show` prints in its own sections instead of as `KEY : value`. */
const SECTIONED = new Set(['history', 'user_template', 'facts', 'monitoring', 'wilds', 'zombies']);

const EPOCH_SECONDS = new Set(['stime', 'etime']);

const LABEL_WIDTH = 20;

function kv(label: string, value: string): string {
  return `${label.padEnd(LABEL_WIDTH)}: ${value}\n`;
}

function scalar(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map((v) => scalar(v)).join(',');
  if (typeof value === 'boolean') return value ? 'YES' : 'NO';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * A template in OpenNebula's native syntax; a value native syntax cannot hold
 * (rare: a trailing backslash with blanks) falls back to the JSON form.
 */
export function templateText(t: Template): string {
  try {
    return serializeTemplate(t, 'native');
  } catch {
    return `${JSON.stringify(t, null, 2)}\n`;
  }
}

function section(title: string, body: string): string {
  return `\n${title}\n${body}`;
}

/** `onevm show`-style text: the object's fields, permissions, then its template in native syntax. */
export function renderShow(kind: ObjectKind, obj: ApiObject, extra: { vmUsage?: VmUsageSample | null } = {}): string {
  const title = KIND_TITLES[kind];
  const record = obj as unknown as Record<string, unknown>;
  let out = `${title} ${obj.id} INFORMATION\n`;
  out += kv('ID', String(obj.id));
  out += kv('NAME', obj.name);
  out += kv('USER', obj.uname);
  out += kv('GROUP', obj.gname);
  if (obj.state !== undefined) out += kv('STATE', obj.state);
  if (obj.lcm_state !== undefined) out += kv('LCM_STATE', obj.lcm_state);
  for (const [key, value] of Object.entries(record)) {
    if (COMMON.has(key) || SECTIONED.has(key)) continue;
    // VM start/end times are seconds since the epoch, 0 for "not yet".
    const text = EPOCH_SECONDS.has(key) && typeof value === 'number' ? formatTime(value * 1000) : scalar(value);
    out += kv(key.toUpperCase(), text);
  }
  out += kv('REVISION', String(obj.revision));
  out += kv('CREATED', formatTime(obj.created_at));
  out += kv('UPDATED', formatTime(obj.updated_at));

  const p = permissionTriplets(obj.permissions);
  out += section('PERMISSIONS', kv('OWNER', p.owner) + kv('GROUP', p.group) + kv('OTHER', p.other));
  out += section(kind === 'template' ? 'TEMPLATE CONTENTS' : `${title} TEMPLATE`, templateText(obj.template));
  if (kind === 'vm') out += vmSections(obj as ApiObject<'vm'>) + vmUsageSection(extra.vmUsage ?? null);
  if (kind === 'host') out += hostSections(obj as ApiObject<'host'>);
  if (kind === 'vmgroup') out += vmGroupSections(obj as ApiObject<'vmgroup'>);
  return out;
}

function vmGroupSections(g: ApiObject<'vmgroup'>): string {
  const table = renderTable(
    [
      { header: 'ROLE', cell: (r) => r.name },
      { header: 'POLICY', cell: (r) => r.policy },
      { header: 'HOST AFFINED', cell: (r) => r.host_affined.join(',') || '-' },
      { header: 'HOST ANTI-AFFINED', cell: (r) => r.host_anti_affined.join(',') || '-' },
    ],
    g.roles ?? [],
  );
  let out = section('ROLES', table);
  const rules = [
    ...(g.affined ?? []).map((r) => `AFFINED: ${r.join(', ')}\n`),
    ...(g.anti_affined ?? []).map((r) => `ANTI_AFFINED: ${r.join(', ')}\n`),
  ];
  if (rules.length > 0) out += section('ROLE RULES', rules.join(''));
  return out;
}

function vmSections(vm: ApiObject<'vm'>): string {
  let out = '';
  if (vm.user_template && Object.keys(vm.user_template).length > 0) {
    out += section('USER TEMPLATE', templateText(vm.user_template));
  }
  if (vm.history && vm.history.length > 0) {
    const table = renderTable(
      [
        { header: 'SEQ', cell: (h) => String(h.seq), align: 'right' },
        { header: 'HOST', cell: (h) => h.host_name },
        { header: 'ACTION', cell: (h) => h.action },
        { header: 'DS', cell: (h) => String(h.ds_id), align: 'right' },
        { header: 'START', cell: (h) => formatTime(h.stime * 1000) },
        { header: 'END', cell: (h) => (h.etime ? formatTime(h.etime * 1000) : '-') },
      ],
      vm.history,
    );
    out += section('VIRTUAL MACHINE HISTORY', table);
  }
  if (vm.sched_actions && vm.sched_actions.length > 0) {
    const table = renderTable(
      [
        { header: 'ID', cell: (s) => String(s.id), align: 'right' },
        { header: 'ACTION', cell: (s) => s.action },
        { header: 'SCHEDULED', cell: (s) => formatTime(s.time * 1000) },
        { header: 'REPEAT', cell: (s) => (s.repeat ? `${s.repeat} ${s.days.join(',')}` : '-') },
        {
          header: 'END',
          cell: (s) =>
            s.end_type === 'times'
              ? `${s.end_value} left`
              : s.end_type === 'date'
                ? formatTime(s.end_value * 1000)
                : '-',
        },
        { header: 'DONE', cell: (s) => (s.done ? formatTime(s.done * 1000) : '-') },
        { header: 'MESSAGE', cell: (s) => s.message || '-' },
      ],
      vm.sched_actions,
    );
    out += section('SCHEDULED ACTIONS', table);
  }
  return out;
}
