/**
 * The report of a lab campaign (src/lab): report.md with SVG charts beside it and report.json
 * with every number. Charts: operations per second by kind over time and latency over time, with
 * host failures and leader changes marked; latency percentiles by kind; how long changes made
 * while the recipient was signed out took to apply after sign-in; the directory's answers over
 * time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, histogram, lineChart, PALETTE, type EventLine } from '../util/charts.js';
import { fmt, leaderChangesTable, movingAverage, table } from './markdown.js';
import type { ReportFiles } from './report-files.js';
import {
  OP_GROUPS,
  analyzeSharing,
  readSharingRun,
  type OfflineChanges,
  type SharingAnalysis,
} from './sharing-analyze.js';

const FAULT_COLORS: Record<string, string> = {
  kill: '#D55E00',
  restart: '#009E73',
  cut: '#E69F00',
  silence: '#56B4E9',
};

export function writeSharingReport(runDir: string, outDir = runDir): ReportFiles {
  const data = readSharingRun(runDir);
  const analysis = analyzeSharing(data);
  const chartDir = join(outDir, 'charts');
  mkdirSync(chartDir, { recursive: true });
  const afterSignIn = (data.check?.offline ?? [])
    .map((o) => o.after_sign_in_ms)
    .filter((v): v is number => v !== null);
  const charts = renderSharingCharts(analysis, afterSignIn);
  const chartPaths: string[] = [];
  for (const [name, svg] of Object.entries(charts)) {
    const path = join(chartDir, `${name}.svg`);
    writeFileSync(path, svg);
    chartPaths.push(path);
  }
  const markdown = join(outDir, 'report.md');
  const json = join(outDir, 'report.json');
  writeFileSync(markdown, renderSharingMarkdown(analysis, Object.keys(charts)));
  writeFileSync(json, `${JSON.stringify(analysis, null, 2)}\n`);
  const t = analysis.totals;
  const headline = `${t.ok}/${t.ops} operations ok (${t.sharing_ops} sharing, ${t.encryptions} encryptions), ${t.unknown_outcome} without an answer, ${t.ops_per_s} ops/s over ${analysis.load_duration_s} s, ${analysis.host_failures.length} host failures`;
  return { markdown, json, charts: chartPaths, analysis, headline, checks: analysis.checks };
}

/** Host failures (and their undoing) and leader changes as vertical lines. */
export function hostEventLines(a: SharingAnalysis): EventLine[] {
  const lines: EventLine[] = [];
  for (const f of a.host_failures) {
    lines.push({
      x: f.at_s,
      label: `${f.kind} ${f.host}`,
      color: FAULT_COLORS[f.kind] ?? '#999999',
    });
    if (f.lasted_s !== null && f.kind !== 'silence')
      lines.push({
        x: f.at_s + f.lasted_s,
        label: `${f.kind === 'kill' ? 'revive' : 'heal'} ${f.host}`,
        color: FAULT_COLORS.restart,
      });
  }
  for (const change of a.leader_changes.slice(1))
    lines.push({ x: change.at_s, label: '', color: '#999999' });
  return lines.sort((x, y) => x.x - y.x);
}

export function renderSharingCharts(
  a: SharingAnalysis,
  afterSignIn_ms: readonly number[],
): Record<string, string> {
  const events = hostEventLines(a);
  const charts: Record<string, string> = {};
  const smooth = a.series.length >= 60 ? 5 : 1;
  charts['ops-per-second'] = lineChart({
    title: `Operations per second by kind (${smooth > 1 ? `${smooth} s moving average; ` : ''}host failures marked; grey: a new leader)`,
    xLabel: 'seconds since the workload started',
    yLabel: 'completed operations per second',
    width: 960,
    height: 460,
    series: [
      ...Object.keys(OP_GROUPS).map((group, i) => ({
        name: group,
        points: movingAverage(
          a.series.map((b) => ({ x: b.t_s, y: b.groups[group] ?? 0 })),
          smooth,
        ),
        marker: 'none' as const,
        color: PALETTE[i % PALETTE.length] as string,
      })),
      {
        name: 'failed',
        points: movingAverage(
          a.series.map((b) => ({ x: b.t_s, y: b.failed })),
          smooth,
        ),
        marker: 'none',
        color: '#000000',
        dashed: true,
      },
    ],
    events,
  });
  charts['latency-over-time'] = lineChart({
    title: 'Latency of completed operations over time (host failures marked)',
    xLabel: 'seconds since the workload started',
    yLabel: 'latency (ms)',
    width: 960,
    yScale: 'log',
    series: [
      {
        name: 'p50',
        points: a.latency_series.map((b) => ({ x: b.t_s, y: Math.max(0.1, b.p50) })),
        marker: 'none',
      },
      {
        name: 'p99',
        points: a.latency_series.map((b) => ({ x: b.t_s, y: Math.max(0.1, b.p99) })),
        marker: 'none',
      },
    ],
    events,
  });
  const kinds = a.by_kind.filter((k) => k.ok > 0);
  charts['latency-by-kind'] = barChart({
    title: 'Latency by kind of operation (completed operations)',
    yLabel: 'ms',
    width: Math.max(720, 80 * kinds.length + 150),
    categories: kinds.map((k) => k.kind),
    groups: [
      { name: 'p50', values: kinds.map((k) => k.latency_ms.p50) },
      { name: 'p95', values: kinds.map((k) => k.latency_ms.p95) },
      { name: 'p99', values: kinds.map((k) => k.latency_ms.p99) },
    ],
  });
  if (afterSignIn_ms.length > 0)
    charts['offline-applied'] = histogram({
      title: `Changes made while the recipient was signed out: sign-in to applied (${afterSignIn_ms.length} changes)`,
      xLabel: 'ms from the start of the sign-in to the change applied by the agent',
      yLabel: 'changes',
      values: afterSignIn_ms,
      bins: 30,
    });
  if (a.directory_series.length > 0)
    charts.directory = lineChart({
      title: 'Directory answers per second, all servers (host failures marked)',
      xLabel: 'seconds since the workload started',
      yLabel: 'answers per second',
      width: 960,
      series: [
        {
          name: 'ok',
          points: a.directory_series.map((b) => ({ x: b.t_s, y: b.ok / 5 })),
          marker: 'none',
        },
        {
          name: 'refused (a rule said no)',
          points: a.directory_series.map((b) => ({ x: b.t_s, y: b.refused / 5 })),
          marker: 'none',
          color: '#E69F00',
        },
        {
          name: 'failed (database)',
          points: a.directory_series.map((b) => ({ x: b.t_s, y: b.failed / 5 })),
          marker: 'none',
          color: '#D55E00',
        },
      ],
      events,
    });
  return charts;
}

export function renderSharingMarkdown(a: SharingAnalysis, charts: string[]): string {
  const t = a.totals;
  const out: string[] = [];
  const pass = a.checks.every((c) => c.pass);
  out.push(`# Lab campaign ${a.run_id}`, '', `\`${a.command}\``, '');
  out.push(
    `Started ${a.started_at}; ${a.agents} agents on three user hosts, three cloud hosts with the directory on ${a.directory}; the workload ran ${fmt(a.load_duration_s, 1)} s; status **${a.status}**.`,
    '',
  );
  out.push(`## Verdict: ${pass ? 'PASS' : 'FAIL'}`, '');
  out.push(
    table(
      ['check', 'result', 'detail'],
      a.checks.map((c) => [c.name, c.pass ? 'pass' : '**FAIL**', c.detail]),
    ),
    '',
  );
  for (const [name, examples] of Object.entries(a.check_examples))
    out.push(`Examples for "${name}":`, '', ...examples.map((e) => `- ${e}`), '');
  out.push('## Headline', '');
  out.push(
    table(
      [
        'operations',
        'ok',
        'failed',
        'outcome unknown',
        'sharing operations ok',
        'encryptions ok',
        'ops/s',
        'host failures',
        'leader changes',
      ],
      [
        [
          t.ops,
          t.ok,
          t.failed,
          t.unknown_outcome,
          t.sharing_ops,
          t.encryptions,
          fmt(t.ops_per_s, 1),
          a.host_failures.length,
          Math.max(0, a.leader_changes.length - 1),
        ],
      ],
    ),
    '',
  );
  if (charts.includes('ops-per-second'))
    out.push('![operations per second by kind](charts/ops-per-second.svg)', '');
  out.push('## By kind', '');
  out.push(
    'Latency is measured on the user host around the agent call (the operation as a user of the agent waits for it), completed operations only. "Outcome unknown": a change that failed without an answer, so it may or may not have been applied; the checker accounts for both.',
    '',
    table(
      [
        'kind',
        'count',
        'ok',
        'failed',
        'outcome unknown',
        'ok/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'max ms',
      ],
      a.by_kind.map((k) => [
        k.kind,
        k.count,
        k.ok,
        k.failed,
        k.unknown_outcome,
        fmt(k.per_s, 2),
        fmt(k.latency_ms.p50),
        fmt(k.latency_ms.p95),
        fmt(k.latency_ms.p99),
        fmt(k.latency_ms.max),
      ]),
    ),
    '',
  );
  if (charts.includes('latency-by-kind'))
    out.push('![latency by kind](charts/latency-by-kind.svg)', '');
  if (charts.includes('latency-over-time'))
    out.push('![latency over time](charts/latency-over-time.svg)', '');
  if (a.driver_event_loop_delay_ms)
    out.push(
      `The driver's event-loop delay during the workload: p50 ${fmt(a.driver_event_loop_delay_ms.p50, 1)} ms, p99 ${fmt(a.driver_event_loop_delay_ms.p99, 1)} ms, max ${fmt(a.driver_event_loop_delay_ms.max, 1)} ms.`,
      '',
    );
  out.push('## Changes made while the recipient was signed out', '');
  const o = a.offline;
  out.push(
    'A quota change, revocation or acceptance for a viewer who was signed out, or a request to an owner who was signed out, waits in the directory; the agent applies it at sign-in. "Change to applied" includes the time the recipient stayed offline; "sign-in to applied" is how fast signing in catches up.',
    '',
    table(
      [
        'kind',
        'changes',
        'applied',
        'change to applied p50 (ms)',
        'p95',
        'max',
        'sign-in to applied p50 (ms)',
        'p95',
        'max',
      ],
      [
        offlineRow('grant changes (to viewers)', o.grant_changes),
        offlineRow('requests (to owners)', o.requests),
      ],
    ),
    '',
  );
  if (charts.includes('offline-applied'))
    out.push('![sign-in to applied](charts/offline-applied.svg)', '');
  out.push('## The directory: errors and retries', '');
  const answered = a.directory_answers.reduce((n, x) => n + x.count, 0);
  if (answered === 0) out.push('The servers reported no directory counters in this run.', '');
  else {
    out.push(
      `Every server's \`cloudp2p_directory_requests_total\`, added up over the run (${answered} answers). A refusal is a rule saying no (a conflict, an unknown id, a node that is not in the primary component…); \`directory_failure\` is a database error the server could not explain.`,
      '',
      table(
        ['outcome', 'answers'],
        a.directory_answers.map((x) => [x.outcome, x.count]),
      ),
      '',
    );
    if (a.directory_retries.length > 0)
      out.push(
        'Retries inside the store (`cloudp2p_directory_retries_total`):',
        '',
        table(
          ['reason', 'retries'],
          a.directory_retries.map((x) => [x.reason, x.count]),
        ),
        '',
      );
    else out.push('The servers exposed no retry counter in this run.', '');
  }
  if (charts.includes('directory'))
    out.push('![directory answers over time](charts/directory.svg)', '');
  if (a.errors.length > 0)
    out.push(
      'Operations that failed, by error code (as the agent reported it):',
      '',
      table(
        ['code', 'count', 'kinds', 'example'],
        a.errors.map((e) => [e.code, e.count, e.kinds, e.example]),
      ),
      '',
    );
  out.push('## Host failures', '');
  if (a.host_failures.length === 0) out.push('No host failed in this run.', '');
  else
    out.push(
      'A kill is `kill -9` of every process on the host (its server and its database node, or all its agents); a cut drops every packet to and from it; a silence is the course failure simulation (the server ignores everyone). "During": operations started while it was in force. The completion gap is the longest time without any completed operation in the 30 s after it; recovery is the time until operations per second were back to 80% of the 10 s before.',
      '',
      table(
        [
          'at (s)',
          'failure',
          'host',
          'was leader',
          'lasted (s)',
          'ops during',
          'failed during',
          'completion gap (ms)',
          'recovery (s)',
        ],
        a.host_failures.map((f) => [
          fmt(f.at_s, 1),
          `${f.kind} (${f.source})`,
          f.host,
          f.was_leader ? 'yes' : 'no',
          fmt(f.lasted_s, 1),
          f.ops_during,
          f.failed_during,
          fmt(f.completion_gap_ms),
          fmt(f.recovery_s, 1),
        ]),
      ),
      '',
    );
  out.push('## Leader changes', '');
  if (a.leader_changes.length === 0)
    out.push('No agreed leader was observed by polling /status.', '');
  else out.push(leaderChangesTable(a.leader_changes), '');
  if (a.final_leader) out.push(`At the end: ${a.final_leader.detail}.`, '');
  out.push('## Timeline', '');
  out.push(
    table(
      ['at (s)', 'event', 'host', 'by', 'detail'],
      a.timeline.slice(0, 300).map((e) => [fmt(e.at_s, 2), e.kind, e.host, e.source, e.detail]),
    ),
    '',
  );
  if (a.timeline.length > 300)
    out.push(`(${a.timeline.length - 300} more events in events.jsonl)`, '');
  if (a.bad_lines > 0)
    out.push(`Note: ${a.bad_lines} unreadable lines in the run files were skipped.`, '');
  out.push(
    "Regenerate with `cloudp2p report <run-dir>`; the numbers are in report.json, the checker's findings in check.json.",
    '',
  );
  return `${out.join('\n')}\n`;
}

function offlineRow(label: string, changes: OfflineChanges): (string | number)[] {
  const { delay_ms, after_sign_in_ms } = changes;
  return [
    label,
    changes.count,
    changes.applied,
    ...[delay_ms, after_sign_in_ms].flatMap((s) => [fmt(s.p50), fmt(s.p95), fmt(s.max)]),
  ];
}
