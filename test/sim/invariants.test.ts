/** The checker itself: each rule fires on a violation and stays quiet otherwise. */
import { describe, expect, it } from 'vitest';
import { InvariantChecker } from '../../src/sim/invariants.js';

describe('InvariantChecker', () => {
  it('flags a second leader in the same epoch, even the same server after a restart', () => {
    const c = new InvariantChecker();
    c.onBecameLeader(10, 2, 1, 1002);
    c.onBecameLeader(20, 3, 1, 2003);
    expect(c.violations).toEqual([]);
    c.onBecameLeader(30, 2, 2, 1002);
    expect(c.violations.map((v) => v.rule)).toEqual(['one-leader-per-epoch']);
  });

  it('flags an epoch claimed by a server it does not belong to', () => {
    const c = new InvariantChecker();
    c.onBecameLeader(10, 2, 1, 1003);
    expect(c.violations.map((v) => v.rule)).toEqual(['epoch-owner']);
  });

  it('flags an epoch going backwards on a server', () => {
    const c = new InvariantChecker();
    c.onEpochObserved(1, 1, 2002);
    c.onEpochObserved(2, 1, 2002);
    c.onEpochObserved(3, 1, 3001);
    expect(c.violations).toEqual([]);
    c.onEpochObserved(4, 1, 2002);
    expect(c.violations.map((v) => v.rule)).toEqual(['epoch-monotonic']);
  });

  it('flags a task delivered twice or with the wrong result', () => {
    const c = new InvariantChecker();
    c.onDelivered(1, 'c1', 't1', 'aa', 'aa');
    expect(c.violations).toEqual([]);
    c.onDelivered(2, 'c1', 't1', 'aa', 'aa');
    c.onDelivered(3, 'c1', 't2', 'bb', 'cc');
    expect(c.violations.map((v) => v.rule)).toEqual(['deliver-once', 'right-result']);
  });

  it('flags two silences that overlap, but not back-to-back ones', () => {
    const c = new InvariantChecker();
    c.onSilenceStarted(100, 1, 2000);
    c.onSilenceEnded(1);
    c.onSilenceStarted(2100, 2, 4000);
    expect(c.violations).toEqual([]);
    c.onSilenceStarted(3000, 3, 5000);
    expect(c.violations.map((v) => v.rule)).toEqual(['one-silent-at-a-time']);
  });
});
