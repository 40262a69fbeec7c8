/**
 * Randomized runs: every seed draws its own cluster size, timings and fault mix (crash,
 * restart, pause, partitions, one-way links, loss, duplication, reordering, failure
 * simulation, permanent death) and must keep every invariant. A failure names the seed and
 * the command that replays it with a full trace.
 */
import { describe, expect, it } from 'vitest';
import { formatViolation } from '../../src/sim/invariants.js';
import { runSeed, type RunResult } from '../../src/sim/random-run.js';

interface Batch {
  results: RunResult[];
  failures: string[];
}

function runBatch(first: number, count: number, nodes?: number): Batch {
  const results: RunResult[] = [];
  const failures: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const r = runSeed({
      seed,
      nodes,
      fault_end_ms: nodes !== undefined && nodes >= 20 ? 12_000 : 15_000,
    });
    results.push(r);
    if (r.violations.length > 0) {
      const flag = nodes === undefined ? '' : ` --nodes ${nodes}`;
      failures.push(
        `seed ${seed} (n=${r.nodes}): ${r.violations.map(formatViolation).join('; ')}\n` +
          `  replay: npm run sim -- --seed ${seed}${flag} --trace`,
      );
    }
  }
  return { results, failures };
}

/**
 * Thousands of simulated runs take tens of seconds on a busy 2-core machine: these tests
 * assert behaviour, never speed, so their time limit is generous.
 */
const SWARM_TIMEOUT_MS = 600_000;

describe('randomized simulation', () => {
  it(
    'keeps every invariant over 1000 seeds on 3 to 10 servers',
    () => {
      const { results, failures } = runBatch(1, 1000);
      expect(failures).toEqual([]);
      // The swarm really exercised what it claims to.
      const p = results.map((r) => r.profile);
      expect(p.filter((x) => x.crash).length).toBeGreaterThan(100);
      expect(p.filter((x) => x.pause).length).toBeGreaterThan(100);
      expect(p.filter((x) => x.partition).length).toBeGreaterThan(200);
      expect(p.filter((x) => x.one_way).length).toBeGreaterThan(50);
      expect(p.filter((x) => x.loss > 0).length).toBeGreaterThan(100);
      expect(p.filter((x) => x.duplicate > 0).length).toBeGreaterThan(50);
      expect(p.filter((x) => x.reorder > 0).length).toBeGreaterThan(100);
      expect(p.filter((x) => x.failure_simulation).length).toBeGreaterThan(100);
      expect(p.filter((x) => x.permanent_crash).length).toBeGreaterThan(100);
      expect(new Set(results.map((r) => r.nodes)).size).toBeGreaterThanOrEqual(5);
      expect(results.reduce((n, r) => n + r.reassign_checks, 0)).toBeGreaterThan(100);
      expect(results.reduce((n, r) => n + r.tasks, 0)).toBeGreaterThan(10_000);
    },
    SWARM_TIMEOUT_MS,
  );

  it(
    'keeps every invariant over 40 seeds on 20 servers',
    () => {
      expect(runBatch(10_001, 40, 20).failures).toEqual([]);
    },
    SWARM_TIMEOUT_MS,
  );

  it(
    'keeps every invariant over 10 seeds on 50 servers',
    () => {
      expect(runBatch(20_001, 10, 50).failures).toEqual([]);
    },
    SWARM_TIMEOUT_MS,
  );
});
