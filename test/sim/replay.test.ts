/** A run is a pure function of its seed: a failing seed replays exactly, trace and all. */
import { describe, expect, it } from 'vitest';
import { runSeed } from '../../src/sim/random-run.js';

describe('deterministic replay', () => {
  it('replays a seed identically, with or without the trace', () => {
    const a = runSeed({ seed: 4242, trace: true });
    const b = runSeed({ seed: 4242, trace: true });
    const quiet = runSeed({ seed: 4242 });
    expect(a.trace.length).toBeGreaterThan(100);
    expect(b.trace).toEqual(a.trace);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(quiet.fingerprint).toBe(a.fingerprint);
    expect(quiet.trace).toEqual([]);
  });

  it('gives different seeds different runs', () => {
    const prints = new Set([1, 2, 3, 4, 5].map((seed) => runSeed({ seed }).fingerprint));
    expect(prints.size).toBe(5);
  });

  it('traces faults, node events and client outcomes with virtual timestamps', () => {
    const r = runSeed({ seed: 7, trace: true });
    const kinds = new Set(r.trace.map((l) => l.kind));
    for (const k of ['fault', 'event', 'deliver', 'client'] as const)
      expect(kinds.has(k)).toBe(true);
    const times = r.trace.map((l) => l.time_ms);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });
});
