/**
 * The load score: one number per server, lower is better. It ranks candidates in elections
 * (ties broken by lower id) and, with the task term left uncapped, ranks servers for
 * placement.
 *
 * Default (seed 000): `0.5*cpu% + 0.3*min(active_tasks/10, 1)*100 + 0.2*memory_used%`.
 * Seed 002 ranked by CPU load average instead: set weights `{cpu: 0, tasks: 0, memory: 0,
 * load_average: 1}` and the score becomes `load_average_per_cpu * 100`.
 */

export interface ScoreWeights {
  /** Weight of CPU use in percent. */
  cpu: number;
  /** Weight of the task term `min(active_tasks / task_normalization, 1) * 100`. */
  tasks: number;
  /** Weight of memory use in percent. */
  memory: number;
  /** Weight of `load_average_per_cpu * 100` (0 unless ranking by load average). */
  load_average: number;
  /** Tasks at which the task term saturates (seed: 10). */
  task_normalization: number;
}

export const DEFAULT_SCORE_WEIGHTS: Readonly<ScoreWeights> = Object.freeze({
  cpu: 0.5,
  tasks: 0.3,
  memory: 0.2,
  load_average: 0,
  task_normalization: 10,
});

/** What a server measures about itself (the runtime samples it; the simulator invents it). */
export interface LocalLoad {
  /** CPU use over the last sampling period, 0..100. */
  cpu_pct: number;
  /** Memory in use, 0..100. */
  memory_used_pct: number;
  /** 1-minute load average divided by the number of CPUs, if known. */
  load_average?: number | null;
}

/** Inputs of the score: the local load plus the task count. */
export interface ScoreInput extends LocalLoad {
  /** Tasks counted against the server (running + queued, plus recent assignments for placement). */
  tasks: number;
}

/** Highest score the election priority can reach with weights summing to 1 (all at 100%). */
export const MAX_SCORE = 1e6;

function baseScore(input: ScoreInput, w: ScoreWeights): number {
  const loadAverage = input.load_average ?? 0;
  return (
    w.cpu * input.cpu_pct + w.memory * input.memory_used_pct + w.load_average * loadAverage * 100
  );
}

/** Election priority score (the seed formula with the task term capped at 100). */
export function priorityScore(input: ScoreInput, w: ScoreWeights = DEFAULT_SCORE_WEIGHTS): number {
  const taskTerm = Math.min(input.tasks / w.task_normalization, 1) * 100;
  return clampScore(baseScore(input, w) + w.tasks * taskTerm);
}

/**
 * Placement cost: same weights, but the task term is not capped, so a server with 30
 * queued tasks ranks behind one with 12 even though both saturate the election term.
 */
export function placementCost(input: ScoreInput, w: ScoreWeights = DEFAULT_SCORE_WEIGHTS): number {
  const taskTerm = (input.tasks / w.task_normalization) * 100;
  return baseScore(input, w) + w.tasks * taskTerm;
}

function clampScore(score: number): number {
  if (!Number.isFinite(score) || score < 0) return 0;
  return Math.min(score, MAX_SCORE);
}

/** Does candidate (scoreA, idA) beat (scoreB, idB)? Lower score wins; ties go to the lower id. */
export function betterCandidate(scoreA: number, idA: number, scoreB: number, idB: number): boolean {
  if (scoreA !== scoreB) return scoreA < scoreB;
  return idA < idB;
}
