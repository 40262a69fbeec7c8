/**
 * Renders an Analysis as the report people read: report.md with SVG charts beside it (drawn by
 * src/util/charts.ts) and report.json with every number. `writeReport(runDir)` does it all.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, histogram, lineChart, type EventLine } from '../util/charts.js';
import { analyze, readRunDir, type Analysis } from './analyze.js';
import { isSharingRun } from './sharing-analyze.js';
import { writeSharingReport } from './sharing-render.js';
import { fmt, leaderChangesTable, movingAverage, table } from './markdown.js';
import type { ReportFiles } from './report-files.js';

export type { ReportFiles } from './report-files.js';

const EVENT_COLORS: Record<string, string> = {
  kill: '#D55E00',
  pause: '#CC79A7',
  partition: '#E69F00',
  silence: '#56B4E9',
  leader: '#009E73',
};
/** Event labels on the throughput chart beyond this many would be unreadable. */
const MAX_LABELLED_EVENTS = 40;

export function writeReport(runDir: string, outDir = runDir): ReportFiles {
  if (isSharingRun(runDir)) return writeSharingReport(runDir, outDir);
  const data = readRunDir(runDir);
  const analysis = analyze(data);
  const latencies = data.records.filter((r) => r.outcome === 'ok').map((r) => r.latency_ms);
  const chartDir = join(outDir, 'charts');
  mkdirSync(chartDir, { recursive: true });
  const charts = renderCharts(analysis, latencies);
  const chartPaths: string[] = [];
  for (const [name, svg] of Object.entries(charts)) {
    const path = join(chartDir, `${name}.svg`);
    writeFileSync(path, svg);
    chartPaths.push(path);
  }
  const markdown = join(outDir, 'report.md');
  const json = join(outDir, 'report.json');
  writeFileSync(markdown, renderMarkdown(analysis, Object.keys(charts)));
  writeFileSync(json, `${JSON.stringify(analysis, null, 2)}\n`);
  const a = analysis;
  const headline = `${a.totals.ok}/${a.totals.requests} verified ok (${(a.totals.success_rate * 100).toFixed(2)}%), ${a.throughput_per_s} images/s, p50 ${a.latency_ms.p50} ms, p99 ${a.latency_ms.p99} ms, max ${a.latency_ms.max} ms`;
  return { markdown, json, charts: chartPaths, analysis, headline, checks: analysis.checks };
}

export function failureEventLines(a: Analysis): EventLine[] {
  const lines: EventLine[] = a.faults.map((f) => ({
    x: f.at_s,
    label: `${f.kind} s${f.server ?? '?'}${f.was_leader ? ' (leader)' : ''}`,
    color: EVENT_COLORS[f.kind] ?? '#999999',
  }));
  for (const change of a.leader_changes.slice(1))
    lines.push({
      x: change.at_s,
      label: '', // unlabelled to keep the chart readable: the title says what green means
      color: EVENT_COLORS.leader,
    });
  lines.sort((x, y) => x.x - y.x);
  if (lines.length <= MAX_LABELLED_EVENTS) return lines;
  return lines.map((line) => ({ ...line, label: '' }));
}

/** `latencies`: every verified request's latency (the histogram's input). */
export function renderCharts(a: Analysis, latencies: readonly number[]): Record<string, string> {
  const events = failureEventLines(a);
  const charts: Record<string, string> = {};
  charts.throughput = lineChart({
    title: 'Throughput over time (failures marked; green lines: a new leader agreed)',
    xLabel: 'seconds since the load started',
    yLabel: 'verified results per second',
    width: 960,
    series: [
      {
        name: 'ok / s',
        points: a.throughput_series.map((b) => ({ x: b.t_s, y: b.ok })),
        marker: 'none',
      },
      ...(a.throughput_series.length >= 60
        ? [
            {
              name: 'ok / s, 10 s moving average',
              points: movingAverage(
                a.throughput_series.map((b) => ({ x: b.t_s, y: b.ok })),
                10,
              ),
              marker: 'none' as const,
              color: '#000000',
            },
          ]
        : []),
      {
        name: 'failed / s',
        points: a.throughput_series.map((b) => ({ x: b.t_s, y: b.failed })),
        marker: 'none',
        color: '#D55E00',
      },
    ],
    events,
  });
  const l = a.latency_ms;
  const cap = Math.max(l.p99 * 1.2, l.p50 * 2);
  const drawn = latencies.filter((v) => v <= cap);
  const above = latencies.length - drawn.length;
  charts['latency-histogram'] = histogram({
    title: `Latency of verified requests (p50 ${l.p50} ms, p95 ${l.p95}, p99 ${l.p99}, max ${l.max})`,
    xLabel: `latency (ms)${above > 0 ? `; ${above} requests above ${Math.round(cap)} ms not drawn` : ''}`,
    yLabel: 'requests',
    width: 960,
    values: drawn,
    bins: 50,
    events: [
      { x: l.p50, label: 'p50', color: '#009E73' },
      { x: l.p95, label: 'p95', color: '#E69F00' },
      { x: l.p99, label: 'p99', color: '#D55E00' },
    ],
  });
  charts['latency-over-time'] = lineChart({
    title: 'Latency over time (failures marked; green lines: a new leader agreed)',
    xLabel: 'seconds since the load started',
    yLabel: 'latency (ms)',
    width: 960,
    yScale: 'log',
    series: [
      {
        name: 'p50',
        points: a.latency_series.map((b) => ({ x: b.t_s, y: b.p50 })),
        marker: 'none',
      },
      {
        name: 'p99',
        points: a.latency_series.map((b) => ({ x: b.t_s, y: b.p99 })),
        marker: 'none',
      },
      {
        name: 'max',
        points: a.latency_series.map((b) => ({ x: b.t_s, y: b.max })),
        marker: 'none',
        dashed: true,
      },
    ],
    events,
  });
  charts['per-server'] = barChart({
    title: 'Share of the work per server (verified results)',
    yLabel: 'results',
    categories: a.per_server.map((s) => `server ${s.server} (${(s.share * 100).toFixed(1)}%)`),
    groups: [{ name: 'results delivered', values: a.per_server.map((s) => s.count) }],
    showValues: true,
  });
  if (a.faults.length > 0)
    charts.stalls = barChart({
      title: 'Stall after each failure: worst latency of the requests it caught',
      yLabel: 'ms',
      width: Math.min(2400, Math.max(720, 56 * a.faults.length + 150)),
      xLabel: `failure number and server (${[...new Set(a.faults.map((f) => f.kind))].join(', ')}; see the table)`,
      categories: a.faults.map((f, i) =>
        a.faults.length > 30 ? `${i + 1}` : `#${i + 1} s${f.server ?? '?'}`,
      ),
      groups: [
        {
          name: 'worst affected latency',
          values: a.faults.map((f) => f.affected_max_latency_ms ?? 0),
        },
        {
          name: 'median affected latency',
          values: a.faults.map((f) => f.affected_p50_latency_ms ?? 0),
        },
      ],
    });
  return charts;
}

/** Centered moving average over `window` points (shorter at the ends). */
export function renderMarkdown(a: Analysis, charts: string[]): string {
  const t = a.totals;
  const l = a.latency_ms;
  const out: string[] = [];
  const allPass = a.checks.every((c) => c.pass);
  out.push(`# Stress run ${a.run_id}`, '');
  out.push(`\`${a.command}\``, '');
  out.push(
    `Started ${a.started_at}; ${a.cloud_size} servers, ${a.clients} clients, load ran ${fmt(a.load_duration_s, 1)} s; status **${a.status}**.`,
    '',
  );
  out.push(`## Verdict: ${allPass ? 'PASS' : 'FAIL'}`, '');
  out.push(
    table(
      ['check', 'result', 'detail'],
      a.checks.map((c) => [c.name, c.pass ? 'pass' : '**FAIL**', c.detail]),
    ),
    '',
  );
  out.push('## Headline', '');
  out.push(
    table(
      [
        'requests',
        'verified ok',
        'failed',
        'success',
        'throughput (images/s)',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'max ms',
        'failed over',
        'leader changes',
        'failures injected',
      ],
      [
        [
          t.requests,
          t.ok,
          t.failed + t.verify_failed,
          `${(t.success_rate * 100).toFixed(2)}%`,
          fmt(a.throughput_per_s, 1),
          fmt(l.p50),
          fmt(l.p95),
          fmt(l.p99),
          fmt(l.max),
          t.failed_over,
          Math.max(0, a.leader_changes.length - 1),
          a.faults.length,
        ],
      ],
    ),
    '',
  );
  if (charts.includes('throughput')) out.push('![throughput over time](charts/throughput.svg)', '');
  out.push('## Latency', '');
  out.push(
    `Verified requests, submit to result (verification not included): min ${fmt(l.min)} ms, mean ${fmt(l.mean)}, p50 ${fmt(l.p50)}, p95 ${fmt(l.p95)}, p99 ${fmt(l.p99)}, max ${fmt(l.max)}. Verifying a result (extract + compare, in a worker thread) took p50 ${fmt(a.verify_ms.p50, 1)} ms, p99 ${fmt(a.verify_ms.p99, 1)} ms.`,
    '',
  );
  if (a.driver_event_loop_delay_ms)
    out.push(
      `The driver's event loop delay during the load (how late its timers ran, so how much its own work could distort latencies): p50 ${fmt(a.driver_event_loop_delay_ms.p50, 1)} ms, p99 ${fmt(a.driver_event_loop_delay_ms.p99, 1)} ms, max ${fmt(a.driver_event_loop_delay_ms.max, 1)} ms.`,
      '',
    );
  out.push(
    '![latency histogram](charts/latency-histogram.svg)',
    '',
    '![latency over time](charts/latency-over-time.svg)',
    '',
  );
  out.push('## Outcomes', '');
  out.push(
    table(
      ['outcome', 'count'],
      [
        ['ok (result extracted, bytes identical)', t.ok],
        ['failed (no result before the deadline, or refused)', t.failed],
        ['verify_failed (result did not hide the image sent)', t.verify_failed],
        ['task ids recorded twice', t.duplicate_records],
        ['conflicting results for one task', t.conflicts],
        ['requests that moved to another server', t.failed_over],
        ['reassignments followed', t.reassignments],
        ['"all servers busy" retries', t.busy_retries],
      ],
    ),
    '',
  );
  if (a.reasons.length > 0)
    out.push(
      'Failure reasons:',
      '',
      table(
        ['reason', 'count', 'example'],
        a.reasons.map((r) => [r.reason, r.count, r.example]),
      ),
      '',
    );
  out.push('## Share of the work', '');
  out.push(
    table(
      ['server', 'results', 'share'],
      a.per_server.map((s) => [s.server, s.count, `${(s.share * 100).toFixed(1)}%`]),
    ),
    '',
  );
  out.push('![per-server share](charts/per-server.svg)', '');
  out.push('## Leader changes', '');
  if (a.leader_changes.length === 0)
    out.push('No agreed leader was observed by polling /status.', '');
  else {
    const fromLogs = a.leader_changes
      .map((c) => c.switch_ms_from_logs)
      .filter((v): v is number => v !== null);
    const leaderless = a.leader_changes
      .map((c) => c.leaderless_ms)
      .filter((v): v is number => v !== null);
    out.push(
      `Seen by polling every server's /status; "without a leader (polled)" runs from the failure (or the first poll that saw no agreement) to the first poll where all live servers agree again, so it includes the polling delay (${POLL_NOTE}). "Switched (server logs)" is the same interval by the servers' own log lines: until the last surviving server had acknowledged the new leader. ${leaderless.length > 0 ? `Polled, over ${leaderless.length} changes: median ${fmt(median(leaderless))} ms, max ${fmt(Math.max(...leaderless))} ms.` : ''}${fromLogs.length > 0 ? ` Server logs: median ${fmt(median(fromLogs))} ms, max ${fmt(Math.max(...fromLogs))} ms.` : ''}`,
      '',
      leaderChangesTable(a.leader_changes),
      '',
    );
  }
  if (a.split_leaders.length > 0)
    out.push(
      'Moments where several servers claimed leadership:',
      '',
      ...a.split_leaders.map((s) => `- ${fmt(s.at_s, 1)} s: ${s.detail}`),
      '',
    );
  out.push('## Failures and the stall after each', '');
  if (a.faults.length === 0) out.push('No failure was injected or observed in this run.', '');
  else {
    out.push(
      `"Affected" requests were in flight on the failed server when it failed (or were sent to it before the cloud noticed and then moved). Their worst latency is the stall the unluckiest client saw. The completion gap is the longest time in the ${STALL_WINDOW_MS_TEXT} after the failure when no request at all completed; recovery is the time until the cloud's throughput was back to 80% of the 10 s before. Stall over the ${a.stall_ms.count} of ${a.faults.length} failures that caught requests: p50 ${fmt(a.stall_ms.p50)} ms, p95 ${fmt(a.stall_ms.p95)} ms, max ${fmt(a.stall_ms.max)} ms.`,
      '',
      table(
        [
          '#',
          'at (s)',
          'failure',
          'server',
          'was leader',
          'lasted (s)',
          'affected',
          'worst latency (ms)',
          'median affected (ms)',
          'completion gap (ms)',
          'recovery (s)',
        ],
        a.faults.map((f, i) => [
          i + 1,
          fmt(f.at_s, 1),
          `${f.kind} (${f.source})`,
          f.server ?? '-',
          f.was_leader ? 'yes' : 'no',
          fmt(f.lasted_s, 1),
          f.affected,
          fmt(f.affected_max_latency_ms),
          fmt(f.affected_p50_latency_ms),
          fmt(f.completion_gap_ms),
          fmt(f.recovery_s, 1),
        ]),
      ),
      '',
    );
    if (charts.includes('stalls')) out.push('![stall after each failure](charts/stalls.svg)', '');
  }
  if (a.skipped_injectors.length > 0)
    out.push(
      'Injectors skipped in this run:',
      '',
      ...a.skipped_injectors.map((s) => `- ${s.name}: ${s.reason}`),
      '',
    );
  if (a.injector_problems.length > 0)
    out.push(
      'Injections that did not happen:',
      '',
      ...a.injector_problems.map((p) => `- ${fmt(p.at_s, 1)} s: ${p.detail}`),
      '',
    );
  if (a.final_leader)
    out.push(
      `At the end: ${a.final_leader.agreed_leader !== null ? `leader ${a.final_leader.agreed_leader}, epoch ${a.final_leader.epoch}; ` : ''}${a.final_leader.detail}.`,
      '',
    );
  const metricNames = [
    'cloudp2p_tasks_completed_total',
    'cloudp2p_tasks_reassigned_total',
    'cloudp2p_task_duplicates_answered_total',
    'cloudp2p_tasks_rejected_busy_total',
    'cloudp2p_elections_started_total',
  ];
  const servers = Object.keys(a.server_metrics);
  if (servers.length > 0) {
    out.push('## Server counters at the end (/metrics, since each process started)', '');
    out.push(
      table(
        ['server', ...metricNames.map((n) => n.replace(/^cloudp2p_/, ''))],
        servers.map((s) => [s, ...metricNames.map((n) => fmt(a.server_metrics[s]?.[n]))]),
      ),
      '',
    );
  }
  out.push('## Timeline', '');
  const shown = a.timeline.slice(0, 300);
  out.push(
    table(
      ['at (s)', 'event', 'server', 'by', 'detail'],
      shown.map((e) => [fmt(e.at_s, 2), e.kind, e.server ?? '', e.source, e.detail]),
    ),
    '',
  );
  if (a.timeline.length > shown.length)
    out.push(`(${a.timeline.length - shown.length} more events in events.jsonl)`, '');
  if (a.bad_lines > 0)
    out.push(`Note: ${a.bad_lines} unreadable lines in the run files were skipped.`, '');
  out.push('Regenerate with `cloudp2p report <run-dir>`; the numbers are in report.json.', '');
  return `${out.join('\n')}\n`;
}

const STALL_WINDOW_MS_TEXT = '30 s';
const POLL_NOTE =
  "a poll every 200 ms by default, each answer up to 400 ms late, plus the driver's own event-loop delay";

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}
