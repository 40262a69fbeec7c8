/**
 * Turns a lab campaign's run directory (src/lab/run-files.ts) into the numbers its report shows:
 * operations per second by kind over time, latency percentiles by kind, the time from a change
 * made while its recipient was signed out to its application at sign-in, the directory's
 * answers (refusals by code, failures, retries) over time from the servers' counters, every
 * host failure with what it did to the workload, leader changes, and the checker's verdict.
 * Pure functions over parsed data (readSharingRun does the reading).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckReport, OfflineApplication } from '../lab/checker.js';
import { OP_KINDS, outcomeUnknown, type OpKind, type OpRecord } from '../lab/ops.js';
import { LAB_RUN_FILES, LAB_TOOL, type LabRunInfo, type MetricsSample } from '../lab/run-files.js';
import type { StressEvent } from '../stress/run-files.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { summarize, type LatencySummary } from '../util/stats.js';
import {
  completionGap,
  isEvent,
  leaderChangesOf,
  parseLines,
  readLimited,
  recovery,
  round,
  roundSummary,
  type Check,
  type LeaderChange,
  type RunData,
} from './analyze.js';
import { readLeaderLogs, type LeaderLogEntry } from './server-logs.js';

/** Kinds drawn together on the operations chart (twelve lines would be unreadable). */
export const OP_GROUPS: Record<string, readonly OpKind[]> = {
  views: ['view'],
  requests: ['request', 'more_views'],
  answers: ['accept', 'reject'],
  'quota changes': ['set_quota', 'revoke'],
  browsing: ['peers', 'previews'],
  encryptions: ['encrypt'],
  'sign in/out': ['sign_in', 'sign_out'],
};

export interface SharingRunData {
  info: Partial<LabRunInfo>;
  ops: OpRecord[];
  events: (StressEvent & { host?: string })[];
  metrics: MetricsSample[];
  check: CheckReport | null;
  leaderLogs: LeaderLogEntry[];
  badLines: RunData['badLines'];
}

export interface KindStats {
  kind: OpKind;
  count: number;
  ok: number;
  failed: number;
  unknown_outcome: number;
  per_s: number;
  latency_ms: LatencySummary;
}

export interface HostFailure {
  at_s: number;
  kind: string;
  host: string;
  source: string;
  was_leader: boolean;
  lasted_s: number | null;
  /** Operations started while it was in force, and how many of them failed. */
  ops_during: number;
  failed_during: number;
  /** Longest time without a completed operation in the 30 s after it. */
  completion_gap_ms: number | null;
  /** Until operations per second were back to 80% of the 10 s before. */
  recovery_s: number | null;
}

/** Changes made while their recipient was offline, and when they were applied. */
export interface OfflineChanges {
  count: number;
  applied: number;
  delay_ms: LatencySummary;
  after_sign_in_ms: LatencySummary;
}

export interface SharingAnalysis {
  kind: 'sharing';
  run_id: string;
  status: string;
  command: string;
  started_at: string;
  agents: number;
  directory: string;
  load_duration_s: number;
  totals: {
    ops: number;
    ok: number;
    failed: number;
    unknown_outcome: number;
    ops_per_s: number;
    sharing_ops: number;
    encryptions: number;
  };
  by_kind: KindStats[];
  /** Completed operations per second (1 s bins) per group of kinds, and failures. */
  series: { t_s: number; groups: Record<string, number>; failed: number; ok: number }[];
  latency_series: { t_s: number; p50: number; p99: number }[];
  errors: { code: string; count: number; kinds: string; example: string }[];
  offline: { grant_changes: OfflineChanges; requests: OfflineChanges };
  directory_answers: { outcome: string; count: number }[];
  directory_retries: { reason: string; count: number }[];
  /** Directory answers per 5 s bin over all servers (ok, refused, failed). */
  directory_series: { t_s: number; ok: number; refused: number; failed: number }[];
  host_failures: HostFailure[];
  leader_changes: LeaderChange[];
  timeline: { at_s: number; kind: string; host: string; source: string; detail: string }[];
  final_leader: { agreed_leader: number | null; detail: string } | null;
  driver_event_loop_delay_ms: { p50: number; p99: number; max: number } | null;
  checks: Check[];
  check_examples: Record<string, string[]>;
  bad_lines: number;
}

/** Whether `dir` holds a lab campaign (run.json names the tool). */
export function isSharingRun(dir: string): boolean {
  try {
    return (
      (JSON.parse(readLimited(join(dir, LAB_RUN_FILES.run))) as { tool?: unknown }).tool ===
      LAB_TOOL
    );
  } catch {
    return false;
  }
}

export function readSharingRun(dir: string): SharingRunData {
  const badLines: RunData['badLines'] = [];
  let info: Partial<LabRunInfo>;
  try {
    info = JSON.parse(readLimited(join(dir, LAB_RUN_FILES.run))) as Partial<LabRunInfo>;
  } catch (err) {
    if (err instanceof CloudP2PError) throw err;
    throw new CloudP2PError(
      'run_dir_invalid',
      `${join(dir, LAB_RUN_FILES.run)} is not valid JSON: ${errorMessage(err)}`,
      ExitCode.badInput,
    );
  }
  let check: CheckReport | null = null;
  const checkPath = join(dir, LAB_RUN_FILES.check);
  if (existsSync(checkPath))
    try {
      check = JSON.parse(readFileSync(checkPath, 'utf8')) as CheckReport;
    } catch (err) {
      badLines.push({ file: LAB_RUN_FILES.check, line: 1, problem: errorMessage(err) });
    }
  return {
    info,
    ops: parseLines(dir, LAB_RUN_FILES.ops, isOpRecord, badLines),
    events: parseLines(dir, LAB_RUN_FILES.events, isEvent, badLines),
    metrics: existsSync(join(dir, LAB_RUN_FILES.metrics))
      ? parseLines(dir, LAB_RUN_FILES.metrics, isMetrics, badLines)
      : [],
    check,
    leaderLogs: readLeaderLogs(dir),
    badLines,
  };
}

function isOpRecord(v: unknown): v is OpRecord {
  const r = v as OpRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.seq === 'number' &&
    typeof r.start_ms === 'number' &&
    typeof r.latency_ms === 'number' &&
    typeof r.ok === 'boolean' &&
    typeof r.op === 'object' &&
    r.op !== null &&
    (OP_KINDS as readonly string[]).includes(r.op.kind)
  );
}

function isMetrics(v: unknown): v is MetricsSample {
  const m = v as MetricsSample;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.at_ms === 'number' &&
    typeof m.server === 'number' &&
    typeof m.metrics === 'object'
  );
}

const FAULTS = new Set(['kill', 'partition', 'silence_start']);
const UNDO: Record<string, string> = {
  kill: 'restart',
  partition: 'heal',
  silence_start: 'silence_end',
};
const WINDOW_MS = 30_000;

export function analyzeSharing(data: SharingRunData): SharingAnalysis {
  const { info, ops, events } = data;
  const loadStart =
    events.find((e) => e.kind === 'load_start')?.at_ms ??
    Math.min(...ops.map((r) => r.start_ms), Date.now());
  const loadEnd =
    events.find((e) => e.kind === 'load_end')?.at_ms ??
    Math.max(loadStart, ...ops.map((r) => r.start_ms + r.latency_ms));
  const inLoad = ops.filter((r) => r.start_ms <= loadEnd);
  const duration_s = Math.max(0.001, (loadEnd - loadStart) / 1000);
  const rel = (ms: number): number => round((ms - loadStart) / 1000, 2);
  const end = (r: OpRecord): number => r.start_ms + r.latency_ms;

  const byKind: KindStats[] = OP_KINDS.map((kind) => {
    const list = inLoad.filter((r) => r.op.kind === kind);
    const ok = list.filter((r) => r.ok);
    return {
      kind,
      count: list.length,
      ok: ok.length,
      failed: list.length - ok.length,
      unknown_outcome: list.filter(outcomeUnknown).length,
      per_s: round(ok.length / duration_s, 2),
      latency_ms: roundSummary(summarize(ok.map((r) => r.latency_ms))),
    };
  }).filter((k) => k.count > 0);

  const bins = Math.max(1, Math.ceil((loadEnd - loadStart) / 1000));
  const series = Array.from({ length: bins }, (_, t_s) => ({
    t_s,
    groups: Object.fromEntries(Object.keys(OP_GROUPS).map((g) => [g, 0])) as Record<string, number>,
    failed: 0,
    ok: 0,
  }));
  const groupOf = new Map<OpKind, string>();
  for (const [group, kinds] of Object.entries(OP_GROUPS))
    for (const k of kinds) groupOf.set(k, group);
  for (const r of inLoad) {
    const bin = series[Math.min(bins - 1, Math.max(0, Math.floor((end(r) - loadStart) / 1000)))];
    if (!bin) continue;
    if (!r.ok) bin.failed++;
    else {
      bin.ok++;
      const group = groupOf.get(r.op.kind) as string;
      bin.groups[group] = (bin.groups[group] ?? 0) + 1;
    }
  }
  const latencyBin_s = Math.max(1, Math.ceil(duration_s / 200));
  const latencyBins = new Map<number, number[]>();
  for (const r of inLoad.filter((x) => x.ok)) {
    const i = Math.max(0, Math.floor((end(r) - loadStart) / 1000 / latencyBin_s));
    latencyBins.set(i, [...(latencyBins.get(i) ?? []), r.latency_ms]);
  }
  const latency_series = [...latencyBins]
    .sort(([a], [b]) => a - b)
    .map(([i, values]) => {
      const s = summarize(values);
      return { t_s: i * latencyBin_s, p50: round(s.p50, 1), p99: round(s.p99, 1) };
    });

  const errors = new Map<string, { count: number; kinds: Set<string>; example: string }>();
  for (const r of inLoad) {
    if (r.ok || !r.error) continue;
    const e = errors.get(r.error.code) ?? {
      count: 0,
      kinds: new Set<string>(),
      example: r.error.message,
    };
    e.count++;
    e.kinds.add(r.op.kind);
    errors.set(r.error.code, e);
  }

  const offline = data.check?.offline ?? [];
  const offlineSummary = (
    kind: OfflineApplication['kind'],
  ): SharingAnalysis['offline']['requests'] => {
    const list = offline.filter((o) => o.kind === kind);
    const applied = list.filter((o) => o.applied_at_ms !== null);
    return {
      count: list.length,
      applied: applied.length,
      delay_ms: roundSummary(summarize(applied.map((o) => o.delay_ms as number))),
      after_sign_in_ms: roundSummary(
        summarize(applied.map((o) => o.after_sign_in_ms).filter((v): v is number => v !== null)),
      ),
    };
  };

  const { answers, retries, directorySeries } = directoryCounters(data.metrics, loadStart);

  const okEnds = inLoad
    .filter((r) => r.ok)
    .map(end)
    .sort((a, b) => a - b);
  const okSeries = series.map((b) => ({ t_s: b.t_s, ok: b.ok }));
  const silentNow = new Set<string>();
  const hostFailures: HostFailure[] = events
    .filter((e) => {
      const host = hostOf(e);
      if (e.kind === 'silence_end') silentNow.delete(host);
      if (e.kind !== 'silence_start') return FAULTS.has(e.kind);
      if (silentNow.has(host)) return false;
      silentNow.add(host);
      return true;
    })
    .map((e) => {
      const host = hostOf(e);
      const undo = events.find(
        (u) => u.kind === UNDO[e.kind] && hostOf(u) === host && u.at_ms >= e.at_ms,
      );
      const until = undo?.at_ms ?? loadEnd;
      const during = inLoad.filter((r) => r.start_ms >= e.at_ms && r.start_ms < until);
      return {
        at_s: rel(e.at_ms),
        kind: e.kind === 'silence_start' ? 'silence' : e.kind === 'partition' ? 'cut' : e.kind,
        host,
        source: e.source,
        was_leader: e.was_leader ?? false,
        lasted_s: undo ? round((undo.at_ms - e.at_ms) / 1000, 2) : null,
        ops_during: during.length,
        failed_during: during.filter((r) => !r.ok).length,
        completion_gap_ms: completionGap(okEnds, e.at_ms, e.at_ms + WINDOW_MS),
        recovery_s: recovery(okSeries, (e.at_ms - loadStart) / 1000),
      };
    });

  const checks: Check[] = (data.check?.checks ?? []).map((c) => ({
    name: c.name,
    pass: c.pass,
    detail: c.detail,
  }));
  const examples: Record<string, string[]> = {};
  for (const c of data.check?.checks ?? [])
    if (c.examples.length > 0) examples[c.name] = c.examples;
  if (!data.check)
    checks.push({
      name: 'the run was checked',
      pass: false,
      detail: 'no check.json: the campaign did not reach its final check',
    });
  checks.push({
    name: 'one agreed leader at the end',
    pass: info.final?.agreed_leader !== null && info.final !== undefined && info.final !== null,
    detail: info.final ? info.final.detail : 'the run did not reach its final check',
  });
  if (info.status && info.status !== 'finished')
    checks.push({
      name: 'run finished',
      pass: false,
      detail: `status ${info.status}: ${info.error ?? ''}`,
    });

  const ok = inLoad.filter((r) => r.ok);
  return {
    kind: 'sharing',
    run_id: info.run_id ?? '?',
    status: info.status ?? '?',
    command: (info.command ?? []).join(' '),
    started_at: info.started_at ?? '',
    agents: info.lab?.agents ?? 0,
    directory: info.lab?.options?.directory ?? '?',
    load_duration_s: round(duration_s, 2),
    totals: {
      ops: inLoad.length,
      ok: ok.length,
      failed: inLoad.length - ok.length,
      unknown_outcome: inLoad.filter(outcomeUnknown).length,
      ops_per_s: round(ok.length / duration_s, 2),
      sharing_ops: ok.filter(
        (r) => r.op.kind !== 'encrypt' && r.op.kind !== 'sign_in' && r.op.kind !== 'sign_out',
      ).length,
      encryptions: ok.filter((r) => r.op.kind === 'encrypt').length,
    },
    by_kind: byKind,
    series,
    latency_series,
    errors: [...errors]
      .map(([code, e]) => ({
        code,
        count: e.count,
        kinds: [...e.kinds].join(', '),
        example: e.example,
      }))
      .sort((a, b) => b.count - a.count),
    offline: { grant_changes: offlineSummary('grant_change'), requests: offlineSummary('request') },
    directory_answers: answers,
    directory_retries: retries,
    directory_series: directorySeries,
    host_failures: hostFailures,
    leader_changes: leaderChangesOf(events, data.leaderLogs, rel),
    timeline: events.map((e) => ({
      at_s: rel(e.at_ms),
      kind: e.kind,
      host: hostOf(e),
      source: e.source,
      detail: e.detail ?? '',
    })),
    final_leader: info.final ?? null,
    driver_event_loop_delay_ms: info.driver?.event_loop_delay_ms ?? null,
    checks,
    check_examples: examples,
    bad_lines: data.badLines.length,
  };
}

function hostOf(e: StressEvent & { host?: string }): string {
  if (typeof e.host === 'string') return e.host;
  return typeof e.server === 'number' ? `cloud-${e.server}` : '';
}

/**
 * What the servers' directory counters say happened, as increases over the run (a counter that
 * goes down was reset by a restart: its new value is the increase).
 */
export function directoryCounters(
  samples: readonly MetricsSample[],
  loadStart: number,
): {
  answers: SharingAnalysis['directory_answers'];
  retries: SharingAnalysis['directory_retries'];
  directorySeries: SharingAnalysis['directory_series'];
} {
  const last = new Map<string, number>();
  const answers = new Map<string, number>();
  const retries = new Map<string, number>();
  const bins = new Map<number, { ok: number; refused: number; failed: number }>();
  for (const sample of [...samples].sort((a, b) => a.at_ms - b.at_ms)) {
    for (const [series, value] of Object.entries(sample.directory ?? {})) {
      const key = `${sample.server}:${series}`;
      const previous = last.get(key);
      last.set(key, value);
      if (previous === undefined) continue; // the first sample is the baseline
      const increase = value >= previous ? value - previous : value;
      if (increase <= 0) continue;
      const label = (name: string): string | undefined =>
        new RegExp(`${name}="([^"]*)"`).exec(series)?.[1];
      if (series.startsWith('cloudp2p_directory_requests_total')) {
        const outcome = label('outcome') ?? '?';
        answers.set(outcome, (answers.get(outcome) ?? 0) + increase);
        const t = Math.max(0, Math.floor((sample.at_ms - loadStart) / 5000)) * 5;
        const bin = bins.get(t) ?? { ok: 0, refused: 0, failed: 0 };
        if (outcome === 'ok') bin.ok += increase;
        else if (outcome === 'directory_failure') bin.failed += increase;
        else bin.refused += increase;
        bins.set(t, bin);
      } else if (series.startsWith('cloudp2p_directory_retries_total')) {
        const reason = label('reason') ?? '?';
        retries.set(reason, (retries.get(reason) ?? 0) + increase);
      }
    }
  }
  return {
    answers: [...answers]
      .map(([outcome, count]) => ({ outcome, count }))
      .sort((a, b) => b.count - a.count),
    retries: [...retries]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count),
    directorySeries: [...bins].sort(([a], [b]) => a - b).map(([t_s, b]) => ({ t_s, ...b })),
  };
}
