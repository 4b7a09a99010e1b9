import {
  type ApiObject,
  type IMAGE_STATES,
  isHostState,
  isLcmState,
  isVmState,
  shortHostStateName,
  shortStateName,
  type Template,
} from '../client/index.js';

/** `onevm list`'s four-letter state: LCM short name while ACTIVE, else the STATE's. */
export function vmShortState(vm: Pick<ApiObject, 'state' | 'lcm_state'>): string {
  const state = vm.state ?? 'INIT';
  const lcm = vm.lcm_state ?? 'LCM_INIT';
  if (isVmState(state) && isLcmState(lcm)) return shortStateName(state, lcm);
  return state.toLowerCase().slice(0, 4);
}

export function hostShortState(host: Pick<ApiObject, 'state'>): string {
  const s = host.state ?? 'INIT';
  return isHostState(s) ? shortHostStateName(s) : s.toLowerCase().slice(0, 4);
}

/** `oneimage list` short names. */
const SHORT_IMAGE: Readonly<Record<keyof typeof IMAGE_STATES, string>> = {
  INIT: 'init',
  READY: 'rdy',
  USED: 'used',
  DISABLED: 'disa',
  LOCKED: 'lock',
  ERROR: 'err',
  CLONE: 'clon',
  DELETE: 'dele',
  USED_PERS: 'used',
  LOCKED_USED: 'lock',
  LOCKED_USED_PERS: 'lock',
};

export function imageShortState(image: Pick<ApiObject, 'state'>): string {
  const s = image.state ?? 'INIT';
  return Object.hasOwn(SHORT_IMAGE, s) ? SHORT_IMAGE[s as keyof typeof SHORT_IMAGE] : s.toLowerCase().slice(0, 4);
}

/** `128M`, `2G`, `1.5G` from megabytes. */
export function formatMegabytes(mb: number): string {
  if (!Number.isFinite(mb) || mb < 0) return '-';
  if (mb < 1024) return `${Math.round(mb)}M`;
  const units = ['G', 'T', 'P'];
  let v = mb / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number(v.toFixed(1))}${units[u]}`;
}

/** Elapsed time as `onevm list` shows it: `3d 04h05`. */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${d}d ${String(h).padStart(2, '0')}h${String(m).padStart(2, '0')}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local `MM/DD HH:MM:SS`, as OpenNebula's tables print times. */
export function formatShortTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local `YYYY-MM-DD HH:MM:SS` for `show`. */
export function formatTime(ms: number): string {
  if (!ms) return '-';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A single (string) attribute of a template, or '' when absent or a vector. */
export function templateString(t: Template, name: string): string {
  const v = t[name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : '';
}

/** `um-` for each of owner/group/other from the octal string "640". */
export function permissionTriplets(octal: string): { owner: string; group: string; other: string } {
  const digits = octal.padStart(3, '0').slice(-3).split('').map(Number);
  const letters = (d: number) => `${d & 4 ? 'u' : '-'}${d & 2 ? 'm' : '-'}${d & 1 ? 'a' : '-'}`;
  return { owner: letters(digits[0] ?? 0), group: letters(digits[1] ?? 0), other: letters(digits[2] ?? 0) };
}
