/**
 * Placement: the leader puts each task on the least-loaded eligible server, itself included.
 *
 * A server's load comes from its last heartbeat; tasks the leader assigned to it since that
 * heartbeat are added on top, so a burst of requests between two heartbeats spreads out
 * instead of piling onto the server that looked idlest. A server whose outstanding tasks
 * (running + queued + recently assigned) reach its capacity is skipped.
 */
import type { LoadReport, ServerId } from './messages.js';
import { placementCost, type ScoreWeights } from './score.js';

export interface PlacementCandidate {
  id: ServerId;
  /** Last reported load (null: nothing reported yet, treated as idle). */
  load: LoadReport | null;
  /** Tasks assigned to it since that report. */
  assigned_since_report: number;
}

export interface PlacementOptions {
  weights: ScoreWeights;
  /** When every candidate is full: place anyway on the least loaded (used for reassignment). */
  force: boolean;
}

function outstanding(c: PlacementCandidate): number {
  const reported = c.load === null ? 0 : c.load.active_tasks + c.load.queue_length;
  return reported + c.assigned_since_report;
}

function isFull(c: PlacementCandidate): boolean {
  return c.load !== null && outstanding(c) >= c.load.capacity;
}

function cost(c: PlacementCandidate, weights: ScoreWeights): number {
  const load = c.load;
  return placementCost(
    {
      cpu_pct: load?.cpu_pct ?? 0,
      memory_used_pct: load?.memory_used_pct ?? 0,
      load_average: load?.load_average ?? null,
      tasks: outstanding(c),
    },
    weights,
  );
}

/** The chosen server, or null when every candidate is full (and `force` is off) or none exist. */
export function choosePlacement(
  candidates: readonly PlacementCandidate[],
  options: PlacementOptions,
): ServerId | null {
  let best: PlacementCandidate | null = null;
  let bestCost = Infinity;
  for (const c of candidates) {
    if (!options.force && isFull(c)) continue;
    const k = cost(c, options.weights);
    if (best === null || k < bestCost || (k === bestCost && tieBreak(c, best))) {
      best = c;
      bestCost = k;
    }
  }
  return best?.id ?? null;
}

function tieBreak(a: PlacementCandidate, b: PlacementCandidate): boolean {
  const oa = outstanding(a);
  const ob = outstanding(b);
  if (oa !== ob) return oa < ob;
  return a.id < b.id;
}
