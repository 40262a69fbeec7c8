/** Small statistics helpers for latency summaries (benchmarks, load client, reports). */

/** The q-quantile (0..1) of already-sorted numbers, by linear interpolation; NaN if empty. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower] as number;
  const b = sorted[upper] as number;
  return a + (b - a) * (position - lower);
}

export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((total, v) => total + v, 0);
  return {
    count: sorted.length,
    min: sorted[0] ?? NaN,
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sorted.length > 0 ? sum / sorted.length : NaN,
  };
}

export function median(values: readonly number[]): number {
  return quantileSorted(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/**
 * Completions per second over the last `window_ms` (a live progress figure). Only the window's
 * timestamps are kept, so a long run holds a bounded list.
 */
export class RecentRate {
  private readonly times_ms: number[] = [];

  constructor(private readonly window_ms = 5000) {}

  record(now_ms: number): void {
    this.times_ms.push(now_ms);
    this.forgetBefore(now_ms - this.window_ms);
  }

  /** The rate now; `elapsed_s` (time since the run began) bounds the window at the start. */
  perSecond(now_ms: number, elapsed_s: number): number {
    this.forgetBefore(now_ms - this.window_ms);
    return this.times_ms.length / Math.min(this.window_ms / 1000, Math.max(0.001, elapsed_s));
  }

  private forgetBefore(cutoff_ms: number): void {
    let stale = 0;
    while (stale < this.times_ms.length && (this.times_ms[stale] as number) < cutoff_ms) stale++;
    if (stale > 0) this.times_ms.splice(0, stale);
  }
}
