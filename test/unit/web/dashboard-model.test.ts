/**
 * The dashboard page's state (src/web/pages/dashboard/model.ts) and number formatting: pure
 * code, driven here with stream messages as the server writes them.
 */
import { describe, expect, it } from 'vitest';
import type {
  DashboardSnapshot,
  ServerRow,
  TimelineEntry,
} from '../../../src/protocol/dashboard-protocol.js';
import {
  MAX_TIMELINE_ENTRIES,
  applyEntry,
  applySnapshot,
  applyTimeline,
  computeRates,
  emptyModel,
  type DashboardModel,
} from '../../../src/web/pages/dashboard/model.js';
import {
  barPercent,
  formatCount,
  formatDuration,
  formatRate,
} from '../../../src/web/pages/shared/format.js';

function row(id: number, executed: number | null, uptime_ms: number): ServerRow {
  return {
    id,
    is_self: id === 1,
    dashboard_url: `http://127.0.0.1:900${id}`,
    state: executed === null ? 'failed' : 'alive',
    synced: true,
    heard_ms_ago: 100,
    load: null,
    own:
      executed === null
        ? null
        : {
            role: 'follower',
            leader_id: 1,
            epoch_label: '1.1',
            silent_for_ms: null,
            tasks_executed: executed,
            tasks_assigned: 0,
            uptime_ms,
          },
    unreachable_reason: executed === null ? 'connection refused' : null,
  };
}

function snapshot(
  uptime_ms: number,
  leader: number | null,
  executed: Record<number, number | null>,
  selfId = 1,
): DashboardSnapshot {
  return {
    protocol: 1,
    at: new Date(1_700_000_000_000 + uptime_ms).toISOString(),
    self: {
      id: selfId,
      role: 'follower',
      address: '127.0.0.1:8001',
      dashboard_url: 'http://127.0.0.1:9001',
      uptime_ms,
      failure_simulation: false,
    },
    leader: {
      id: leader,
      epoch: leader === null ? 0 : 1000 + leader,
      epoch_label: leader === null ? '0' : `1.${leader}`,
      successors: [],
    },
    servers: Object.entries(executed).map(([id, n]) => row(Number(id), n, uptime_ms)),
    tasks: {
      executed: executed[selfId] ?? 0,
      assigned: uptime_ms / 100, // 10 placements per second
      reassigned: 0,
      busy_replies: 0,
      queued: 0,
      running: 0,
      in_flight: 0,
      pool: { running: 0, queued: 0, size: 1, max_queue: 100 },
    },
  };
}

function feed(snapshots: DashboardSnapshot[]): DashboardModel {
  return snapshots.reduce((model, s) => applySnapshot(model, s), emptyModel());
}

describe('dashboard model', () => {
  it('computes rates from consecutive snapshots over the last five seconds', () => {
    const model = feed(
      Array.from({ length: 10 }, (_, i) =>
        snapshot(1000 * (i + 1), 1, { 1: 20 * i, 2: 5 * i, 3: 0 }),
      ),
    );
    const rates = computeRates(model);
    expect(rates.per_server.get(1)).toBeCloseTo(20);
    expect(rates.per_server.get(2)).toBeCloseTo(5);
    expect(rates.per_server.get(3)).toBe(0);
    expect(rates.cluster_executed).toBeCloseTo(25);
    expect(rates.self_assigned).toBeCloseTo(10);
  });

  it('shows no rate before two snapshots, for a server not answering, or across a restart', () => {
    expect(computeRates(feed([snapshot(1000, 1, { 1: 5 })])).cluster_executed).toBeNull();
    const model = feed([
      snapshot(1000, 1, { 1: 0, 2: 100 }),
      snapshot(2000, 1, { 1: 10, 2: 110 }),
      snapshot(3000, 1, { 1: 20, 2: null }),
    ]);
    const rates = computeRates(model);
    expect(rates.per_server.get(2)).toBeNull();
    expect(rates.cluster_executed).toBeCloseTo(10);
    // Server 2 comes back restarted: its counter and uptime start again.
    const restarted = applySnapshot(model, {
      ...snapshot(4000, 1, { 1: 30 }),
      servers: [row(1, 30, 4000), row(2, 1, 300)],
    });
    expect(computeRates(restarted).per_server.get(2)).toBeNull();
  });

  it('notices a change of leader and says who took over', () => {
    const model = feed([
      snapshot(1000, 1, { 1: 0 }),
      snapshot(2000, null, { 1: 0 }),
      snapshot(3000, 3, { 1: 0 }),
    ]);
    expect(model.leader_change).toMatchObject({ from: null, to: 3, epoch_label: '1.3' });
    const direct = feed([snapshot(1000, 1, { 1: 0 }), snapshot(2000, 2, { 1: 0 })]);
    expect(direct.leader_change).toMatchObject({ from: 1, to: 2 });
    // Following a link to another server's dashboard starts afresh.
    const moved = applySnapshot(direct, snapshot(500, 2, { 2: 0 }, 2));
    expect(moved.leader_change).toBeNull();
    expect(moved.samples).toHaveLength(1);
  });

  it('refuses a stream of another protocol version, in words', () => {
    const model = applySnapshot(emptyModel(), { ...snapshot(1000, 1, { 1: 0 }), protocol: 2 });
    expect(model.problem).toMatch(/understands dashboard protocol 1 but the server sends 2/);
    expect(model.snapshot).toBeNull();
    expect(applySnapshot(emptyModel(), { protocol: 1 }).problem).toMatch(/malformed/);
  });

  it('keeps the timeline newest first, merges updates by seq and stays bounded', () => {
    const entry = (seq: number, text = `event ${seq}`): TimelineEntry => ({
      seq,
      at: new Date(seq * 1000).toISOString(),
      kind: 'leader',
      severity: 'info',
      text,
      count: 1,
      server_id: 1,
    });
    let model = applyTimeline(emptyModel(), {
      protocol: 1,
      observer_id: 2,
      entries: [entry(1), entry(2), { junk: true }],
    });
    expect(model.observer_id).toBe(2);
    expect(model.timeline.map((e) => e.seq)).toEqual([2, 1]);
    model = applyEntry(model, entry(3));
    model = applyEntry(model, entry(3, '2 tasks moved'));
    expect(model.timeline.map((e) => e.text)).toEqual(['2 tasks moved', 'event 2', 'event 1']);
    for (let seq = 4; seq < MAX_TIMELINE_ENTRIES + 50; seq++) model = applyEntry(model, entry(seq));
    expect(model.timeline).toHaveLength(MAX_TIMELINE_ENTRIES);
    expect(applyEntry(model, 'garbage')).toBe(model);
  });
});

describe('page formatting', () => {
  it('formats durations, rates, counts and bar widths', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(185_000)).toBe('3 min 05 s');
    expect(formatDuration(7_620_000)).toBe('2 h 07 min');
    expect(formatDuration(null)).toBe('—');
    expect(formatRate(0)).toBe('0');
    expect(formatRate(12.34)).toBe('12.3');
    expect(formatRate(1250.4)).toBe('1,250');
    expect(formatRate(null)).toBe('—');
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(barPercent(5, 10)).toBe(50);
    expect(barPercent(50, 10)).toBe(100);
    expect(barPercent(1, 0)).toBe(0);
  });
});
