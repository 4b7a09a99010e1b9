import type { ReservedAmount } from './types.js';

/**
 * Capacity left for VMs: `MAX = TOTAL − RESERVED`, where RESERVED is an
 * absolute amount or a percentage of TOTAL ("10%", since OpenNebula 5.12).
 * A negative reservation overcommits (MAX above TOTAL). Fractions of a unit
 * are truncated toward zero; anything unreadable reserves nothing.
 */
export function maxCapacity(total: number, reserved: ReservedAmount | undefined): number {
  return total - reservedAmount(total, reserved);
}

export function reservedAmount(total: number, reserved: ReservedAmount | undefined): number {
  if (reserved === undefined) return 0;
  if (typeof reserved === 'number') return Number.isFinite(reserved) ? Math.trunc(reserved) : 0;
  const text = reserved.trim();
  if (text === '') return 0;
  const percent = /^([+-]?\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (percent !== null) return Math.trunc((total * Number(percent[1])) / 100);
  const n = Number(text);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}
