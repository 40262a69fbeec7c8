import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../../src/lab/checker.js';
import type { LabOp, OpRecord } from '../../../src/lab/ops.js';
import { LAB_TOOL, directorySeries, type MetricsSample } from '../../../src/lab/run-files.js';
import { writeReport } from '../../../src/report/render.js';
import {
  analyzeSharing,
  directoryCounters,
  type SharingRunData,
} from '../../../src/report/sharing-analyze.js';
import type { StressEvent } from '../../../src/stress/run-files.js';

const T0 = 1_800_000_000_000;

function op(seq: number, start_s: number, o: LabOp, latency_ms: number, ok = true): OpRecord {
  return {
    seq,
    op: o,
    host: 'users-1',
    during_fault: false,
    start_ms: T0 + start_s * 1000,
    latency_ms,
    ok,
    result: ok ? { kind: 'peers', online: 1, images: 0 } : null,
    error: ok ? null : { code: 'directory_unreachable', message: 'no server answered' },
  } as OpRecord;
}

const CHECK: CheckReport = {
  checks: [{ name: 'no request lost or applied twice', pass: true, detail: 'ok', examples: [] }],
  offline: [
    {
      kind: 'grant_change',
      recipient: 'b',
      subject: 's',
      changed_at_ms: T0,
      applied_at_ms: T0 + 5000,
      delay_ms: 5000,
      after_sign_in_ms: 120,
    },
    {
      kind: 'request',
      recipient: 'a',
      subject: 'r',
      changed_at_ms: T0,
      applied_at_ms: null,
      delay_ms: null,
      after_sign_in_ms: null,
    },
  ],
  counts: {
    ops: 0,
    ok: 0,
    failed: 0,
    unknown_outcome: 0,
    views_shown: 0,
    views_default: 0,
    encryptions_verified: 0,
    requests_created: 0,
    grant_changes: 0,
  },
};

function data(): SharingRunData {
  const ops: OpRecord[] = [];
  let seq = 0;
  for (let s = 0; s < 40; s++) {
    ops.push(op(++seq, s, { kind: 'view', agent: 'b', owner: 'a', image_id: 'i' }, 100 + s));
    ops.push(
      op(
        ++seq,
        s + 0.5,
        { kind: 'set_quota', agent: 'a', image_id: 'i', viewer: 'b', quota: 2 },
        300,
        !(s >= 10 && s < 13),
      ),
    );
  }
  const events: (StressEvent & { host?: string })[] = [
    { at_ms: T0, kind: 'load_start', source: 'driver' },
    {
      at_ms: T0 + 10_000,
      kind: 'kill',
      server: 2,
      host: 'cloud-2',
      source: 'kill-cloud-2',
      was_leader: true,
    },
    { at_ms: T0 + 20_000, kind: 'restart', server: 2, host: 'cloud-2', source: 'kill-cloud-2' },
    { at_ms: T0 + 41_000, kind: 'load_end', source: 'driver' },
  ];
  const sample = (at_s: number, server: number, ok: number, failures: number): MetricsSample => ({
    at_ms: T0 + at_s * 1000,
    server,
    metrics: {},
    directory: {
      'cloudp2p_directory_requests_total{op="heartbeat",outcome="ok"}': ok,
      'cloudp2p_directory_requests_total{op="login",outcome="unavailable"}': failures,
    },
  });
  return {
    info: {
      tool: LAB_TOOL,
      run_id: 'abc',
      status: 'finished',
      command: ['cloudp2p', 'lab', 'campaign'],
      final: { agreed_leader: 1, detail: 'all agree' },
    },
    ops,
    events,
    // Server 2 restarts at 20 s: its counter drops to 5 (5 new answers, not -95).
    metrics: [
      sample(0, 1, 0, 0),
      sample(5, 1, 50, 1),
      sample(0, 2, 0, 0),
      sample(5, 2, 100, 0),
      sample(25, 2, 5, 0),
    ],
    check: CHECK,
    leaderLogs: [],
    badLines: [],
  };
}

describe('the report of a lab campaign', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('counts, rates and latency percentiles by kind', () => {
    const a = analyzeSharing(data());
    const view = a.by_kind.find((k) => k.kind === 'view');
    expect(view).toMatchObject({ count: 40, ok: 40, failed: 0 });
    expect(view?.latency_ms.p50).toBeGreaterThanOrEqual(119);
    expect(view?.latency_ms.max).toBe(139);
    expect(a.by_kind.find((k) => k.kind === 'set_quota')).toMatchObject({
      count: 40,
      failed: 3,
      unknown_outcome: 3,
    });
    expect(a.totals).toMatchObject({ ops: 80, ok: 77, failed: 3 });
    expect(a.errors).toEqual([
      {
        code: 'directory_unreachable',
        count: 3,
        kinds: 'set_quota',
        example: 'no server answered',
      },
    ]);
    expect(a.series.reduce((n, b) => n + (b.groups.views ?? 0), 0)).toBe(40);
  });

  it('a host failure: what failed while it lasted, marked with its undoing', () => {
    const a = analyzeSharing(data());
    expect(a.host_failures).toEqual([
      expect.objectContaining({
        kind: 'kill',
        host: 'cloud-2',
        was_leader: true,
        lasted_s: 10,
        ops_during: 20,
        failed_during: 3,
      }),
    ]);
  });

  it('offline changes: counts, applied, delays', () => {
    const a = analyzeSharing(data());
    expect(a.offline.grant_changes).toMatchObject({ count: 1, applied: 1 });
    expect(a.offline.grant_changes.after_sign_in_ms.p50).toBe(120);
    expect(a.offline.requests).toMatchObject({ count: 1, applied: 0 });
  });

  it('directory counters add up across restarts', () => {
    const { answers } = directoryCounters(data().metrics, T0);
    expect(answers).toEqual([
      { outcome: 'ok', count: 155 },
      { outcome: 'unavailable', count: 1 },
    ]);
    expect(
      directorySeries(
        '# HELP x\ncloudp2p_directory_requests_total{op="login",outcome="ok"} 7\ncloudp2p_tasks_total 3\n',
      ),
    ).toEqual({
      'cloudp2p_directory_requests_total{op="login",outcome="ok"}': 7,
    });
  });

  it('cloudp2p report writes the lab report from a run directory, verdict and charts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp2p-sharing-report-'));
    dirs.push(dir);
    const d = data();
    writeFileSync(join(dir, 'run.json'), JSON.stringify(d.info));
    writeFileSync(
      join(dir, 'ops.jsonl'),
      `${d.ops.map((r) => JSON.stringify(r)).join('\n')}\nnot json\n`,
    );
    writeFileSync(join(dir, 'events.jsonl'), d.events.map((e) => JSON.stringify(e)).join('\n'));
    writeFileSync(join(dir, 'metrics.jsonl'), d.metrics.map((m) => JSON.stringify(m)).join('\n'));
    writeFileSync(join(dir, 'check.json'), JSON.stringify(CHECK));
    const report = writeReport(dir);
    expect(report.headline).toMatch(/^77\/80 operations ok/);
    const md = readFileSync(report.markdown, 'utf8');
    expect(md).toContain('## Verdict: PASS');
    expect(md).toMatch(/\| kill \(kill-cloud-2\) \| cloud-2 \| yes \| 10\.0 \| 20 \| 3 \|/);
    expect(md).toContain('1 unreadable lines');
    // Offline changes: label, count, applied, then p50/p95/max of delay and of sign-in to applied.
    expect(md).toMatch(
      /\| grant changes \(to viewers\) \| 1 \| 1 \| [\d-]+ \| [\d-]+ \| [\d-]+ \| 120 \| 120 \| 120 \|/,
    );
    expect(md).toMatch(/\| requests \(to owners\) \| 1 \| 0 \| - \| - \| - \| - \| - \| - \|/);
    for (const chart of [
      'ops-per-second',
      'latency-by-kind',
      'latency-over-time',
      'offline-applied',
      'directory',
    ])
      expect(readFileSync(join(dir, 'charts', `${chart}.svg`), 'utf8')).toMatch(/^<svg/);
    // A run without its check is not a pass.
    rmSync(join(dir, 'check.json'));
    expect(writeReport(dir).checks.some((c) => !c.pass)).toBe(true);
    expect(existsSync(join(dir, 'report.json'))).toBe(true);
  });
});
