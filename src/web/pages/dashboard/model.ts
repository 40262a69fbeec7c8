/**
 * The dashboard's state and how stream messages change it. Pure (no DOM, no clock): the
 * component renders what this computes, and the unit tests drive it directly.
 */
import {
  DASHBOARD_PROTOCOL_VERSION,
  type DashboardSnapshot,
  type TimelineEntry,
  type TimelineMessage,
} from '../../../protocol/dashboard-protocol.js';

export const MAX_TIMELINE_ENTRIES = 200;
/** Rates are averaged over this much of the servers' own time. */
export const RATE_WINDOW_MS = 5000;
const MAX_SAMPLES = 30;

/** Counters at one snapshot; each server's time is its own uptime (a monotonic clock). */
interface Sample {
  self_uptime_ms: number;
  self_assigned: number;
  servers: Record<number, { executed: number; uptime_ms: number }>;
}

export interface LeaderChange {
  from: number | null;
  to: number | null;
  epoch_label: string;
  at: string;
}

export interface DashboardModel {
  snapshot: DashboardSnapshot | null;
  samples: Sample[];
  /** Newest first. */
  timeline: TimelineEntry[];
  /** Server whose events the timeline shows. */
  observer_id: number | null;
  /** The last leader change seen in snapshots while this page was open. */
  leader_change: LeaderChange | null;
  /** Set when the stream cannot be understood (another version of the server). */
  problem: string | null;
}

export function emptyModel(): DashboardModel {
  return {
    snapshot: null,
    samples: [],
    timeline: [],
    observer_id: null,
    leader_change: null,
    problem: null,
  };
}

function protocolProblem(value: unknown): string | null {
  const protocol =
    typeof value === 'object' && value !== null ? (value as { protocol?: unknown }).protocol : NaN;
  if (protocol === DASHBOARD_PROTOCOL_VERSION) return null;
  return (
    `this page understands dashboard protocol ${DASHBOARD_PROTOCOL_VERSION} but the server ` +
    `sends ${String(protocol)}: reload the page`
  );
}

function isSnapshot(value: unknown): value is DashboardSnapshot {
  const s = value as Partial<DashboardSnapshot> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    Array.isArray(s.servers) &&
    typeof s.self === 'object' &&
    typeof s.leader === 'object' &&
    typeof s.tasks === 'object'
  );
}

function isEntry(value: unknown): value is TimelineEntry {
  const e = value as Partial<TimelineEntry> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.seq === 'number' &&
    typeof e.at === 'string' &&
    typeof e.text === 'string'
  );
}

export function applySnapshot(model: DashboardModel, value: unknown): DashboardModel {
  const problem = protocolProblem(value);
  if (problem) return { ...model, problem };
  if (!isSnapshot(value)) return { ...model, problem: 'the server sent a malformed snapshot' };
  const previous = model.snapshot;
  // A different server (the user followed a link) starts a fresh history of counters.
  const sameServer = previous?.self.id === value.self.id;
  let leader_change = sameServer ? model.leader_change : null;
  if (sameServer && previous && previous.leader.id !== value.leader.id) {
    leader_change = {
      from: previous.leader.id,
      to: value.leader.id,
      epoch_label: value.leader.epoch_label,
      at: value.at,
    };
  }
  const sample: Sample = {
    self_uptime_ms: value.self.uptime_ms,
    self_assigned: value.tasks.assigned,
    servers: {},
  };
  for (const row of value.servers) {
    if (row.own)
      sample.servers[row.id] = { executed: row.own.tasks_executed, uptime_ms: row.own.uptime_ms };
  }
  const earlier = sameServer ? model.samples : [];
  // A restart of the watched server resets its uptime: older samples no longer compare.
  const kept = earlier.filter((s) => s.self_uptime_ms < sample.self_uptime_ms);
  const samples = [...kept, sample].slice(-MAX_SAMPLES);
  return { ...model, snapshot: value, samples, leader_change, problem: null };
}

export function applyTimeline(model: DashboardModel, value: unknown): DashboardModel {
  const problem = protocolProblem(value);
  if (problem) return { ...model, problem };
  const message = value as Partial<TimelineMessage>;
  if (!Array.isArray(message.entries) || typeof message.observer_id !== 'number')
    return { ...model, problem: 'the server sent a malformed timeline' };
  const entries = message.entries.filter(isEntry);
  return {
    ...model,
    observer_id: message.observer_id,
    timeline: entries.reverse().slice(0, MAX_TIMELINE_ENTRIES),
  };
}

/** A new entry goes on top; an update (same seq: a merged burst) replaces its entry. */
export function applyEntry(model: DashboardModel, value: unknown): DashboardModel {
  if (!isEntry(value)) return model;
  const index = model.timeline.findIndex((entry) => entry.seq === value.seq);
  if (index >= 0) {
    const timeline = [...model.timeline];
    timeline[index] = value;
    return { ...model, timeline };
  }
  return { ...model, timeline: [value, ...model.timeline].slice(0, MAX_TIMELINE_ENTRIES) };
}

export interface Rates {
  /** Tasks executed per second, summed over the servers that answered. */
  cluster_executed: number | null;
  /** Placements per second made by the watched server (non-zero only while it leads). */
  self_assigned: number | null;
  /** Tasks executed per second, by server id. */
  per_server: Map<number, number | null>;
}

/** Counter increase per second over the last {@link RATE_WINDOW_MS}; null until known. */
function windowRate(points: { value: number; time_ms: number }[]): number | null {
  const newest = points[points.length - 1];
  if (!newest) return null;
  const oldest = points.find((p) => newest.time_ms - p.time_ms <= RATE_WINDOW_MS);
  if (!oldest || oldest === newest) return null;
  const elapsed_ms = newest.time_ms - oldest.time_ms;
  const increase = newest.value - oldest.value;
  // Less than half a second says little; a counter that went down was restarted.
  if (elapsed_ms < 500 || increase < 0) return null;
  return (increase * 1000) / elapsed_ms;
}

export function computeRates(model: DashboardModel): Rates {
  const per_server = new Map<number, number | null>();
  let cluster: number | null = null;
  for (const row of model.snapshot?.servers ?? []) {
    if (!row.own) {
      per_server.set(row.id, null); // not answering now: no current rate
      continue;
    }
    const points: { value: number; time_ms: number }[] = [];
    for (const sample of model.samples) {
      const s = sample.servers[row.id];
      if (!s) continue;
      const last = points[points.length - 1];
      if (last && s.uptime_ms <= last.time_ms) points.length = 0; // it restarted
      points.push({ value: s.executed, time_ms: s.uptime_ms });
    }
    const rate = windowRate(points);
    per_server.set(row.id, rate);
    if (rate !== null) cluster = (cluster ?? 0) + rate;
  }
  const self_assigned = windowRate(
    model.samples.map((s) => ({ value: s.self_assigned, time_ms: s.self_uptime_ms })),
  );
  return { cluster_executed: cluster, self_assigned, per_server };
}
