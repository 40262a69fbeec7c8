/**
 * The files of a lab campaign's run directory (`cloudp2p lab campaign`), read back by
 * `cloudp2p report`:
 *
 *   run.json            configuration, the lab, start/end, totals, the verdict (LabRunInfo)
 *   ops.jsonl           one line per operation (OpRecord, ops.ts)
 *   agent-events.jsonl  what the agents emitted (AgentEventRecord): rights applied, requests received…
 *   events.jsonl        host failures and their undoing, leader changes, failure-simulation silences
 *                       (the stress tool's StressEvent lines, with `host`)
 *   metrics.jsonl       every server's cloudp2p_* counters, sampled every few seconds
 *   snapshots.json      what every agent held at the end (after the final sync)
 *   check.json          the checker's report (CheckReport, checker.ts)
 *   servers/logs/       the servers' logs, copied from the lab
 */
import type { CheckReport } from './checker.js';
import type { LabOptions } from './state.js';
import type { WorkloadOptions } from './workload.js';
import type { RunInfoHead } from '../stress/campaign.js';

export const LAB_RUN_FILES = {
  run: 'run.json',
  ops: 'ops.jsonl',
  agentEvents: 'agent-events.jsonl',
  events: 'events.jsonl',
  metrics: 'metrics.jsonl',
  snapshots: 'snapshots.json',
  check: 'check.json',
} as const;

export const LAB_TOOL = 'cloudp2p lab campaign';

export interface MetricsSample {
  at_ms: number;
  server: number;
  /** Sums of every cloudp2p_* sample (labels folded), as parsePrometheus gives them. */
  metrics: Record<string, number>;
  /** Every cloudp2p_directory_* series with its labels, e.g. `cloudp2p_directory_requests_total{op="login",outcome="ok"}`. */
  directory: Record<string, number>;
}

/** The `cloudp2p_directory_*` series of a Prometheus text, each with its labels. */
export function directorySeries(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(cloudp2p_directory_[a-z_]+(?:\{[^}]*\})?)\s+([-+0-9.eE]+)$/.exec(line.trim());
    if (!match || match[1]?.includes('_bucket')) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) out[match[1] as string] = value;
  }
  return out;
}

export interface LabRunInfo extends RunInfoHead<typeof LAB_TOOL> {
  config: {
    ops: number | null;
    duration_ms: number | null;
    rate_per_s: number;
    max_in_flight: number;
    seed: number;
    faults: string[];
    workload: WorkloadOptions;
  };
  lab: {
    lab: number;
    subnet: string;
    options: LabOptions;
    hosts: { name: string; role: string; address: string }[];
    agents: number;
  };
  machine: {
    cpus: number;
    node: string;
    load_average_start: number[];
    load_average_end: number[] | null;
  };
  driver: { event_loop_delay_ms: { p50: number; p99: number; max: number } | null };
  totals: {
    ops: number;
    ok: number;
    failed: number;
    load_duration_s: number;
    ops_per_s: number;
    /** Operations the workload wanted to start but could not (every agent busy, nothing to do). */
    idle_waits: number;
  } | null;
  verdict: { pass: boolean; failed_checks: string[] } | null;
  final: { agreed_leader: number | null; detail: string } | null;
}

export type { CheckReport };
