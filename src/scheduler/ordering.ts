import type { RowScore } from '../core/expressions/index.js';

/**
 * MONITORED hosts kept sorted by one rank expression, best first (score
 * descending, then host index = id ascending). Selecting a host for a VM that
 * uses this rank is then a walk from the front that stops at the first host
 * passing every filter — usually the first or second — instead of filtering
 * and ranking all hosts. The result is the same as ranking every candidate:
 * with one policy, dividing by the largest |score| keeps the order, and
 * truncated integer scores stay distinct after the division.
 *
 * Only the host a VM was just placed on changes, so after a placement the
 * host is marked dirty; the next walk first moves dirty hosts to their new
 * place (binary search and one `copyWithin` each), or re-sorts when many
 * hosts are dirty.
 */
export class RankOrdering {
  readonly order: Int32Array;
  private readonly score: Float64Array;
  private readonly dirty: Int32Array;
  private readonly isDirty: Uint8Array;
  private readonly member: Uint8Array;
  private dirtyCount = 0;

  constructor(
    monitored: Int32Array,
    hostCount: number,
    private readonly rank: RowScore,
    /** False when the rank reads only static attributes: placements never move hosts. */
    readonly dynamic: boolean,
  ) {
    this.order = Int32Array.from(monitored);
    this.score = new Float64Array(hostCount);
    for (const h of monitored) this.score[h] = rank(h);
    this.dirty = new Int32Array(hostCount);
    this.isDirty = new Uint8Array(hostCount);
    this.member = new Uint8Array(hostCount);
    for (const h of monitored) this.member[h] = 1;
    this.sort();
  }

  markDirty(h: number): void {
    if (!this.dynamic || this.isDirty[h] === 1 || this.member[h] === 0) return;
    this.isDirty[h] = 1;
    this.dirty[this.dirtyCount++] = h;
  }

  /** Brings the order up to date; call before walking `order`. */
  refresh(): void {
    const count = this.dirtyCount;
    if (count === 0) return;
    this.dirtyCount = 0;
    if (count <= 8) {
      for (let i = 0; i < count; i++) {
        const h = this.dirty[i]!;
        this.isDirty[h] = 0;
        const next = this.rank(h);
        if (next !== this.score[h]) this.move(h, next);
      }
      return;
    }
    this.merge(count);
  }

  /**
   * Many hosts changed: drop them from the order (the rest stays sorted), sort
   * them alone with their new scores, and merge the two runs — O(n + k log k).
   */
  private merge(count: number): void {
    const order = this.order;
    const score = this.score;
    const moved = this.dirty.subarray(0, count);
    for (let i = 0; i < count; i++) score[moved[i]!] = this.rank(moved[i]!);
    sortHosts(moved, score);
    let kept = 0;
    for (let i = 0; i < order.length; i++) {
      const h = order[i]!;
      if (this.isDirty[h] === 0) order[kept++] = h;
    }
    for (let i = 0; i < count; i++) this.isDirty[moved[i]!] = 0;
    // Merge from the back so the kept run can stay in place.
    let a = kept - 1;
    let b = count - 1;
    for (let out = order.length - 1; b >= 0; out--) {
      const x = a >= 0 ? order[a]! : -1;
      const y = moved[b]!;
      // Place whichever comes later in (score desc, index asc).
      if (x !== -1 && (score[x]! < score[y]! || (score[x] === score[y] && x > y))) {
        order[out] = x;
        a--;
      } else {
        order[out] = y;
        b--;
      }
    }
  }

  /** Score at which host h is currently ordered. */
  scoreOf(h: number): number {
    return this.score[h]!;
  }

  private sort(): void {
    sortHosts(this.order, this.score);
  }

  /** First position whose host is not ahead of (s, h). */
  private position(s: number, h: number, length: number): number {
    const order = this.order;
    const score = this.score;
    let lo = 0;
    let hi = length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const x = order[mid]!;
      const sx = score[x]!;
      if (sx > s || (sx === s && x < h)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private move(h: number, next: number): void {
    const order = this.order;
    const length = order.length;
    const from = this.position(this.score[h]!, h, length);
    order.copyWithin(from, from + 1, length);
    this.score[h] = next;
    const to = this.position(next, h, length - 1);
    order.copyWithin(to + 1, to, length - 1);
    order[to] = h;
  }
}

/**
 * Sorts host indices by (score desc, index asc). Scores are integers
 * (truncated ranks), so each host packs into one exact double key
 * (S − score)·I + index, with I the next power of two above the host count
 * and S = 2^51/I, and a native numeric sort does the work. Scores beyond ±S
 * use a comparator sort.
 */
function sortHosts(hosts: Int32Array, score: Float64Array): void {
  const indexSpan = 2 ** Math.ceil(Math.log2(score.length + 1));
  const scoreSpan = 2 ** 51 / indexSpan;
  for (let i = 0; i < hosts.length; i++) {
    const s = score[hosts[i]!]!;
    if (!Number.isInteger(s) || s > scoreSpan || s < -scoreSpan) {
      hosts.sort((a, b) => score[b]! - score[a]! || a - b);
      return;
    }
  }
  const keys = new Float64Array(hosts.length);
  for (let i = 0; i < hosts.length; i++) keys[i] = (scoreSpan - score[hosts[i]!]!) * indexSpan + hosts[i]!;
  keys.sort();
  for (let i = 0; i < keys.length; i++) hosts[i] = keys[i]! % indexSpan;
}
