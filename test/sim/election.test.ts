/**
 * The election's message and time bounds, measured in virtual time (deterministic, so these
 * are properties of the algorithm, not timing-sensitive checks): with a fresh successor
 * list a leader change costs at most 3n messages and completes within 1.5 x the failure
 * timeout; classic Bully costs about n² messages.
 */
import { describe, expect, it } from 'vitest';
import { ClassicBullyNode } from '../../src/sim/classic-bully.js';
import {
  BENCH_TIMINGS,
  markdownTable,
  measureClassic,
  measureImproved,
  runElectionBench,
} from '../../src/sim/election-bench.js';

const ft = BENCH_TIMINGS.failure_timeout_ms;

describe('improved Bully with a fresh successor list', () => {
  for (const n of [3, 10, 50]) {
    it(`changes leader with <= 3n messages within 1.5 x failure timeout (n=${n})`, () => {
      for (const seed of [1, 2, 3]) {
        const s = measureImproved(n, seed, false);
        expect(s.messages).toBeLessThanOrEqual(3 * n);
        expect(s.time_ms).not.toBeNull();
        expect(s.time_ms ?? Infinity).toBeLessThanOrEqual(1.5 * ft);
      }
    });
  }

  it('still agrees on a leader when the whole successor list dies with the leader', () => {
    const s = measureImproved(10, 1, true);
    expect(s.time_ms).not.toBeNull();
    expect(s.messages).toBeLessThanOrEqual(3 * 10);
  });
});

describe('classic Bully baseline', () => {
  it('elects the highest id and needs about n² messages when everyone notices at once', () => {
    const s = measureClassic(10, 1);
    expect(s.time_ms).not.toBeNull();
    expect(s.messages).toBeGreaterThanOrEqual((10 * 9) / 2);
  });

  it('answers an Election from a lower id and announces itself when nobody is higher', () => {
    const t = { heartbeat_interval_ms: 100, election_timeout_ms: 200, failure_timeout_ms: 300 };
    const top = new ClassicBullyNode(3, [1, 2], t, 0, 3);
    top.receive({ type: 'Election', from: 1 }, 10);
    const out = top.drain();
    expect(out).toContainEqual({ to: 1, message: { type: 'Answer', from: 3 } });
    expect(
      out
        .filter((o) => o.message.type === 'Coordinator')
        .map((o) => o.to)
        .sort(),
    ).toEqual([1, 2]);
  });
});

describe('election report', () => {
  it('produces one row per algorithm and size, with the 3n column', () => {
    const rows = runElectionBench([3, 10], 2);
    expect(rows.map((r) => `${r.algorithm}/${r.n}`).sort()).toEqual([
      'classic/10',
      'classic/3',
      'improved-stale/10',
      'improved/10',
      'improved/3',
    ]);
    const table = markdownTable(rows);
    expect(table).toMatch(/\| 10 \| classic Bully \| 2 \| 90\.0 \(90\) \| 30 \|/);
  });
});
