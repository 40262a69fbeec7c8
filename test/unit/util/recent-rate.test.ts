import { describe, expect, it } from 'vitest';
import { RecentRate } from '../../../src/util/stats.js';

describe('RecentRate', () => {
  it('counts only the completions of the last window, per second', () => {
    const rate = new RecentRate(5000);
    for (let t = 0; t < 10_000; t += 100) rate.record(t); // 10 per second for 10 s
    // At 10 s the window holds 5 s (5,000..9,900 ms): 50 completions.
    expect(rate.perSecond(10_000, 10)).toBeCloseTo(10, 5);
    // Nothing new for 3 s: only 8,000..9,900 ms remain (20), over the same 5 s window.
    expect(rate.perSecond(13_000, 13)).toBeCloseTo(20 / 5, 5);
    expect(rate.perSecond(20_000, 20)).toBe(0);
  });

  it('divides by the time elapsed while the run is younger than the window', () => {
    const rate = new RecentRate(5000);
    rate.record(500);
    rate.record(900);
    expect(rate.perSecond(1000, 1)).toBe(2);
    expect(new RecentRate().perSecond(0, 0)).toBe(0);
  });
});
