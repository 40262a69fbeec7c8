/** This server's own load report and history summary, as heartbeats and placement use them. */
import type { HistoryInfo, LoadReport } from '../messages.js';
import { priorityScore, type LocalLoad } from '../score.js';
import type { NodeState } from './state.js';

export function loadReport(n: NodeState): LoadReport {
  const capacity = n.config.thread_pool_size + n.config.max_queue_size;
  return {
    score: priorityScore({ ...n.localLoad, tasks: n.running + n.queued }, n.config.score_weights),
    cpu_pct: n.localLoad.cpu_pct,
    memory_used_pct: n.localLoad.memory_used_pct,
    load_average: n.localLoad.load_average ?? null,
    active_tasks: n.running,
    queue_length: n.queued,
    capacity,
  };
}

export function myScore(n: NodeState): number {
  return loadReport(n).score;
}

/** A leader reports its change counter; a follower the last change it applied. */
export function historyInfo(n: NodeState): HistoryInfo {
  return n.history.info(n.role === 'leader' ? n.seq : n.appliedSeq);
}

/** New local measurements, clamped to what a load report may carry. */
export function setLocalLoad(n: NodeState, load: LocalLoad): void {
  n.localLoad = {
    cpu_pct: clampPct(load.cpu_pct),
    memory_used_pct: clampPct(load.memory_used_pct),
    load_average:
      load.load_average === undefined ||
      load.load_average === null ||
      !Number.isFinite(load.load_average)
        ? null
        : Math.max(0, Math.min(1e4, load.load_average)),
  };
}

function clampPct(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.max(0, Math.min(100, v));
}
