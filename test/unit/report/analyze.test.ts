import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  analyze,
  completionGap,
  readRunDir,
  recovery,
  throughputSeries,
  type RunData,
} from '../../../src/report/analyze.js';
import { writeReport } from '../../../src/report/render.js';
import type { StressEvent, StressRecord } from '../../../src/stress/run-files.js';

const T0 = 1_800_000_000_000;

function record(
  n: number,
  start_s: number,
  latency_ms: number,
  extra: Partial<StressRecord> = {},
): StressRecord {
  const start_ms = T0 + start_s * 1000;
  return {
    client: `c${(n % 5) + 1}`,
    task_id: `run-${n}`,
    image: 'photo.jpg',
    server: (n % 3) + 1,
    servers: [(n % 3) + 1],
    start_ms,
    end_ms: start_ms + latency_ms,
    latency_ms,
    outcome: 'ok',
    reason: null,
    error: null,
    reassignments: 0,
    busy_retries: 0,
    failover: false,
    verify_ms: 8,
    conflicts: 0,
    ...extra,
  };
}

/** 10 requests per second for 40 s, 100 ms each; server 2 is killed at 20 s while leading. */
function syntheticRun(): RunData {
  const records: StressRecord[] = [];
  let n = 0;
  for (let t = 0; t < 40; t += 0.1) records.push(record(n++, Math.round(t * 10) / 10, 100));
  // Two requests caught on server 2 at the kill, moved to server 3, done 1.5 s late.
  records.push(
    record(n++, 19.95, 1600, { server: 3, servers: [2, 3], reassignments: 1, failover: true }),
  );
  records.push(
    record(n++, 19.99, 1500, { server: 3, servers: [2, 3], reassignments: 1, failover: true }),
  );
  records.push(
    record(n++, 30, 120_000, {
      outcome: 'failed',
      server: null,
      servers: [],
      reason: 'task_failed',
      error: 'deadline passed',
    }),
  );
  const events: StressEvent[] = [
    { at_ms: T0 - 2000, kind: 'run_start', source: 'driver' },
    { at_ms: T0, kind: 'load_start', source: 'driver' },
    {
      at_ms: T0 + 100,
      kind: 'leader_elected',
      source: 'observer',
      leader: 2,
      epoch: 1002,
      leaderless_ms: null,
    },
    { at_ms: T0 + 20_000, kind: 'kill', server: 2, source: 'kill-leader', was_leader: true },
    { at_ms: T0 + 20_000, kind: 'leader_lost', source: 'observer', leader: 2, epoch: 1002 },
    {
      at_ms: T0 + 21_100,
      kind: 'leader_elected',
      source: 'observer',
      leader: 1,
      epoch: 2001,
      leaderless_ms: 1100,
    },
    { at_ms: T0 + 25_000, kind: 'restart', server: 2, source: 'kill-leader' },
    { at_ms: T0 + 40_000, kind: 'load_end', source: 'driver' },
  ];
  return {
    info: {
      tool: 'cloudp2p stress',
      run_id: 'abc123',
      status: 'finished',
      command: ['cloudp2p', 'stress'],
      started_at: '2027-01-15T08:00:00.000Z',
      final: { agreed_leader: 1, epoch: 2001, detail: 'all running servers agree', servers: [] },
    },
    records,
    events,
    badLines: [],
    leaderLogs: [
      { at_ms: T0 + 20_990, server: 1, kind: 'won', leader: 1, epoch: '2.1' },
      { at_ms: T0 + 21_010, server: 3, kind: 'acknowledged', leader: 1, epoch: '2.1' },
      // server 2 (the one killed) acknowledges after its restart: not part of the switch
      { at_ms: T0 + 25_500, server: 2, kind: 'acknowledged', leader: 1, epoch: '2.1' },
    ],
  };
}

describe('analyze', () => {
  it('counts outcomes, reasons, failovers and the per-server share', () => {
    const a = analyze(syntheticRun());
    expect(a.totals.requests).toBe(403);
    expect(a.totals.ok).toBe(402);
    expect(a.totals.failed).toBe(1);
    expect(a.totals.failed_over).toBe(2);
    expect(a.reasons).toEqual([{ reason: 'task_failed', count: 1, example: 'deadline passed' }]);
    expect(a.per_server.map((s) => s.server)).toEqual([1, 2, 3]);
    expect(a.per_server.reduce((n, s) => n + s.count, 0)).toBe(402);
    expect(a.latency_ms.p50).toBe(100);
    expect(a.latency_ms.max).toBe(1600);
    expect(a.throughput_per_s).toBeCloseTo(402 / 40, 1);
  });

  it('measures the stall of the kill from the requests it caught', () => {
    const a = analyze(syntheticRun());
    expect(a.faults).toHaveLength(1);
    const kill = a.faults[0];
    expect(kill).toMatchObject({
      kind: 'kill',
      server: 2,
      was_leader: true,
      lasted_s: 5,
      affected: 2,
    });
    expect(kill?.affected_max_latency_ms).toBe(1600);
    expect(a.leader_changes.map((c) => c.leaderless_ms)).toEqual([null, 1100]);
    // the servers' logs say the last survivor switched 1010 ms after the kill
    expect(a.leader_changes.map((c) => c.switch_ms_from_logs)).toEqual([null, 1010]);
  });

  it('fails the checks that did not hold and passes the others', () => {
    const checks = Object.fromEntries(analyze(syntheticRun()).checks.map((c) => [c.name, c.pass]));
    expect(checks).toEqual({
      'every request verified': false,
      'no request lost': false,
      'no duplicate or conflicting result': true,
      'one agreed leader at the end': true,
      'never two leaders in one epoch': true,
    });
  });

  it('flags a task recorded twice and two leaders in one epoch', () => {
    const run = syntheticRun();
    run.records.push({ ...(run.records[0] as StressRecord) });
    run.events.push({
      at_ms: T0 + 5000,
      kind: 'split_leaders',
      source: 'observer',
      detail: '2 servers say they lead: 1@1.1 2@1.1 (SAME EPOCH: a safety violation)',
    });
    const checks = Object.fromEntries(analyze(run).checks.map((c) => [c.name, c.pass]));
    expect(checks['no duplicate or conflicting result']).toBe(false);
    expect(checks['never two leaders in one epoch']).toBe(false);
  });
});

describe('stall helpers', () => {
  it('completionGap finds the longest stretch without completions after a time', () => {
    expect(completionGap([100, 200, 1200, 1300], 150, 5000)).toBe(1000);
    expect(completionGap([100, 200], 300, 5000)).toBeNull();
    expect(completionGap([1000, 1100], 0, 5000)).toBe(1000);
  });

  it('recovery is the time until throughput is back to 80 % of before', () => {
    const series = [10, 10, 10, 10, 0, 2, 9, 10].map((ok, t_s) => ({ t_s, ok }));
    expect(recovery(series, 4)).toBe(3); // bin 6 (6..7 s) has 9 >= 8
    expect(recovery(series, 0)).toBeNull(); // nothing before to compare with
  });

  it('throughputSeries scales a last partial second to a rate', () => {
    const records = [record(1, 0, 500), record(2, 1.1, 100), record(3, 1.2, 100)];
    expect(throughputSeries(records, T0, T0 + 1500)).toEqual([
      { t_s: 0, ok: 1, failed: 0 },
      { t_s: 1, ok: 4, failed: 0 },
    ]);
  });

  it('throughputSeries bins completions per second', () => {
    const records = [record(1, 0, 500), record(2, 0.2, 900), record(3, 1.5, 100)];
    expect(throughputSeries(records, T0, T0 + 3000)).toEqual([
      { t_s: 0, ok: 1, failed: 0 },
      { t_s: 1, ok: 2, failed: 0 },
      { t_s: 2, ok: 0, failed: 0 },
    ]);
  });
});

describe('run directories', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function writeRun(run: RunData): void {
    dir = mkdtempSync(join(tmpdir(), 'cp2p-report-'));
    writeFileSync(join(dir, 'run.json'), JSON.stringify(run.info));
    writeFileSync(
      join(dir, 'records.jsonl'),
      `${run.records.map((r) => JSON.stringify(r)).join('\n')}\n`,
    );
    writeFileSync(
      join(dir, 'events.jsonl'),
      `${run.events.map((e) => JSON.stringify(e)).join('\n')}\n`,
    );
  }

  it('skips unreadable lines, counting them, and refuses a folder that is not a run', () => {
    writeRun(syntheticRun());
    writeFileSync(
      join(dir, 'records.jsonl'),
      `${readFileSync(join(dir, 'records.jsonl'), 'utf8')}{"task_id": 5}\nnot json\n`,
    );
    const data = readRunDir(dir);
    expect(data.records).toHaveLength(403);
    expect(data.badLines.map((b) => b.line)).toEqual([404, 405]);
    writeFileSync(join(dir, 'run.json'), '{"tool":"something else"}');
    expect(() => readRunDir(dir)).toThrow(/not written by cloudp2p stress/);
    rmSync(join(dir, 'run.json'));
    expect(() => readRunDir(dir)).toThrow(/cannot read .*run\.json/);
  });

  it('writes report.md, report.json and the SVG charts', () => {
    writeRun(syntheticRun());
    const files = writeReport(dir);
    const markdown = readFileSync(files.markdown, 'utf8');
    expect(markdown).toContain('## Verdict: FAIL');
    expect(markdown).toContain('| task_failed | 1 | deadline passed |');
    expect(markdown).toMatch(
      /\| 1 \| 20\.0 \| kill \(kill-leader\) \| 2 \| yes \| 5\.0 \| 2 \| 1600 \|/,
    );
    expect(markdown).toContain('![throughput over time](charts/throughput.svg)');
    for (const chart of [
      'throughput',
      'latency-histogram',
      'latency-over-time',
      'per-server',
      'stalls',
    ]) {
      const svg = readFileSync(join(dir, 'charts', `${chart}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
    }
    expect(readFileSync(join(dir, 'charts', 'throughput.svg'), 'utf8')).toContain(
      'kill s2 (leader)',
    );
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as { totals: { ok: number } };
    expect(json.totals.ok).toBe(402);
    expect(existsSync(join(dir, 'report.md'))).toBe(true);
  });
});
