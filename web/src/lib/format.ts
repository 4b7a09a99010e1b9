/** Dates as `2025-11-29 14:03:07` in local time (OpenNebula's list style); 0 is never. */
export function formatTime(ms: number | null | undefined): string {
  if (!ms) return '-';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** OpenNebula-style times (STIME, ETIME, history records) are seconds since the epoch. */
export function formatEpochSeconds(s: number | null | undefined): string {
  return s ? formatTime(s * 1000) : '-';
}

/** Megabytes in the largest unit that keeps a number ≥ 1 (`1.5G`, `512M`). */
export function formatMb(mb: number): string {
  if (!Number.isFinite(mb)) return '-';
  if (mb >= 1024 * 1024) return `${trim(mb / (1024 * 1024))}T`;
  if (mb >= 1024) return `${trim(mb / 1024)}G`;
  return `${trim(mb)}M`;
}

function trim(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1).replace(/\.0$/, '');
}

/** A template attribute as a number, or 0 when missing or not numeric. */
export function num(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : Number.NaN;
  return Number.isFinite(n) ? n : 0;
}
