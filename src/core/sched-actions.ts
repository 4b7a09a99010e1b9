/**
 * Scheduled actions (OpenNebula's `SCHED_ACTION`): a VM action that runs at a
 * given time, once or repeatedly.
 *
 *   SCHED_ACTION = [ ACTION = "poweroff", TIME = "+3600" ]
 *   SCHED_ACTION = [ ACTION = "resume", TIME = "1767254400", REPEAT = "0", DAYS = "1,3,5",
 *                    END_TYPE = "1", END_VALUE = "10" ]
 *
 * TIME is an epoch (seconds) or `+seconds` from the VM's creation. REPEAT:
 * 0 weekly (DAYS = weekdays 0–6, Sunday 0), 1 monthly (DAYS = days of the month
 * 1–31), 2 yearly (DAYS = days of the year 0–365), 3 hourly (DAYS = every N
 * hours). END_TYPE: 0 never, 1 after END_VALUE runs in all, 2 at the epoch
 * END_VALUE. Days are counted in the front-end's local time zone.
 *
 * Pure: parsing, validation and the next-run calculation; the server runs them.
 */
import { OneError } from './errors.js';
import { getVectors } from './template/access.js';
import type { Template, TemplateVector } from './template/types.js';
import { isVmAction, VM_ACTIONS, type VmAction } from './vm-state-machine.js';

export const REPEAT_NAMES = ['weekly', 'monthly', 'yearly', 'hourly'] as const;
export type RepeatName = (typeof REPEAT_NAMES)[number];

export interface SchedAction {
  id: number;
  action: VmAction;
  /** When it runs next, epoch seconds. */
  time: number;
  /** null: runs once. */
  repeat: RepeatName | null;
  /** Weekdays, month days, year days, or [hours] for hourly. */
  days: number[];
  end_type: 'never' | 'times' | 'date';
  /** Runs left, this one included (times), or the last epoch (date); 0 for never. */
  end_value: number;
  /** Epoch of the last run, 0 if it never ran. */
  done: number;
  /** Outcome of the last run: empty on success, the error otherwise. */
  message: string;
}

/** What a user gives to create or change one (API / CLI / template attribute values). */
export interface SchedActionInput {
  action: string;
  time: string | number;
  repeat?: string | number | undefined;
  days?: string | undefined;
  end_type?: string | number | undefined;
  end_value?: string | number | undefined;
}

/** Actions a schedule may run: every VM action that needs neither a target host nor an admin recovery. */
export const SCHEDULABLE_ACTIONS: readonly VmAction[] = (Object.keys(VM_ACTIONS) as VmAction[]).filter(
  (a) => !VM_ACTIONS[a].needsHost && !a.startsWith('recover') && a !== 'deploy',
);

const DAY_RANGES: Record<Exclude<RepeatName, 'hourly'>, [number, number]> = {
  weekly: [0, 6],
  monthly: [1, 31],
  yearly: [0, 365],
};

/**
 * Checks one scheduled action and resolves its time. `where` names it in
 * errors (e.g. `SCHED_ACTION[2]`); relative times count from `base`.
 */
export function parseSchedAction(input: SchedActionInput, id: number, base: number, where: string): SchedAction {
  const fail = (field: string, message: string): never => {
    throw new OneError('E_SCHED_ACTION', `${where}/${field}: ${message}`, {
      field: `${where}/${field}`,
      reason: message,
    });
  };
  const action = String(input.action ?? '').toLowerCase();
  if (!isVmAction(action) || !SCHEDULABLE_ACTIONS.includes(action)) {
    fail('ACTION', `'${input.action}' is not a schedulable action (one of ${SCHEDULABLE_ACTIONS.join(', ')})`);
  }
  const timeText = String(input.time ?? '').trim();
  let time: number;
  if (/^\+\d{1,10}$/.test(timeText)) time = base + Number(timeText.slice(1));
  else if (/^\d{1,12}$/.test(timeText)) time = Number(timeText);
  else time = fail('TIME', `'${timeText}' is neither an epoch in seconds nor +SECONDS`);

  const repeat = parseRepeat(input.repeat, fail);
  let days: number[] = [];
  if (repeat !== null) {
    const text = String(input.days ?? '').trim();
    if (text === '') fail('DAYS', `a ${repeat} schedule needs DAYS`);
    days = text.split(',').map((d) => {
      const n = /^\s*\d{1,3}\s*$/.test(d) ? Number(d) : Number.NaN;
      if (!Number.isInteger(n)) fail('DAYS', `'${d.trim()}' is not a number`);
      return n;
    });
    if (repeat === 'hourly') {
      if (days.length !== 1 || (days[0] as number) < 1 || (days[0] as number) > 168) {
        fail('DAYS', 'an hourly schedule takes one interval in hours, 1–168');
      }
    } else {
      const [lo, hi] = DAY_RANGES[repeat];
      const bad = days.find((d) => d < lo || d > hi);
      if (bad !== undefined) fail('DAYS', `${bad} is outside ${lo}–${hi} for a ${repeat} schedule`);
      days = [...new Set(days)].sort((a, b) => a - b);
    }
  }

  const endType = parseEndType(input.end_type, fail);
  let endValue = 0;
  if (endType !== 'never') {
    const v = Number(input.end_value);
    if (!Number.isSafeInteger(v) || v < 0) fail('END_VALUE', `'${input.end_value}' must be a whole number`);
    endValue = v;
  }
  if (repeat === null && endType !== 'never') fail('END_TYPE', 'only a repeating schedule can end');
  return {
    id,
    action: action as VmAction,
    time,
    repeat,
    days,
    end_type: endType,
    end_value: endValue,
    done: 0,
    message: '',
  };
}

/** The SCHED_ACTION vectors of a VM template, resolved against the VM's creation time. */
export function parseTemplateSchedActions(template: Template, base: number): SchedAction[] {
  return getVectors(template, 'SCHED_ACTION').map((v, i) => schedActionOfVector(v, i, base));
}

/** One SCHED_ACTION vector (its index is its id), resolved against `base`. */
export function schedActionOfVector(v: TemplateVector, index: number, base: number): SchedAction {
  return parseSchedAction(
    {
      action: v.ACTION ?? '',
      time: v.TIME ?? '',
      repeat: v.REPEAT,
      days: v.DAYS,
      end_type: v.END_TYPE,
      end_value: v.END_VALUE,
    },
    index,
    base,
    `SCHED_ACTION[${index}]`,
  );
}

/** Whether it should run at `now`: its time has come and it has not run for that time. */
export function isDue(sa: SchedAction, now: number): boolean {
  return sa.time <= now && sa.done < sa.time;
}

/** Whether it will never run again (a one-off that ran, or a repeat that ended). */
export function isFinished(sa: SchedAction): boolean {
  return sa.done >= sa.time;
}

/**
 * After a run at `ranAt`: the schedule's next time, or null when it does not
 * repeat or has ended. Keeps the time of day; skips runs missed while the
 * front-end was down (the next one is after `ranAt`).
 */
export function nextRun(sa: SchedAction, ranAt: number): { time: number; endValue: number } | null {
  if (sa.repeat === null) return null;
  // END_VALUE counts every run, this one included.
  const left = sa.end_type === 'times' ? sa.end_value - 1 : sa.end_value;
  if (sa.end_type === 'times' && left <= 0) return null;
  let next: number | null;
  if (sa.repeat === 'hourly') {
    const step = (sa.days[0] as number) * 3600;
    next = sa.time + Math.max(1, Math.ceil((ranAt + 1 - sa.time) / step)) * step;
  } else {
    next = nextCalendarRun(sa.time, sa.repeat, new Set(sa.days), ranAt);
  }
  if (next === null) return null;
  if (sa.end_type === 'date' && next > sa.end_value) return null;
  return { time: next, endValue: left };
}

/** The first day after `after` (same local time of day as `time`) whose weekday / month day / year day is listed. */
function nextCalendarRun(
  time: number,
  repeat: Exclude<RepeatName, 'hourly'>,
  days: ReadonlySet<number>,
  after: number,
): number | null {
  const start = new Date(time * 1000);
  const from = new Date(Math.max(time, after) * 1000);
  const day = new Date(from.getFullYear(), from.getMonth(), from.getDate());
  // Two years of days covers every yearly day (incl. day 365 of a leap year) and every month day.
  for (let i = 0; i <= 2 * 366 + 1; i++) {
    const candidate = new Date(
      day.getFullYear(),
      day.getMonth(),
      day.getDate() + i,
      start.getHours(),
      start.getMinutes(),
      start.getSeconds(),
    );
    const t = Math.floor(candidate.getTime() / 1000);
    if (t <= after) continue;
    if (days.has(calendarKey(candidate, repeat))) return t;
  }
  return null;
}

function calendarKey(d: Date, repeat: Exclude<RepeatName, 'hourly'>): number {
  if (repeat === 'weekly') return d.getDay();
  if (repeat === 'monthly') return d.getDate();
  const jan1 = new Date(d.getFullYear(), 0, 1);
  return Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - jan1.getTime()) / 86_400_000);
}

function parseRepeat(value: string | number | undefined, fail: (f: string, m: string) => never): RepeatName | null {
  if (value === undefined || value === '') return null;
  const text = String(value).trim().toLowerCase();
  const byNumber = /^[0-3]$/.test(text) ? REPEAT_NAMES[Number(text)] : undefined;
  const named = (REPEAT_NAMES as readonly string[]).includes(text) ? (text as RepeatName) : undefined;
  return byNumber ?? named ?? fail('REPEAT', `'${value}' is not 0–3 or ${REPEAT_NAMES.join(', ')}`);
}

function parseEndType(
  value: string | number | undefined,
  fail: (f: string, m: string) => never,
): SchedAction['end_type'] {
  if (value === undefined || value === '') return 'never';
  const text = String(value).trim().toLowerCase();
  const names = ['never', 'times', 'date'] as const;
  if (/^[0-2]$/.test(text)) return names[Number(text)] as SchedAction['end_type'];
  if ((names as readonly string[]).includes(text)) return text as SchedAction['end_type'];
  return fail('END_TYPE', `'${value}' is not 0 (never), 1 (times) or 2 (date)`);
}
