import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prng } from '../core/template/testing/prng.js';
import { RankOrdering } from './ordering.js';

describe('RankOrdering', () => {
  it('stays equal to a full sort (score desc, index asc) through random updates', () => {
    const rng = new Prng(11);
    for (let round = 0; round < 40; round++) {
      const n = rng.int(1, 400);
      const scores = Array.from({ length: n }, () => rng.int(-5, 5));
      const monitored = Int32Array.from(Array.from({ length: n }, (_, i) => i).filter(() => rng.chance(0.9)));
      const ordering = new RankOrdering(monitored, n, (h) => scores[h]!, true);
      for (let step = 0; step < 50; step++) {
        // Sometimes a few hosts change, sometimes many (the re-sort path).
        const changes = rng.chance(0.2) ? rng.int(0, n) : rng.int(0, 3);
        for (let c = 0; c < changes; c++) {
          const h = rng.int(0, n - 1);
          scores[h] = scores[h]! + rng.int(-2, 2);
          ordering.markDirty(h);
        }
        ordering.refresh();
        const expected = [...monitored].sort((a, b) => scores[b]! - scores[a]! || a - b);
        assert.deepEqual([...ordering.order], expected, `round ${round} step ${step}`);
      }
    }
  });

  it('a static rank never moves hosts', () => {
    const scores = [3, 1, 2];
    const ordering = new RankOrdering(Int32Array.of(0, 1, 2), 3, (h) => scores[h]!, false);
    scores[1] = 9;
    ordering.markDirty(1);
    ordering.refresh();
    assert.deepEqual([...ordering.order], [0, 2, 1]);
  });
});
