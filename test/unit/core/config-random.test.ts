import { describe, expect, it } from 'vitest';
import { resolveClientSessionConfig, resolveServerNodeConfig } from '../../../src/core/config.js';
import { epochLeader, epochTerm, formatEpoch, makeEpoch } from '../../../src/core/epoch.js';
import { chance, pick, randomInt, SeededRandom } from '../../../src/core/random.js';
import { UsageError } from '../../../src/util/errors.js';

describe('server settings', () => {
  it('fills in fast, safe defaults', () => {
    const c = resolveServerNodeConfig({ id: 1, peers: [2, 3] });
    expect(c.heartbeat_interval_ms).toBe(200);
    expect(c.failure_timeout_ms).toBe(1000);
    expect(c.failure_timeout_ms).toBeGreaterThanOrEqual(3 * c.heartbeat_interval_ms);
    expect(c.score_weights).toMatchObject({ cpu: 0.5, tasks: 0.3, memory: 0.2 });
  });

  it('lists every problem in one clear error', () => {
    const attempt = () =>
      resolveServerNodeConfig({
        id: 1000,
        peers: [2, 2, 1000],
        heartbeat_interval_ms: 500,
        failure_timeout_ms: 1000,
        failure_simulation: { enabled: true, interval_ms: 5000, max_silence_ms: 20_000 },
      });
    expect(attempt).toThrow(UsageError);
    try {
      attempt();
    } catch (err) {
      const text = (err as Error).message;
      expect(text).toMatch(/id must be an integer in 1\.\.999/);
      expect(text).toMatch(/peer id 2 is listed twice/);
      expect(text).toMatch(/must be at least 3 x heartbeat_interval_ms/);
      expect(text).toMatch(/interval_ms \(5000\) must exceed/);
    }
  });

  it('rejects a server listing itself as a peer and fractional ids', () => {
    expect(() => resolveServerNodeConfig({ id: 2, peers: [2] })).toThrow(
      /must not include this server's own id/,
    );
    expect(() => resolveServerNodeConfig({ id: 1.5, peers: [] })).toThrow(/whole number/);
  });
});

describe('client settings', () => {
  it('validates ids and timings', () => {
    expect(resolveClientSessionConfig({ client_id: 'c1', servers: [1, 2] }).poll_interval_ms).toBe(
      500,
    );
    expect(() => resolveClientSessionConfig({ client_id: 'bad id', servers: [1] })).toThrow(
      /client_id/,
    );
    expect(() => resolveClientSessionConfig({ client_id: 'c1', servers: [] })).toThrow(
      /at least one server/,
    );
    expect(() =>
      resolveClientSessionConfig({ client_id: 'c1', servers: [1], poll_interval_ms: 0 }),
    ).toThrow(/poll_interval_ms/);
  });
});

describe('epochs', () => {
  it('encode term and leader, ordered by term then id', () => {
    const e = makeEpoch(7, 3);
    expect(e).toBe(7003);
    expect(epochTerm(e)).toBe(7);
    expect(epochLeader(e)).toBe(3);
    expect(formatEpoch(e)).toBe('7.3');
    expect(formatEpoch(0)).toBe('0');
    expect(makeEpoch(7, 3) > makeEpoch(7, 2)).toBe(true);
    expect(makeEpoch(8, 1) > makeEpoch(7, 999)).toBe(true);
  });
});

describe('SeededRandom', () => {
  it('is deterministic per seed and stays in range', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new SeededRandom(43).next()).not.toBe(xs[0]);
    const r = new SeededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const v = randomInt(r, 3, 5);
      expect(v >= 3 && v <= 5 && Number.isInteger(v)).toBe(true);
    }
    expect(chance(r, 0)).toBe(false);
    expect(['x']).toContain(pick(r, ['x']));
    expect(() => pick(r, [])).toThrow(/empty/);
  });
});
