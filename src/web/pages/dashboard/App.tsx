/**
 * The cloud dashboard: who leads, every server's state and load, task rates and a timeline,
 * live from the server's event stream. When the watched server goes away it says so and
 * offers the other servers' dashboards.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type {
  DashboardSnapshot,
  ServerRow,
  ServerState,
  TimelineEntry,
} from '../../../protocol/dashboard-protocol.js';
import {
  barPercent,
  formatClock,
  formatCount,
  formatDuration,
  formatPercent,
  formatRate,
} from '../shared/format.js';
import { LiveStream, type StreamStatus } from '../shared/live-stream.js';
import {
  applyEntry,
  applySnapshot,
  applyTimeline,
  computeRates,
  emptyModel,
  type DashboardModel,
  type Rates,
} from './model.js';

const STREAM_EVENTS = ['snapshot', 'timeline', 'entry', 'bye'] as const;

function reduce(model: DashboardModel, name: string, data: unknown): DashboardModel {
  switch (name) {
    case 'snapshot':
      return applySnapshot(model, data);
    case 'timeline':
      return applyTimeline(model, data);
    case 'entry':
      return applyEntry(model, data);
    default:
      return model;
  }
}

export function App({ streamUrl }: { streamUrl: string }) {
  const [model, setModel] = useState(emptyModel);
  const [status, setStatus] = useState<StreamStatus>({
    state: 'connecting',
    since_ms: Date.now(),
    attempts: 0,
    retry_in_ms: null,
    detail: null,
  });
  const stream = useRef<LiveStream | null>(null);
  const [, setTick] = useState(0);

  useEffect(() => {
    const live = new LiveStream({
      url: streamUrl,
      events: STREAM_EVENTS,
      onEvent: (name, data) => setModel((m) => reduce(m, name, data)),
      onStatus: setStatus,
    });
    stream.current = live;
    live.start();
    return () => live.stop();
  }, [streamUrl]);

  // While disconnected, "lost for 12 s" must keep counting without new data.
  useEffect(() => {
    if (status.state === 'live') return;
    const timer = window.setInterval(() => setTick((t) => t + 1), 1000);
    return () => window.clearInterval(timer);
  }, [status.state]);

  const snapshot = model.snapshot;
  const rates = useMemo(() => computeRates(model), [model]);
  const connected = status.state === 'live';
  // The banner (with #frozen-note) shows once a connection failed; until then just wait.
  const frozen = !connected && !(status.state === 'connecting' && status.attempts === 0);

  useEffect(() => {
    const leader = snapshot?.leader.id;
    const prefix = connected ? '' : '⚠ disconnected · ';
    document.title = snapshot
      ? `${prefix}server ${snapshot.self.id} · leader ${leader ?? 'none'} — cloudp2p dashboard`
      : 'cloudp2p cloud dashboard';
  }, [snapshot, connected]);

  return (
    <div class="page">
      <a class="skip-link" href="#servers-title">
        Skip to the servers
      </a>
      <Header snapshot={snapshot} status={status} />
      {model.problem && (
        <p class="banner banner-error" role="alert">
          <strong>Cannot show this stream:</strong> {model.problem}
        </p>
      )}
      {!connected && (
        <ConnectionBanner
          status={status}
          snapshot={snapshot}
          onRetry={() => stream.current?.retryNow()}
        />
      )}
      <main class={frozen ? 'frozen' : ''} aria-describedby={frozen ? 'frozen-note' : undefined}>
        {snapshot ? (
          <>
            <Overview snapshot={snapshot} model={model} rates={rates} />
            <Servers snapshot={snapshot} rates={rates} />
            <div class="columns">
              <Tasks snapshot={snapshot} rates={rates} />
              <Timeline entries={model.timeline} observer={model.observer_id ?? snapshot.self.id} />
            </div>
          </>
        ) : (
          <p class="loading">Waiting for the first figures from the server…</p>
        )}
      </main>
      <p class="visually-hidden" aria-live="polite">
        {model.leader_change
          ? model.leader_change.to === null
            ? `Leader ${model.leader_change.from} lost; an election is under way.`
            : `Leader changed: server ${model.leader_change.to} now leads, epoch ${model.leader_change.epoch_label}.`
          : ''}
      </p>
      <footer class="footer">
        Raw data: <a href="/status">/status</a> (JSON) · <a href="/metrics">/metrics</a>{' '}
        (Prometheus) · <a href="/dashboard/snapshot">/dashboard/snapshot</a>
      </footer>
    </div>
  );
}

// ---------------------------------------------------------------------------------------

const CONNECTION_WORDS: Record<StreamStatus['state'], string> = {
  connecting: 'connecting…',
  live: 'live',
  lost: 'disconnected',
  ended: 'server stopped',
};

function Header({
  snapshot,
  status,
}: {
  snapshot: DashboardSnapshot | null;
  status: StreamStatus;
}) {
  return (
    <header class="topbar">
      <div>
        <h1>cloudp2p cloud dashboard</h1>
        <p class="subtitle">
          {snapshot ? (
            <>
              Watching <strong>server {snapshot.self.id}</strong> ({snapshot.self.address}) · up{' '}
              {formatDuration(snapshot.self.uptime_ms)}
              {snapshot.self.failure_simulation ? ' · failure simulation on' : ''}
            </>
          ) : (
            'Connecting to the server…'
          )}
        </p>
      </div>
      <p class={`connection connection-${status.state}`} data-testid="connection">
        <span class="connection-dot" aria-hidden="true" />
        <span>
          <span class="visually-hidden">Connection: </span>
          {CONNECTION_WORDS[status.state]}
        </span>
      </p>
    </header>
  );
}

function ConnectionBanner({
  status,
  snapshot,
  onRetry,
}: {
  status: StreamStatus;
  snapshot: DashboardSnapshot | null;
  onRetry: () => void;
}) {
  if (status.state === 'connecting' && status.attempts === 0) return null;
  const self = snapshot?.self.id;
  const name = self === undefined ? 'the server' : `server ${self}`;
  const lost_ms = Date.now() - status.since_ms;
  const lostFor = lost_ms < 1000 ? 'just now' : `${formatDuration(lost_ms)} ago`;
  const others = (snapshot?.servers ?? []).filter((row) => !row.is_self && row.dashboard_url);
  // Servers that answered and are alive first: those dashboards most likely work.
  others.sort((a, b) => rank(a) - rank(b) || a.id - b.id);
  const headline =
    status.state === 'ended'
      ? `${capitalise(name)} is shutting down: ${status.detail ?? 'it closed the stream'}.`
      : `Lost contact with ${name} (${lostFor}): it may have crashed, been stopped or be unreachable.`;
  return (
    <section class="banner banner-lost" aria-labelledby="lost-title" data-testid="connection-lost">
      <p id="lost-title" class="banner-headline" role="alert">
        {headline}
      </p>
      <p id="frozen-note">
        The figures below are frozen at the last update
        {snapshot ? ` (${formatClock(snapshot.at)})` : ''}.{' '}
        {status.retry_in_ms !== null
          ? `Trying again (attempt ${status.attempts}${status.detail ? `: ${status.detail}` : ''}).`
          : 'Trying again.'}{' '}
        <button type="button" onClick={onRetry}>
          Retry now
        </button>
      </p>
      {others.length > 0 && (
        <>
          <p>Watch the cloud from another server:</p>
          <ul class="other-dashboards">
            {others.map((row) => (
              <li key={row.id}>
                <a href={`${row.dashboard_url}/`}>Server {row.id}’s dashboard</a>{' '}
                <span class="muted">
                  ({row.dashboard_url}; last seen {STATE_WORDS[row.state]}
                  {row.id === snapshot?.leader.id ? ', leader' : ''})
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** "7.2" → "term 7, claimed by server 2": epochs rise at every change of leader. */
function epochMeaning(label: string): string {
  const match = /^(\d+)\.(\d+)$/.exec(label);
  return match ? `term ${match[1]}, claimed by server ${match[2]}` : 'no leader elected yet';
}

function rank(row: ServerRow): number {
  if (row.state === 'alive' && row.own) return 0;
  if (row.state === 'alive') return 1;
  return 2;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------------------------------

function Overview({
  snapshot,
  model,
  rates,
}: {
  snapshot: DashboardSnapshot;
  model: DashboardModel;
  rates: Rates;
}) {
  const leader = snapshot.leader;
  const change = model.leader_change;
  return (
    <section class="cards" aria-label="Overview">
      <div
        class={`card ${change && change.to === leader.id ? 'card-changed' : ''}`}
        data-testid="leader-card"
      >
        <h2 class="card-label">Leader</h2>
        <p class="card-value" data-testid="leader">
          {leader.id === null ? 'none: electing' : `Server ${leader.id}`}
        </p>
        <p class="card-detail">
          {change && change.from !== null && change.to === leader.id
            ? `took over from server ${change.from} at ${formatClock(change.at)}`
            : leader.id === snapshot.self.id
              ? 'this server'
              : leader.id === null
                ? 'no leader known right now'
                : 'as followed by this server'}
        </p>
      </div>
      <div class="card">
        <h2 class="card-label">Epoch</h2>
        <p class="card-value" data-testid="epoch">
          {leader.epoch_label}
        </p>
        <p class="card-detail">{epochMeaning(leader.epoch_label)}</p>
      </div>
      <div class="card">
        <h2 class="card-label">Throughput</h2>
        <p class="card-value" data-testid="throughput">
          {formatRate(rates.cluster_executed)} <span class="unit">tasks/s</span>
        </p>
        <p class="card-detail">executed, all servers that answer</p>
      </div>
      <div class="card">
        <h2 class="card-label">In flight</h2>
        <p class="card-value">{formatCount(snapshot.tasks.in_flight)}</p>
        <p class="card-detail">tasks not yet acknowledged</p>
      </div>
      <div class="card">
        <h2 class="card-label">Successors</h2>
        <p class="card-value card-value-small">
          {leader.successors.length > 0
            ? leader.successors.map((id) => `server ${id}`).join(' → ')
            : '—'}
        </p>
        <p class="card-detail">who takes over next, in order</p>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------------------------------

const STATE_WORDS: Record<ServerState, string> = {
  alive: 'alive',
  suspected: 'suspected',
  silent: 'silent',
  failed: 'failed',
  left: 'left',
  unknown: 'unknown',
};

/** Shapes as well as colours, so the state never depends on colour vision. */
const STATE_ICONS: Record<ServerState, string> = {
  alive: '✔',
  suspected: '⚠',
  silent: '◌',
  failed: '✖',
  left: '⏏',
  unknown: '?',
};

function StateBadge({ row }: { row: ServerRow }) {
  const silentLeft = row.own?.silent_for_ms;
  let note = '';
  if (row.state === 'silent')
    note = silentLeft
      ? `failure simulation, ${formatDuration(silentLeft)} left`
      : 'failure simulation';
  else if (row.state === 'failed')
    note =
      row.heard_ms_ago === null
        ? 'no heartbeats'
        : `no heartbeat for ${formatDuration(row.heard_ms_ago)}`;
  else if (row.state === 'suspected' && row.heard_ms_ago !== null)
    note = `last heard ${formatDuration(row.heard_ms_ago)} ago`;
  else if (row.state === 'left') note = 'shut down';
  else if (row.state === 'unknown') note = 'no leader view yet';
  return (
    <span class={`state state-${row.state}`}>
      <span class="state-icon" aria-hidden="true">
        {STATE_ICONS[row.state]}
      </span>{' '}
      {STATE_WORDS[row.state]}
      {note && <span class="state-note">{note}</span>}
    </span>
  );
}

function Bar({
  value,
  max,
  text,
  label,
}: {
  value: number;
  max: number;
  text: string;
  label: string;
}) {
  const pct = barPercent(value, max);
  return (
    <div class="bar-cell" title={`${label}: ${text}`}>
      <div class="bar" aria-hidden="true">
        <div class={`bar-fill ${pct >= 85 ? 'bar-high' : ''}`} style={{ width: `${pct}%` }} />
      </div>
      <span class="bar-text">{text}</span>
    </div>
  );
}

/**
 * The role as the watched server sees it, so the table agrees with the leader card (a peer's
 * own report can be a second older); a peer that claims to lead on its own says so.
 */
function roleText(row: ServerRow, snapshot: DashboardSnapshot): string {
  if (row.id === snapshot.leader.id) return 'leader';
  if (row.own?.role === 'leader') return 'claims to lead';
  if (row.own === null) return '—';
  return row.own.role;
}

function Servers({ snapshot, rates }: { snapshot: DashboardSnapshot; rates: Rates }) {
  return (
    <section aria-labelledby="servers-title">
      <h2 id="servers-title" tabIndex={-1}>
        Servers
      </h2>
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="servers-title">
        <table class="servers">
          <caption class="visually-hidden">
            Every server's state in the leader's view, its role, load, work and tasks executed
          </caption>
          <thead>
            <tr>
              <th scope="col">Server</th>
              <th scope="col">State</th>
              <th scope="col">Role</th>
              <th scope="col">CPU</th>
              <th scope="col">Memory</th>
              <th scope="col">Work / capacity</th>
              <th scope="col" class="num">
                Score
              </th>
              <th scope="col" class="num">
                Executed
              </th>
              <th scope="col" class="num">
                Tasks/s
              </th>
              <th scope="col">Dashboard</th>
            </tr>
          </thead>
          <tbody>
            {snapshot.servers.map((row) => {
              const role = roleText(row, snapshot);
              const load = row.load;
              const work = load ? load.active_tasks + load.queue_length : 0;
              return (
                <tr key={row.id} class={`row-${row.state}`} data-testid={`server-row-${row.id}`}>
                  <th scope="row">
                    Server {row.id}
                    {row.is_self && <span class="tag">this one</span>}
                  </th>
                  <td>
                    <StateBadge row={row} />
                  </td>
                  <td>
                    {role === 'leader' ? (
                      <strong class="role-leader">
                        <span aria-hidden="true">★ </span>leader
                      </strong>
                    ) : (
                      role
                    )}
                  </td>
                  <td>
                    {load ? (
                      <Bar
                        value={load.cpu_pct}
                        max={100}
                        text={formatPercent(load.cpu_pct)}
                        label="CPU"
                      />
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    {load ? (
                      <Bar
                        value={load.memory_used_pct}
                        max={100}
                        text={formatPercent(load.memory_used_pct)}
                        label="Memory"
                      />
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    {load ? (
                      <Bar
                        value={work}
                        max={load.capacity}
                        text={`${load.active_tasks} running, ${load.queue_length} queued / ${load.capacity}`}
                        label="Work"
                      />
                    ) : (
                      '—'
                    )}
                  </td>
                  <td class="num">{load ? load.score.toFixed(1) : '—'}</td>
                  <td class="num">{row.own ? formatCount(row.own.tasks_executed) : '—'}</td>
                  <td class="num">{formatRate(rates.per_server.get(row.id) ?? null)}</td>
                  <td>
                    {row.is_self ? (
                      <span class="muted">this page</span>
                    ) : row.dashboard_url ? (
                      <>
                        <a
                          href={`${row.dashboard_url}/`}
                          aria-label={`Open server ${row.id}’s dashboard`}
                        >
                          open
                        </a>
                        {row.unreachable_reason && (
                          <span class="state-note">not answering: {row.unreachable_reason}</span>
                        )}
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p class="legend">
        State is the leader's view: <b>alive</b>; <b>suspected</b> (heartbeats late); <b>silent</b>{' '}
        (ignoring everyone on purpose: the failure simulation); <b>failed</b> (no heartbeat for the
        failure timeout: its tasks move); <b>left</b> (shut down cleanly). Load and tasks come from
        each server itself, and so does <b>silent</b>: a server says so when the failure simulation
        picked it, while the leader only sees its heartbeats stop.
      </p>
    </section>
  );
}

// ---------------------------------------------------------------------------------------

function Tasks({ snapshot, rates }: { snapshot: DashboardSnapshot; rates: Rates }) {
  const t = snapshot.tasks;
  const leads = snapshot.leader.id === snapshot.self.id;
  return (
    <section aria-labelledby="tasks-title" class="panel">
      <h2 id="tasks-title">Tasks on server {snapshot.self.id}</h2>
      <dl class="figures">
        <div>
          <dt>Executed</dt>
          <dd>
            {formatCount(t.executed)}{' '}
            <span class="muted">
              ({formatRate(rates.per_server.get(snapshot.self.id) ?? null)}/s)
            </span>
          </dd>
        </div>
        <div>
          <dt>Running / queued</dt>
          <dd>
            {t.running} / {t.queued}
          </dd>
        </div>
        <div>
          <dt>Workers / queue limit</dt>
          <dd>
            {t.pool.size} / {t.pool.max_queue}
          </dd>
        </div>
        <div>
          <dt>Placed as leader</dt>
          <dd>
            {formatCount(t.assigned)}
            {leads && <span class="muted"> ({formatRate(rates.self_assigned)}/s)</span>}
          </dd>
        </div>
        <div>
          <dt>Moved after failures</dt>
          <dd>{formatCount(t.reassigned)}</dd>
        </div>
        <div>
          <dt>Busy replies</dt>
          <dd>{formatCount(t.busy_replies)}</dd>
        </div>
        <div>
          <dt>In flight (cloud)</dt>
          <dd>{formatCount(t.in_flight)}</dd>
        </div>
      </dl>
    </section>
  );
}

const KIND_ICONS: Record<TimelineEntry['kind'], string> = {
  leader: '★',
  election: '⚑',
  'leader-lost': '✖',
  failure: '⚠',
  recovery: '✔',
  silence: '◌',
  tasks: '⇄',
  other: '•',
};

function Timeline({ entries, observer }: { entries: TimelineEntry[]; observer: number }) {
  return (
    <section aria-labelledby="timeline-title" class="panel">
      <h2 id="timeline-title">Timeline</h2>
      <p class="muted">
        Elections, failovers and silences as server {observer} saw them, newest first.
      </p>
      {entries.length === 0 ? (
        <p>Nothing has happened yet.</p>
      ) : (
        <ol class="timeline" data-testid="timeline">
          {entries.map((entry) => (
            <li key={entry.seq} class={`timeline-entry severity-${entry.severity}`}>
              <time dateTime={entry.at}>{formatClock(entry.at)}</time>
              <span class="timeline-icon" aria-hidden="true">
                {KIND_ICONS[entry.kind]}
              </span>
              <span class="timeline-text">
                {entry.severity === 'critical' && <span class="visually-hidden">Critical: </span>}
                {entry.text}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
