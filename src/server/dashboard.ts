/**
 * The cloud dashboard, served by every server on its HTTP port:
 *
 *   GET /                     the page (src/web/pages/dashboard, built into dist/web/pages)
 *   GET /assets/<file>        its script and style sheet
 *   GET /events               the live stream (server-sent events, see src/protocol/dashboard-protocol.ts):
 *                             the recent timeline once, a snapshot every second, and timeline
 *                             entries (elections, failovers, silences) as they happen
 *   GET /dashboard/snapshot   one snapshot as JSON, after asking the other servers afresh
 *
 * While someone watches, it also fetches the other servers' /status (bounded in time and size),
 * because a follower's own status lacks the leader's load and task counts, and because the page
 * must know which other dashboards still answer when it offers them after a crash.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeEvent } from '../core/events.js';
import { formatEpoch } from '../core/epoch.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import {
  DASHBOARD_PROTOCOL_VERSION,
  type DashboardSnapshot,
  type LoadFigures,
  type OwnReport,
  type ServerRow,
  type ServerState,
  type TimelineEntry,
  type TimelineMessage,
} from '../protocol/dashboard-protocol.js';
import { EventStreamHub, type EventStreamOptions } from '../http/event-stream.js';
import {
  BUILT_PAGES_DIR,
  loadBuiltPage,
  sendStaticFile,
  type BuiltPage,
} from '../http/static-pages.js';
import type { ServerConfig } from './config.js';
import type { HttpServer } from '../http/http-server.js';
import { loadFigures, ownReport, parsePeerStatus } from './peer-status.js';
import { sendJson, sendText } from '../http/respond.js';
import type { RuntimeStatus } from './runtime.js';

/** Another server whose dashboard (and /status) the page and this module may use. */
export interface DashboardPeer {
  id: number;
  /** Base URL of its HTTP port, e.g. "http://127.0.0.1:9002". */
  dashboard_url: string;
}

export interface DashboardOptions {
  peers: DashboardPeer[];
  snapshot_interval_ms?: number;
  /** How long to wait for another server's /status. */
  peer_status_timeout_ms?: number;
  /** Timeline entries kept for pages that connect later. */
  timeline_length?: number;
  /** Task reassignments from the same server within this window become one entry. */
  merge_window_ms?: number;
  stream?: Partial<EventStreamOptions>;
  /** Where the built pages are (default dist/web/pages). */
  pages_dir?: string;
  logger?: Logger;
}

/** What the dashboard needs from the server runtime (ServerRuntime has all of it). */
export interface DashboardSource {
  readonly id: number;
  readonly httpServer: HttpServer;
  status(): RuntimeStatus;
  onEvent(listener: (event: NodeEvent & { at: string }) => void): () => void;
}

export interface Dashboard {
  /** Number of pages watching the live stream now. */
  readonly viewers: number;
  /** Tells watching pages why the stream ends, ends it and stops all timers. */
  close(reason?: string): void;
}

const DEFAULTS = {
  snapshot_interval_ms: 1000,
  peer_status_timeout_ms: 800,
  timeline_length: 200,
  merge_window_ms: 5000,
};
/** A /status document is a few kilobytes; anything far larger is not one of ours. */
const MAX_PEER_STATUS_BYTES = 512 * 1024;

/** The peers' dashboard URLs from the server config (each `[peers]` entry's http_address). */
export function dashboardPeersFromConfig(config: ServerConfig): DashboardPeer[] {
  return config.peers.map((peer) => ({
    id: peer.id,
    dashboard_url: httpUrl(peer.http_address.host, peer.http_address.port),
  }));
}

export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function registerDashboardRoutes(
  runtime: DashboardSource,
  options: DashboardOptions,
): Dashboard {
  const settings = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = options[key] ?? DEFAULTS[key];
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`dashboard option ${key} must be a positive integer, not ${value}`);
    settings[key] = value;
  }
  const peers = options.peers.filter((peer) => peer.id !== runtime.id);
  const poller = new PeerStatusPoller(peers, settings.peer_status_timeout_ms);
  const timeline = new DashboardTimeline(
    runtime.id,
    settings.timeline_length,
    settings.merge_window_ms,
  );
  let ticker: NodeJS.Timeout | null = null;
  const snapshot = (): DashboardSnapshot =>
    buildSnapshot(runtime.status(), peers, (id) => poller.result(id), new Date());
  const hub = new EventStreamHub(options.stream, {
    onFirstClient: () => {
      void poller.pollAll();
      ticker = setInterval(() => {
        hub.broadcast('snapshot', snapshot());
        void poller.pollAll();
      }, settings.snapshot_interval_ms);
      ticker.unref();
    },
    onLastClientGone: () => {
      if (ticker) clearInterval(ticker);
      ticker = null;
    },
  });
  const unsubscribe = runtime.onEvent((event) => {
    const entry = timeline.record(event);
    if (entry) hub.broadcast('entry', entry);
  });

  const pages_dir = options.pages_dir ?? BUILT_PAGES_DIR;
  let page: BuiltPage | null = null;
  let pageProblem: string | null = null;
  const currentPage = (): BuiltPage | null => {
    if (page) return page;
    try {
      page = loadBuiltPage('dashboard', pages_dir);
      for (const asset of page.assets)
        runtime.httpServer.route(asset.url_path, (req, res) => sendStaticFile(req, res, asset));
      pageProblem = null;
    } catch (err) {
      if (pageProblem === null)
        options.logger?.warn('dashboard page unavailable', { reason: errorMessage(err) });
      pageProblem = errorMessage(err);
    }
    return page;
  };
  currentPage();

  const servePage = (req: IncomingMessage, res: ServerResponse): void => {
    const built = currentPage();
    if (built) sendStaticFile(req, res, built.html);
    else
      sendText(
        res,
        503,
        `the dashboard page is missing: ${pageProblem}\n` +
          'The live data still works: /events (stream), /dashboard/snapshot and /status (JSON).\n',
      );
  };
  runtime.httpServer
    .route('/', servePage)
    .route('/index.html', servePage)
    .route('/events', (req, res) => {
      const client = hub.accept(req, res);
      if (!client) return;
      const history: TimelineMessage = {
        protocol: DASHBOARD_PROTOCOL_VERSION,
        observer_id: runtime.id,
        entries: timeline.entries(),
      };
      client.send('timeline', history);
      client.send('snapshot', snapshot());
    })
    .route('/dashboard/snapshot', async (_req, res) => {
      await poller.pollAll();
      sendJson(res, 200, snapshot(), { indent: 2 });
    });

  return {
    get viewers() {
      return hub.size;
    },
    close(reason = 'the server is shutting down') {
      unsubscribe();
      if (ticker) clearInterval(ticker);
      ticker = null;
      hub.close({ name: 'bye', data: { reason } });
      poller.abort();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------

/** Another server's answer, or why there is none. */
export interface PeerResult {
  report: { own: OwnReport; load: LoadFigures } | null;
  /** Null while never asked. */
  reason: string | null;
}

export function buildSnapshot(
  status: RuntimeStatus,
  peers: DashboardPeer[],
  peerResult: (id: number) => PeerResult,
  now: Date,
): DashboardSnapshot {
  const selfRow: ServerRow = {
    id: status.id,
    is_self: true,
    dashboard_url: status.http_address,
    state: status.role === 'silent' || status.role === 'left' ? status.role : 'alive',
    synced: status.synced,
    heard_ms_ago: null,
    load: loadFigures(status.load),
    own: ownReport(status),
    unreachable_reason: null,
  };
  const view = new Map(status.members.map((member) => [member.id, member]));
  const peerRows = peers.map((peer): ServerRow => {
    const member = view.get(peer.id);
    const result = peerResult(peer.id);
    const own = result.report?.own ?? null;
    return {
      id: peer.id,
      is_self: false,
      dashboard_url: peer.dashboard_url,
      state: peerState(peer.id, status, member?.state, own),
      synced: member?.synced ?? null,
      heard_ms_ago: member?.age_ms ?? null,
      load: result.report?.load ?? (member?.load ? loadFigures(member.load) : null),
      own,
      unreachable_reason: result.report ? null : result.reason,
    };
  });
  return {
    protocol: DASHBOARD_PROTOCOL_VERSION,
    at: now.toISOString(),
    self: {
      id: status.id,
      role: status.role,
      address: status.address,
      dashboard_url: status.http_address,
      uptime_ms: status.uptime_ms,
      failure_simulation: status.failure_simulation,
    },
    leader: {
      id: status.leader_id,
      epoch: status.epoch,
      epoch_label: status.epoch_label,
      successors: [...status.successors],
    },
    servers: [selfRow, ...peerRows].sort((a, b) => a.id - b.id),
    tasks: {
      executed: status.counters.tasks_executed,
      assigned: status.counters.tasks_assigned,
      reassigned: status.counters.tasks_reassigned,
      busy_replies: status.counters.busy_replies,
      queued: status.tasks.queued,
      running: status.tasks.running,
      in_flight: status.history.size,
      pool: {
        running: status.pool.running,
        queued: status.pool.queued,
        size: status.pool.size,
        max_queue: status.pool.maxQueue,
      },
    },
  };
}

/**
 * A peer's liveness: the leader's membership table decides (it runs the failure detector);
 * the leader itself is alive to whoever still follows it; a server that says it is silent is.
 */
function peerState(
  id: number,
  status: RuntimeStatus,
  viewState: ServerState | undefined,
  own: OwnReport | null,
): ServerState {
  if (own?.role === 'silent' || own?.role === 'left') return own.role;
  if (viewState) return viewState;
  if (id === status.leader_id) return 'alive';
  return 'unknown';
}

// ---------------------------------------------------------------------------------------
// Other servers' /status
// ---------------------------------------------------------------------------------------

class PeerStatusPoller {
  private readonly results = new Map<number, PeerResult>();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly aborter = new AbortController();

  constructor(
    private readonly peers: DashboardPeer[],
    private readonly timeout_ms: number,
  ) {}

  result(id: number): PeerResult {
    return this.results.get(id) ?? { report: null, reason: null };
  }

  /** Asks every peer once (a peer still being asked is not asked twice); never rejects. */
  pollAll(): Promise<void> {
    return Promise.all(this.peers.map((peer) => this.poll(peer))).then(() => undefined);
  }

  abort(): void {
    this.aborter.abort();
  }

  private poll(peer: DashboardPeer): Promise<void> {
    const running = this.inFlight.get(peer.id);
    if (running) return running;
    const done = this.fetchStatus(peer)
      .then((outcome) => {
        this.results.set(
          peer.id,
          typeof outcome === 'string'
            ? { report: null, reason: outcome }
            : { report: outcome, reason: null },
        );
      })
      .finally(() => this.inFlight.delete(peer.id));
    this.inFlight.set(peer.id, done);
    return done;
  }

  private async fetchStatus(
    peer: DashboardPeer,
  ): Promise<{ own: OwnReport; load: LoadFigures } | string> {
    if (this.aborter.signal.aborted) return 'not asked: the dashboard is closing';
    try {
      const response = await fetch(`${peer.dashboard_url}/status`, {
        signal: AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.timeout_ms)]),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return `answered HTTP ${response.status}`;
      }
      const text = await readCapped(response, MAX_PEER_STATUS_BYTES);
      if (text === null) return `sent more than ${MAX_PEER_STATUS_BYTES} bytes of status`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return 'sent a status that is not JSON';
      }
      return parsePeerStatus(parsed, peer.id);
    } catch (err) {
      return describeFetchError(err, this.timeout_ms);
    }
  }
}

async function readCapped(response: Response, max_bytes: number): Promise<string | null> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > max_bytes) {
    await response.body?.cancel();
    return null;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max_bytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeFetchError(err: unknown, timeout_ms: number): string {
  const name = (err as { name?: string }).name;
  if (name === 'TimeoutError') return `no answer within ${timeout_ms} ms`;
  if (name === 'AbortError') return 'not asked: the dashboard is closing';
  const code = (err as { cause?: { code?: string } }).cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (not running?)';
  if (code === 'ECONNRESET') return 'connection reset';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  if (code === 'ENOTFOUND') return 'host name not found';
  return `cannot reach it (${code ?? errorMessage(err)})`;
}

// ---------------------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------------------

type EntryDraft = Pick<TimelineEntry, 'kind' | 'severity' | 'text' | 'server_id'>;

const LEADER_REASONS: Record<string, string> = {
  successor: 'next in the successor list',
  election: 'won an election',
  nominated: 'nominated by the old leader',
  handover: 'handed over for lower load',
  alone: 'the only server up',
};

const STEP_DOWN_REASONS: Record<string, string> = {
  newer_epoch: 'a newer epoch exists',
  stalled: 'this process was stalled',
  handover: 'handing over to a less loaded server',
  silence: 'going silent (failure simulation)',
  shutdown: 'shutting down',
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** One sentence for a core event as seen by server `observer`, or null if not worth showing. */
export function describeEvent(observer: number, event: NodeEvent): EntryDraft | null {
  const me = `Server ${observer}`;
  switch (event.type) {
    case 'becameLeader':
      return {
        kind: 'leader',
        severity: 'info',
        server_id: observer,
        text: `${me} became leader, epoch ${formatEpoch(event.epoch)} (${LEADER_REASONS[event.reason] ?? event.reason})`,
      };
    case 'steppedDown':
      return {
        kind: 'leader',
        severity: 'warning',
        server_id: observer,
        text: `${me} stepped down as leader of epoch ${formatEpoch(event.epoch)} (${STEP_DOWN_REASONS[event.reason] ?? event.reason})`,
      };
    case 'leaderAcknowledged':
      return {
        kind: 'leader',
        severity: 'info',
        server_id: event.leader_id,
        text: `${me} follows leader ${event.leader_id}, epoch ${formatEpoch(event.epoch)}`,
      };
    case 'leaderLost':
      return {
        kind: 'leader-lost',
        severity: 'critical',
        server_id: event.leader_id,
        text: `${me} lost leader ${event.leader_id} (epoch ${formatEpoch(event.epoch)}): no heartbeat in time`,
      };
    case 'electionStarted':
      return {
        kind: 'election',
        severity: 'warning',
        server_id: observer,
        text: `${me} started an election (round ${event.round})`,
      };
    case 'peerSuspected':
      return {
        kind: 'failure',
        severity: 'warning',
        server_id: event.peer,
        text: `Server ${event.peer} is suspected: its heartbeats are late`,
      };
    case 'peerFailed':
      return {
        kind: 'failure',
        severity: 'critical',
        server_id: event.peer,
        text: `Server ${event.peer} failed: no heartbeat for the failure timeout; its tasks move`,
      };
    case 'peerRecovered':
      return {
        kind: 'recovery',
        severity: 'info',
        server_id: event.peer,
        text: `Server ${event.peer} is back`,
      };
    case 'peerLeft':
      return {
        kind: 'other',
        severity: 'info',
        server_id: event.peer,
        text: `Server ${event.peer} left (graceful shutdown)`,
      };
    case 'taskReassigned':
      return {
        kind: 'tasks',
        severity: 'warning',
        server_id: event.from_server,
        text: `1 task moved off server ${event.from_server} to another server`,
      };
    case 'silenceStarted':
      return {
        kind: 'silence',
        severity: 'warning',
        server_id: observer,
        text: `${me} went silent for ${seconds(event.duration_ms)} (failure simulation)`,
      };
    case 'silenceEnded':
      return {
        kind: 'silence',
        severity: 'info',
        server_id: observer,
        text: `${me} ended its silence and rejoins`,
      };
    case 'failureSimulationScheduled':
      return {
        kind: 'silence',
        severity: 'info',
        server_id: event.target,
        text: `Failure simulation: server ${event.target} goes silent for ${seconds(event.duration_ms)}`,
      };
    case 'resynced':
      return {
        kind: 'recovery',
        severity: 'info',
        server_id: observer,
        text: `${me} copied the task history from the leader (${event.entries} entries)`,
      };
    case 'stallDetected':
      return {
        kind: 'failure',
        severity: 'warning',
        server_id: observer,
        text: `${me} was stalled for ${seconds(event.stalled_ms)} (paused or starved)`,
      };
    case 'handover':
      return {
        kind: 'leader',
        severity: 'info',
        server_id: event.to,
        text: `${me} hands leadership to server ${event.to} (lower load)`,
      };
    default:
      // Per-task bookkeeping (assigned) and rejected messages
      // come at task rate: the snapshots' counters and rates cover them.
      return null;
  }
}

/** A bounded list of recent entries; bursts of task reassignments merge into one entry. */
export class DashboardTimeline {
  private readonly list: TimelineEntry[] = [];
  private nextSeq = 1;

  constructor(
    private readonly observer: number,
    private readonly capacity: number,
    private readonly merge_window_ms: number,
  ) {}

  /** Adds (or merges) an event; returns the new or updated entry to broadcast, if any. */
  record(event: NodeEvent & { at: string }): TimelineEntry | null {
    const draft = describeEvent(this.observer, event);
    if (!draft) return null;
    const at_ms = Date.parse(event.at);
    const at = Number.isFinite(at_ms) ? new Date(at_ms).toISOString() : new Date().toISOString();
    const last = this.list[this.list.length - 1];
    if (
      draft.kind === 'tasks' &&
      last?.kind === 'tasks' &&
      last.server_id === draft.server_id &&
      Date.parse(at) - Date.parse(last.at) <= this.merge_window_ms
    ) {
      last.count += 1;
      last.at = at;
      last.text = `${last.count} tasks moved off server ${draft.server_id} to other servers`;
      return { ...last };
    }
    const entry: TimelineEntry = {
      ...draft,
      seq: this.nextSeq++,
      at,
      count: 1,
    };
    this.list.push(entry);
    if (this.list.length > this.capacity) this.list.shift();
    return { ...entry };
  }

  /** Oldest first. */
  entries(): TimelineEntry[] {
    return this.list.map((entry) => ({ ...entry }));
  }
}
