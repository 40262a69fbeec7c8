/**
 * The wire format of the cloud dashboard's live stream (`GET /events`, server-sent events),
 * shared by the server (src/server/dashboard.ts, which writes it) and the page
 * (src/web/pages/dashboard, which reads it). Types only: no Node and no DOM, so both
 * TypeScript projects compile it.
 *
 * Stream, in order:
 *   retry: <ms>                      how long the browser waits before reconnecting
 *   event: timeline  data: TimelineMessage   the recent timeline, once per connection
 *   event: snapshot  data: DashboardSnapshot every snapshot interval (first one at once)
 *   event: entry     data: TimelineEntry     a new or updated timeline entry, as it happens
 *   : keep-alive                       comment lines, so idle proxies keep the stream open
 *   event: bye       data: ByeMessage        the server is shutting down on purpose
 */

/** Bumped when a field changes meaning; the page refuses a stream it does not understand. */
export const DASHBOARD_PROTOCOL_VERSION = 1;

/** Liveness of a server in the cluster's view ('unknown': no leader has reported on it yet). */
export type ServerState = 'alive' | 'suspected' | 'silent' | 'failed' | 'left' | 'unknown';

export type ServerRole = 'follower' | 'candidate' | 'leader' | 'silent' | 'left';

export interface LoadFigures {
  /** Election priority score, lower is better. */
  score: number;
  cpu_pct: number;
  memory_used_pct: number;
  active_tasks: number;
  queue_length: number;
  /** Most tasks (running + queued) the server accepts. */
  capacity: number;
}

/** What a server reports about itself on its own /status (fetched by the watched server). */
export interface OwnReport {
  role: ServerRole;
  leader_id: number | null;
  epoch_label: string;
  /** Failure simulation: milliseconds of silence left, or null when not silent. */
  silent_for_ms: number | null;
  tasks_executed: number;
  tasks_assigned: number;
  uptime_ms: number;
}

export interface ServerRow {
  id: number;
  /** This row is the server the page is connected to. */
  is_self: boolean;
  /** Where this server's own dashboard is (null: unknown). */
  dashboard_url: string | null;
  state: ServerState;
  /** Whether its task history is up to date (null: unknown). */
  synced: boolean | null;
  /** Milliseconds since the leader last heard from it (null: unknown or not applicable). */
  heard_ms_ago: number | null;
  /** Freshest known load: its own report if it answered, else the leader's view. */
  load: LoadFigures | null;
  /** Its own report, or null when it did not answer (see `unreachable_reason`). */
  own: OwnReport | null;
  /** Why `own` is missing: a short phrase such as "connection refused". */
  unreachable_reason: string | null;
}

export interface DashboardSnapshot {
  protocol: number;
  /** Server time, ISO 8601. */
  at: string;
  /** The server this stream comes from. */
  self: {
    id: number;
    role: ServerRole;
    address: string;
    dashboard_url: string;
    uptime_ms: number;
    failure_simulation: boolean;
  };
  leader: {
    id: number | null;
    epoch: number;
    /** Human form of the epoch, e.g. "7.2" (term 7, won by server 2). */
    epoch_label: string;
    /** Who takes over if the leader fails, best first. */
    successors: number[];
  };
  /** Every configured server, this one included, by id. */
  servers: ServerRow[];
  /** This server's task figures. */
  tasks: {
    executed: number;
    assigned: number;
    reassigned: number;
    busy_replies: number;
    queued: number;
    running: number;
    /** Unacknowledged tasks in the replicated history: the whole cloud's work in flight. */
    in_flight: number;
    pool: { running: number; queued: number; size: number; max_queue: number };
  };
}

export type TimelineKind =
  'leader' | 'election' | 'leader-lost' | 'failure' | 'recovery' | 'silence' | 'tasks' | 'other';

export type TimelineSeverity = 'info' | 'warning' | 'critical';

export interface TimelineEntry {
  /** Increases by one per new entry on this server; an update reuses the entry's seq. */
  seq: number;
  /** When it happened (the last time, for a merged entry), ISO 8601. */
  at: string;
  kind: TimelineKind;
  severity: TimelineSeverity;
  /** One sentence for people, e.g. "Server 2 became leader (epoch 7.2)". */
  text: string;
  /** How many like events were merged into this entry (task reassignments come in bursts). */
  count: number;
  /** The server this entry is about, when there is one. */
  server_id: number | null;
}

export interface TimelineMessage {
  protocol: number;
  /** Which server saw these events (timelines differ: followers see less than the leader). */
  observer_id: number;
  /** Oldest first. */
  entries: TimelineEntry[];
}

export interface ByeMessage {
  reason: string;
}
