import { describe, expect, it } from 'vitest';
import { choosePlacement, type PlacementCandidate } from '../../../src/core/placement.js';
import {
  betterCandidate,
  DEFAULT_SCORE_WEIGHTS,
  placementCost,
  priorityScore,
} from '../../../src/core/score.js';

describe('load score', () => {
  it('uses the seed formula 0.5 cpu + 0.3 min(tasks/10,1)*100 + 0.2 memory', () => {
    // The seed README's examples (memory given there as % available).
    expect(priorityScore({ cpu_pct: 20, memory_used_pct: 20, tasks: 2 })).toBeCloseTo(20);
    expect(priorityScore({ cpu_pct: 40, memory_used_pct: 40, tasks: 5 })).toBeCloseTo(43);
    expect(priorityScore({ cpu_pct: 0, memory_used_pct: 0, tasks: 50 })).toBeCloseTo(30);
  });

  it('can rank by load average instead (the other seed)', () => {
    const w = { ...DEFAULT_SCORE_WEIGHTS, cpu: 0, tasks: 0, memory: 0, load_average: 1 };
    expect(
      priorityScore({ cpu_pct: 90, memory_used_pct: 90, tasks: 9, load_average: 0.25 }, w),
    ).toBeCloseTo(25);
  });

  it('does not cap the task term for placement', () => {
    expect(placementCost({ cpu_pct: 0, memory_used_pct: 0, tasks: 30 })).toBeCloseTo(90);
  });

  it('breaks ties by the lower id', () => {
    expect(betterCandidate(10, 3, 10, 2)).toBe(false);
    expect(betterCandidate(10, 2, 10, 3)).toBe(true);
    expect(betterCandidate(9.9, 3, 10, 1)).toBe(true);
  });
});

const load = (cpu: number, active: number, queued: number, capacity = 10) => ({
  score: 0,
  cpu_pct: cpu,
  memory_used_pct: 20,
  load_average: null,
  active_tasks: active,
  queue_length: queued,
  capacity,
});

describe('choosePlacement', () => {
  const options = { weights: DEFAULT_SCORE_WEIGHTS, force: false };

  it('picks the least loaded server, the leader included', () => {
    const c: PlacementCandidate[] = [
      { id: 1, load: load(50, 2, 0), assigned_since_report: 0 },
      { id: 2, load: load(10, 0, 0), assigned_since_report: 0 },
      { id: 3, load: load(30, 1, 0), assigned_since_report: 0 },
    ];
    expect(choosePlacement(c, options)).toBe(2);
  });

  it('spreads a burst by counting tasks assigned since the last heartbeat', () => {
    const c: PlacementCandidate[] = [
      { id: 1, load: load(10, 0, 0), assigned_since_report: 0 },
      { id: 2, load: load(10, 0, 0), assigned_since_report: 0 },
    ];
    const picks: number[] = [];
    for (let i = 0; i < 6; i++) {
      const chosen = choosePlacement(c, options);
      picks.push(chosen ?? 0);
      const winner = c.find((x) => x.id === chosen);
      if (winner !== undefined) winner.assigned_since_report++;
    }
    expect(picks.filter((p) => p === 1).length).toBe(3);
    expect(picks.filter((p) => p === 2).length).toBe(3);
  });

  it('skips full servers and reports busy when all are full, unless forced', () => {
    const c: PlacementCandidate[] = [
      { id: 1, load: load(5, 4, 6), assigned_since_report: 0 },
      { id: 2, load: load(90, 1, 0), assigned_since_report: 0 },
    ];
    expect(choosePlacement(c, options)).toBe(2);
    c[1] = { id: 2, load: load(90, 1, 0, 2), assigned_since_report: 1 };
    expect(choosePlacement(c, options)).toBeNull();
    expect(choosePlacement(c, { ...options, force: true })).toBe(1);
    expect(choosePlacement([], options)).toBeNull();
  });
});
