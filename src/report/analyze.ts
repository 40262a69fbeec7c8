/**
 * Turns a stress run directory (run.json, records.jsonl, events.jsonl) into the numbers a report
 * shows: totals and failure reasons, throughput and latency over time, latency percentiles,
 * per-server share, leader changes with their leaderless time, and for every injected failure
 * the stall it caused. Pure functions over parsed data, so they are tested without a cloud.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunInfo } from '../stress/campaign.js';
import { RUN_FILES, type StressEvent, type StressRecord } from '../stress/run-files.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { quantileSorted, summarize, type LatencySummary } from '../util/stats.js';
import { lastSwitchAt, readLeaderLogs, type LeaderLogEntry } from './server-logs.js';

/** Run files larger than this are refused rather than read into memory. */
export const MAX_RUN_FILE_BYTES = 1024 * 1024 * 1024;
/** A fault's stall is looked for in this window after it. */
export const STALL_WINDOW_MS = 30_000;
const FAULT_KINDS = new Set(['kill', 'pause', 'partition', 'silence_start']);
const UNDO_OF: Record<string, string> = {
  kill: 'restart',
  pause: 'resume',
  partition: 'heal',
  silence_start: 'silence_end',
};

export interface RunData {
  info: Partial<RunInfo>;
  records: StressRecord[];
  events: StressEvent[];
  /** Leader switches the servers logged (empty if the run has no server logs). */
  leaderLogs: LeaderLogEntry[];
  /** Lines that could not be read (counted, never fatal). */
  badLines: { file: string; line: number; problem: string }[];
}

export interface FaultStall {
  at_s: number;
  kind: string;
  server: number | null;
  source: string;
  was_leader: boolean;
  /** How long the fault lasted (until restart/resume/heal/silence end), if it ended. */
  lasted_s: number | null;
  /** Requests in flight on that server when it happened (or sent to it before the cloud noticed). */
  affected: number;
  /** The worst latency among them: what the unluckiest client saw. */
  affected_max_latency_ms: number | null;
  affected_p50_latency_ms: number | null;
  /** Longest time without any completed request in the window after the fault. */
  completion_gap_ms: number | null;
  /** Until the cloud's throughput (1 s bins) was back to 80 % of the 10 s before the fault. */
  recovery_s: number | null;
}

export interface LeaderChange {
  at_s: number;
  leader: number | null;
  epoch: number | null;
  leaderless_ms: number | null;
  /**
   * From the servers' own logs: the fault (or loss of agreement) to the moment the last
   * surviving server had switched to the new leader. Null when the logs do not say.
   */
  switch_ms_from_logs: number | null;
  detail: string;
}

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

export interface Analysis {
  run_id: string;
  status: string;
  command: string;
  started_at: string;
  cloud_size: number;
  clients: number;
  load_duration_s: number;
  totals: {
    requests: number;
    ok: number;
    failed: number;
    verify_failed: number;
    success_rate: number;
    /** Task ids with more than one record (each task must be recorded once). */
    duplicate_records: number;
    /** Results that differed from the delivered one (must be 0). */
    conflicts: number;
    failed_over: number;
    reassignments: number;
    busy_retries: number;
  };
  throughput_per_s: number;
  latency_ms: LatencySummary;
  verify_ms: LatencySummary;
  reasons: { reason: string; count: number; example: string }[];
  per_server: { server: number; count: number; share: number }[];
  throughput_series: { t_s: number; ok: number; failed: number }[];
  latency_series: { t_s: number; p50: number; p99: number; max: number }[];
  leader_changes: LeaderChange[];
  faults: FaultStall[];
  stall_ms: LatencySummary;
  split_leaders: { at_s: number; detail: string }[];
  injector_problems: { at_s: number; detail: string }[];
  skipped_injectors: { name: string; reason: string }[];
  timeline: { at_s: number; kind: string; server: number | null; source: string; detail: string }[];
  final_leader: { agreed_leader: number | null; epoch: number | null; detail: string } | null;
  driver_event_loop_delay_ms: { p50: number; p99: number; max: number } | null;
  server_metrics: Record<string, Record<string, number>>;
  checks: Check[];
  bad_lines: number;
}

export function readLimited(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new CloudP2PError(
      'run_dir_incomplete',
      `cannot read ${path}: ${errorMessage(err)}; is this a cloudp2p stress run directory?`,
      ExitCode.badInput,
    );
  }
  if (size > MAX_RUN_FILE_BYTES)
    throw new CloudP2PError(
      'run_file_too_large',
      `${path} is ${size} bytes; the report reads run files up to ${MAX_RUN_FILE_BYTES} bytes`,
      ExitCode.badInput,
    );
  return readFileSync(path, 'utf8');
}

export function readRunDir(dir: string): RunData {
  const badLines: RunData['badLines'] = [];
  let info: Partial<RunInfo>;
  try {
    info = JSON.parse(readLimited(join(dir, RUN_FILES.run))) as Partial<RunInfo>;
  } catch (err) {
    if (err instanceof CloudP2PError) throw err;
    throw new CloudP2PError(
      'run_dir_invalid',
      `${join(dir, RUN_FILES.run)} is not valid JSON: ${errorMessage(err)}`,
      ExitCode.badInput,
    );
  }
  if (typeof info !== 'object' || info === null || info.tool !== 'cloudp2p stress')
    throw new CloudP2PError(
      'run_dir_invalid',
      `${join(dir, RUN_FILES.run)} was not written by cloudp2p stress`,
      ExitCode.badInput,
    );
  const records = parseLines(dir, RUN_FILES.records, isRecord, badLines);
  const events = parseLines(dir, RUN_FILES.events, isEvent, badLines);
  return { info, records, events, badLines, leaderLogs: readLeaderLogs(dir) };
}

export function parseLines<T>(
  dir: string,
  file: string,
  valid: (value: unknown) => value is T,
  bad: RunData['badLines'],
): T[] {
  const out: T[] = [];
  readLimited(join(dir, file))
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        const value: unknown = JSON.parse(line);
        if (valid(value)) out.push(value);
        else bad.push({ file, line: i + 1, problem: 'missing or mistyped fields' });
      } catch (err) {
        bad.push({ file, line: i + 1, problem: errorMessage(err) });
      }
    });
  return out;
}

function isRecord(v: unknown): v is StressRecord {
  const r = v as StressRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.task_id === 'string' &&
    typeof r.start_ms === 'number' &&
    typeof r.end_ms === 'number' &&
    typeof r.latency_ms === 'number' &&
    (r.outcome === 'ok' || r.outcome === 'failed' || r.outcome === 'verify_failed') &&
    Array.isArray(r.servers) &&
    (r.server === null || typeof r.server === 'number')
  );
}

export function isEvent(v: unknown): v is StressEvent {
  const e = v as StressEvent;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.at_ms === 'number' &&
    typeof e.kind === 'string' &&
    typeof e.source === 'string'
  );
}

export function analyze(data: RunData): Analysis {
  const { info, records, events } = data;
  const loadStart =
    events.find((e) => e.kind === 'load_start')?.at_ms ??
    records.reduce((min, r) => Math.min(min, r.start_ms), Date.now());
  const loadEnd =
    events.find((e) => e.kind === 'load_end')?.at_ms ??
    records.reduce((max, r) => Math.max(max, r.end_ms), loadStart);
  const rel = (ms: number): number => round((ms - loadStart) / 1000, 2);
  const ok = records.filter((r) => r.outcome === 'ok');
  const okSortedEnds = ok.map((r) => r.end_ms).sort((a, b) => a - b);
  const duration_s = Math.max(0.001, (loadEnd - loadStart) / 1000);

  const ids = new Map<string, number>();
  for (const r of records) ids.set(r.task_id, (ids.get(r.task_id) ?? 0) + 1);
  const duplicateRecords = [...ids.values()].filter((n) => n > 1).length;

  const reasons = new Map<string, { count: number; example: string }>();
  for (const r of records) {
    if (r.outcome === 'ok') continue;
    const reason = r.reason ?? r.outcome;
    const entry = reasons.get(reason) ?? { count: 0, example: r.error ?? '' };
    entry.count++;
    reasons.set(reason, entry);
  }

  const perServer = new Map<number, number>();
  for (const r of ok)
    if (r.server !== null) perServer.set(r.server, (perServer.get(r.server) ?? 0) + 1);

  const throughput = throughputSeries(records, loadStart, loadEnd);
  const faults = faultStalls(events, records, okSortedEnds, throughput, loadStart);
  const leaderChanges = leaderChangesOf(events, data.leaderLogs ?? [], rel);
  const final = info.final ?? null;
  const totals = {
    requests: records.length,
    ok: ok.length,
    failed: records.filter((r) => r.outcome === 'failed').length,
    verify_failed: records.filter((r) => r.outcome === 'verify_failed').length,
    success_rate: records.length === 0 ? 0 : ok.length / records.length,
    duplicate_records: duplicateRecords,
    conflicts: records.reduce((n, r) => n + (r.conflicts ?? 0), 0),
    failed_over: records.filter((r) => r.failover || r.reassignments > 0).length,
    reassignments: records.reduce((n, r) => n + r.reassignments, 0),
    busy_retries: records.reduce((n, r) => n + (r.busy_retries ?? 0), 0),
  };
  const analysis: Analysis = {
    run_id: info.run_id ?? '?',
    status: info.status ?? '?',
    command: (info.command ?? []).join(' '),
    started_at: info.started_at ?? '',
    cloud_size: info.cloud?.size ?? 0,
    clients: info.config?.clients ?? 0,
    load_duration_s: round(duration_s, 2),
    totals,
    throughput_per_s: round(ok.length / duration_s, 2),
    latency_ms: roundSummary(summarize(ok.map((r) => r.latency_ms))),
    verify_ms: roundSummary(
      summarize(ok.map((r) => r.verify_ms).filter((v): v is number => typeof v === 'number')),
    ),
    reasons: [...reasons]
      .map(([reason, e]) => ({ reason, count: e.count, example: e.example }))
      .sort((a, b) => b.count - a.count),
    per_server: [...perServer]
      .sort(([a], [b]) => a - b)
      .map(([server, count]) => ({
        server,
        count,
        share: round(count / Math.max(1, ok.length), 4),
      })),
    throughput_series: throughput,
    latency_series: latencySeries(ok, loadStart, loadEnd),
    leader_changes: leaderChanges,
    faults,
    stall_ms: roundSummary(
      summarize(
        faults.map((f) => f.affected_max_latency_ms).filter((v): v is number => v !== null),
      ),
    ),
    split_leaders: events
      .filter((e) => e.kind === 'split_leaders')
      .map((e) => ({ at_s: rel(e.at_ms), detail: e.detail ?? '' })),
    injector_problems: events
      .filter(
        (e) =>
          e.kind === 'injector_error' || (e.kind === 'note' && e.detail?.startsWith('skipped')),
      )
      .map((e) => ({ at_s: rel(e.at_ms), detail: `${e.source}: ${e.detail ?? ''}` })),
    skipped_injectors: info.skipped_injectors ?? [],
    timeline: events.map((e) => ({
      at_s: rel(e.at_ms),
      kind: e.kind,
      server: e.server ?? e.leader ?? null,
      source: e.source,
      detail: e.detail ?? '',
    })),
    final_leader: final
      ? { agreed_leader: final.agreed_leader, epoch: final.epoch, detail: final.detail }
      : null,
    driver_event_loop_delay_ms: info.driver?.event_loop_delay_ms ?? null,
    server_metrics: info.server_metrics ?? {},
    checks: [],
    bad_lines: data.badLines.length,
  };
  analysis.checks = checks(analysis, info);
  return analysis;
}

/**
 * The leader changes the observer logged: only a new leader or epoch counts as a change (older
 * runs logged a return to the same leader after a brief disagreement as an election too).
 */
export function leaderChangesOf(
  events: readonly StressEvent[],
  leaderLogs: readonly LeaderLogEntry[],
  rel: (ms: number) => number,
): LeaderChange[] {
  let lastLeader = '';
  return events
    .filter((e) => {
      if (e.kind !== 'leader_elected') return false;
      const key = `${e.leader}@${e.epoch}`;
      const isNew = key !== lastLeader;
      lastLeader = key;
      return isNew;
    })
    .map((e) => ({
      at_s: rel(e.at_ms),
      leader: e.leader ?? null,
      epoch: e.epoch ?? null,
      leaderless_ms: e.leaderless_ms ?? null,
      switch_ms_from_logs: switchFromLogs(e, events, leaderLogs),
      detail: e.detail ?? '',
    }));
}

/**
 * For a leader change the observer timed from a fault (leaderless_ms set): when, by the
 * servers' logs, the last survivor had switched, measured from the same start.
 */
function switchFromLogs(
  elected: StressEvent,
  events: readonly StressEvent[],
  logs: readonly LeaderLogEntry[],
): number | null {
  if (elected.leaderless_ms === null || elected.leaderless_ms === undefined) return null;
  if (elected.leader === null || elected.leader === undefined) return null;
  if (elected.epoch === null || elected.epoch === undefined) return null;
  const start = elected.at_ms - elected.leaderless_ms;
  // The server hit by the fault that started this (if any) switches only after it is back.
  const faulted = new Set<number>();
  for (const e of events)
    if (FAULT_KINDS.has(e.kind) && typeof e.server === 'number' && Math.abs(e.at_ms - start) < 50)
      faulted.add(e.server);
  const last = lastSwitchAt(
    logs,
    elected.leader,
    elected.epoch,
    start - 1000,
    elected.at_ms + 1000,
    faulted,
  );
  return last === null ? null : Math.max(0, Math.round(last - start));
}

function checks(a: Analysis, info: Partial<RunInfo>): Check[] {
  const t = a.totals;
  const list: Check[] = [
    {
      name: 'every request verified',
      pass: t.requests > 0 && t.ok === t.requests,
      detail: `${t.ok} of ${t.requests} results extracted and byte-identical to the image sent`,
    },
    {
      name: 'no request lost',
      pass: t.failed === 0,
      detail:
        t.failed === 0 ? 'every request got a result' : `${t.failed} requests never got a result`,
    },
    {
      name: 'no duplicate or conflicting result',
      pass: t.duplicate_records === 0 && t.conflicts === 0,
      detail: `${t.duplicate_records} task ids recorded twice, ${t.conflicts} conflicting results`,
    },
    {
      name: 'one agreed leader at the end',
      pass: a.final_leader?.agreed_leader !== null && a.final_leader !== null,
      detail: a.final_leader
        ? a.final_leader.agreed_leader !== null
          ? `leader ${a.final_leader.agreed_leader}: ${a.final_leader.detail}`
          : a.final_leader.detail
        : 'the run did not reach its final check',
    },
    {
      name: 'never two leaders in one epoch',
      pass: !a.split_leaders.some((s) => s.detail.includes('SAME EPOCH')),
      detail:
        a.split_leaders.length === 0
          ? 'at most one server claimed leadership at any poll'
          : `${a.split_leaders.length} polls saw several leaders; ${a.split_leaders.filter((s) => s.detail.includes('SAME EPOCH')).length} in the same epoch`,
    },
  ];
  if (info.status && info.status !== 'finished')
    list.push({
      name: 'run finished',
      pass: false,
      detail: `status ${info.status}: ${info.error ?? ''}`,
    });
  return list;
}

/** Completions per 1 s bin since the load started (the last, partial bin scaled to a rate). */
export function throughputSeries(
  records: readonly StressRecord[],
  loadStart: number,
  loadEnd: number,
): { t_s: number; ok: number; failed: number }[] {
  const bins = Math.max(1, Math.ceil((loadEnd - loadStart) / 1000));
  const series = Array.from({ length: bins }, (_, i) => ({ t_s: i, ok: 0, failed: 0 }));
  for (const r of records) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor((r.end_ms - loadStart) / 1000)));
    const bin = series[i];
    if (!bin) continue;
    if (r.outcome === 'ok') bin.ok++;
    else bin.failed++;
  }
  // The last bin may cover only part of a second: scale it to a rate, or the curve would
  // always end in a false drop.
  const last = series[bins - 1];
  const covered_s = (loadEnd - loadStart) / 1000 - (bins - 1);
  if (last && bins > 1 && covered_s > 0.05 && covered_s < 1) {
    last.ok = Math.round((last.ok / covered_s) * 10) / 10;
    last.failed = Math.round((last.failed / covered_s) * 10) / 10;
  }
  return series;
}

function latencySeries(
  ok: readonly StressRecord[],
  loadStart: number,
  loadEnd: number,
): { t_s: number; p50: number; p99: number; max: number }[] {
  const span_s = (loadEnd - loadStart) / 1000;
  const bin_s = Math.max(1, Math.ceil(span_s / 200));
  const bins = new Map<number, number[]>();
  for (const r of ok) {
    const i = Math.max(0, Math.floor((r.end_ms - loadStart) / 1000 / bin_s));
    const list = bins.get(i) ?? [];
    list.push(r.latency_ms);
    bins.set(i, list);
  }
  return [...bins]
    .sort(([a], [b]) => a - b)
    .map(([i, values]) => {
      const sorted = values.sort((a, b) => a - b);
      return {
        t_s: i * bin_s,
        p50: round(quantileSorted(sorted, 0.5), 1),
        p99: round(quantileSorted(sorted, 0.99), 1),
        max: round(sorted[sorted.length - 1] ?? 0, 1),
      };
    });
}

export function faultStalls(
  events: readonly StressEvent[],
  records: readonly StressRecord[],
  okSortedEnds: readonly number[],
  throughput: readonly { t_s: number; ok: number }[],
  loadStart: number,
): FaultStall[] {
  // A silence seen twice without its end between (older runs re-logged it after a missed
  // poll) is one silence.
  const silentNow = new Set<number | null | undefined>();
  const faults = events.filter((e) => {
    if (e.kind === 'silence_end') silentNow.delete(e.server);
    if (e.kind !== 'silence_start') return FAULT_KINDS.has(e.kind);
    if (silentNow.has(e.server)) return false;
    silentNow.add(e.server);
    return true;
  });
  return faults.map((e) => {
    const server = e.server ?? null;
    const undo = events.find(
      (u) => u.kind === UNDO_OF[e.kind] && u.server === server && u.at_ms >= e.at_ms,
    );
    const t = e.at_ms;
    const until = undo?.at_ms ?? t + STALL_WINDOW_MS;
    const affected = records.filter(
      (r) =>
        server !== null &&
        r.servers.includes(server) &&
        ((r.start_ms <= t && r.end_ms > t) ||
          (r.start_ms > t && r.start_ms < until && r.reassignments > 0)),
    );
    const latencies = affected.map((r) => r.latency_ms).sort((a, b) => a - b);
    return {
      at_s: round((t - loadStart) / 1000, 2),
      kind: e.kind === 'silence_start' ? 'silence' : e.kind,
      server,
      source: e.source,
      was_leader: e.was_leader ?? false,
      lasted_s: undo ? round((undo.at_ms - t) / 1000, 2) : null,
      affected: affected.length,
      affected_max_latency_ms: latencies.length
        ? round(latencies[latencies.length - 1] as number, 1)
        : null,
      affected_p50_latency_ms: latencies.length ? round(quantileSorted(latencies, 0.5), 1) : null,
      completion_gap_ms: completionGap(okSortedEnds, t, t + STALL_WINDOW_MS),
      recovery_s: recovery(throughput, (t - loadStart) / 1000),
    };
  });
}

/** Longest stretch in [from, to] without a completion (the first stretch starts at `from`). */
export function completionGap(
  sortedEnds: readonly number[],
  from: number,
  to: number,
): number | null {
  let previous = from;
  let longest = 0;
  let seen = false;
  for (const end of sortedEnds) {
    if (end < from) continue;
    if (end > to) break;
    seen = true;
    longest = Math.max(longest, end - previous);
    previous = end;
  }
  return seen ? Math.round(longest) : null;
}

/** Seconds after `t_s` until a 1 s bin reaches 80 % of the mean of the 10 bins before it. */
export function recovery(
  series: readonly { t_s: number; ok: number }[],
  t_s: number,
): number | null {
  const index = Math.floor(t_s);
  const before = series.slice(Math.max(0, index - 10), index);
  if (before.length === 0) return null;
  const baseline = before.reduce((n, b) => n + b.ok, 0) / before.length;
  if (baseline <= 0) return null;
  for (const bin of series.slice(index + 1))
    if (bin.ok >= 0.8 * baseline) return round(bin.t_s + 1 - t_s, 2);
  return null;
}

export function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function roundSummary(s: LatencySummary): LatencySummary {
  return {
    count: s.count,
    min: round(s.min, 1),
    p50: round(s.p50, 1),
    p95: round(s.p95, 1),
    p99: round(s.p99, 1),
    max: round(s.max, 1),
    mean: round(s.mean, 1),
  };
}
