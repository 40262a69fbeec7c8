/**
 * The signed-in page: header (who, online or not, sign out), the four sections, recent
 * activity, and the picture viewer. Keeps the agent's lists and refreshes exactly those an
 * event from the live stream makes stale, so nothing needs a reload.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AgentEvent } from '../../../peer/api-types.js';
import { routeUrl } from '../../../peer/api-route-urls.js';
import type { UiSession } from '../../../peer/ui-types.js';
import { formatClock } from '../shared/format.js';
import { LiveStream, type StreamStatus } from '../shared/live-stream.js';
import type { PeerApi } from './api.js';
import {
  SECTIONS,
  SECTION_LABELS,
  noticeFor,
  sectionFromHash,
  staleAfter,
  type Problem,
  type Resource,
  type Section,
} from './model.js';
import { MyImages } from './MyImages.js';
import { People } from './People.js';
import { Received } from './Received.js';
import { Requests } from './Requests.js';
import type { Lists, SectionProps } from './section-props.js';
import { ProblemNote, problemOf, useAction } from './ui.js';
import { Viewer, type ViewTarget } from './Viewer.js';

const ALL_RESOURCES: Resource[] = ['status', 'images', 'peers', 'inbox', 'sent', 'received'];
const STREAM_EVENTS: AgentEvent['type'][] = [
  'status',
  'request-received',
  'request-answered',
  'image-added',
  'image-received',
  'rights-changed',
  'grant-changed',
  'image-viewed',
  'encrypt-progress',
  'stopping',
];
/** Nobody announces themselves coming online: the people list is asked again this often. */
const PEERS_POLL_MS = 5000;
const MAX_ACTIVITY = 8;

/** The agent's lists, each reloaded on demand; overlapping reloads of one list coalesce. */
function usePeerData(api: PeerApi) {
  const [data, setData] = useState<Partial<Lists>>({});
  const [problems, setProblems] = useState<Partial<Record<Resource, Problem>>>({});
  const running = useRef(new Map<Resource, boolean>());
  const loaders = useMemo<{ [K in Resource]: () => Promise<Lists[K]> }>(
    () => ({
      status: () => api.status(),
      images: () => api.ownImages(),
      peers: () => api.peers(),
      inbox: () => api.requests('owner'),
      sent: () => api.requests('requester'),
      received: () => api.received(),
    }),
    [api],
  );
  const load = useCallback(
    async (resource: Resource): Promise<void> => {
      if (running.current.has(resource)) {
        running.current.set(resource, true); // load again when this one ends
        return;
      }
      running.current.set(resource, false);
      try {
        do {
          running.current.set(resource, false);
          try {
            const value = await loaders[resource]();
            setData((d) => ({ ...d, [resource]: value }));
            setProblems((p) => ({ ...p, [resource]: undefined }));
          } catch (err) {
            setProblems((p) => ({ ...p, [resource]: problemOf(err) }));
          }
        } while (running.current.get(resource));
      } finally {
        running.current.delete(resource);
      }
    },
    [loaders],
  );
  const refresh = useCallback(
    (resources: Resource[]) => {
      for (const resource of new Set(resources)) void load(resource);
    },
    [load],
  );
  return { data, problems, refresh };
}

export function Shell(props: {
  api: PeerApi;
  session: UiSession;
  onSignedOut: (session: UiSession) => void;
  onSessionChanged: () => void;
}) {
  const { api, session } = props;
  const me = session.username ?? '';
  const [section, setSection] = useState<Section>(
    () => sectionFromHash(window.location.hash) ?? 'images',
  );
  const { data, problems, refresh } = usePeerData(api);
  const [stream, setStream] = useState<StreamStatus | null>(null);
  const [activity, setActivity] = useState<ActivityItem[]>([]);
  const [awayDismissed, setAwayDismissed] = useState(false);
  const awayLogged = useRef(false);
  const [viewing, setViewing] = useState<ViewTarget | null>(null);
  const progressListeners = useRef(new Set<(operation: string, step: string) => void>());
  const wasLive = useRef(false);
  // The stream's handler outlives renders: it reads the latest titles through this.
  const titleOfRef = useRef<(owner: string, imageId: string) => string | null>(() => null);
  const heading = useRef<HTMLHeadingElement>(null);
  const signOut = useAction();
  const liveStream = useRef<LiveStream | null>(null);
  const onSessionChanged = props.onSessionChanged;

  useEffect(() => refresh(ALL_RESOURCES), [refresh]);

  // Sections are fragments (#/people): the back button works, links can be opened by keyboard.
  useEffect(() => {
    const onHash = (): void => {
      const next = sectionFromHash(window.location.hash);
      if (!next) return;
      setSection(next);
      // Tell screen readers the content changed: focus the new section's heading.
      window.setTimeout(() => heading.current?.focus(), 0);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const live = new LiveStream({
      url: routeUrl('events', {}),
      headers: api.headers,
      events: STREAM_EVENTS,
      // The agent's stream sends keep-alive comments; a long silence still means trouble.
      quiet_limit_ms: 10 * 60_000,
      onEvent: (name, data) => {
        const event = data as AgentEvent;
        if (typeof event !== 'object' || event === null || event.type !== name) return;
        if (event.type === 'encrypt-progress') {
          for (const listener of progressListeners.current) listener(event.operation, event.step);
          return;
        }
        if (event.type === 'stopping') {
          // The agent is going away: no reconnecting to a stream that would answer "signed out".
          live.stop();
          window.setTimeout(onSessionChanged, 300);
          return;
        }
        refresh(staleAfter(event));
        const text = noticeFor(event, (owner, imageId) => {
          const title = titleOfRef.current(owner ?? me, imageId);
          return title ? `“${title}”` : imageId;
        });
        if (text && event.type !== 'status')
          setActivity((list) => [activityItem(text), ...list].slice(0, MAX_ACTIVITY));
      },
      onStatus: (status) => {
        // Back after a gap: events may have been missed, so reload everything once.
        if (status.state === 'live' && !wasLive.current) refresh(ALL_RESOURCES);
        wasLive.current = status.state === 'live';
        setStream(status);
      },
    });
    live.start();
    liveStream.current = live;
    return () => live.stop();
  }, [api, refresh, onSessionChanged, me]);

  useEffect(() => {
    if (section !== 'people') return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') refresh(['peers']);
    }, PEERS_POLL_MS);
    refresh(['peers', 'received']);
    return () => window.clearInterval(timer);
  }, [section, refresh]);

  const titles = useMemo(() => {
    const map = new Map<string, string>();
    for (const image of data.images ?? []) map.set(`${me}/${image.image_id}`, image.title);
    for (const peer of data.peers ?? [])
      for (const image of peer.images) map.set(`${peer.username}/${image.image_id}`, image.title);
    return map;
  }, [data.images, data.peers, me]);
  const titleOf = useCallback(
    (owner: string, imageId: string) => titles.get(`${owner}/${imageId}`) ?? null,
    [titles],
  );
  titleOfRef.current = titleOf;
  const onEncryptProgress = useCallback((listener: (operation: string, step: string) => void) => {
    progressListeners.current.add(listener);
    return () => {
      progressListeners.current.delete(listener);
    };
  }, []);

  const waitingRequests = (data.inbox ?? []).filter((r) => r.status === 'pending').length;
  // What the sign-in applied that others changed meanwhile (null until it has caught up).
  const away = data.status?.away ?? null;
  useEffect(() => {
    if (!away || awayLogged.current) return;
    awayLogged.current = true;
    const items = away.map((item) => activityItem(`While you were away: ${item.text}.`));
    if (items.length > 0) setActivity((list) => [...items, ...list].slice(0, MAX_ACTIVITY));
  }, [away]);
  const sectionProps: SectionProps = {
    api,
    me,
    data,
    problems,
    refresh,
    openView: setViewing,
    titleOf,
    onEncryptProgress,
  };
  const online = data.status?.online ?? false;

  return (
    <div class="page">
      <a class="skip-link" href="#main-heading">
        Skip to the content
      </a>
      <header class="header">
        <div class="brand">
          <h1>
            cloudp2p <span class="muted">· {me}</span>
          </h1>
        </div>
        <div class="header-status">
          <span
            class={`pill ${online ? 'pill-ok' : 'pill-bad'}`}
            data-testid="online"
            title={online ? 'Signed in: others can see you' : 'The directory cannot be reached'}
          >
            <span aria-hidden="true">{online ? '●' : '○'}</span>{' '}
            {online ? 'Online' : data.status ? 'Offline — retrying' : 'Connecting…'}
          </span>
          <span class="pill pill-neutral" data-testid="live">
            <span aria-hidden="true">{stream?.state === 'live' ? '⟳' : '…'}</span>{' '}
            {stream?.state === 'live'
              ? 'Live updates'
              : !stream || (stream.state === 'connecting' && stream.attempts === 0)
                ? 'Connecting updates…'
                : 'Updates paused: reconnecting…'}
          </span>
          <button
            type="button"
            disabled={signOut.busy}
            onClick={() =>
              void signOut.run(async () => {
                // Signing out stops the agent's stream: stop listening first, so the page does not
                // reconnect to an agent that would answer "signed out" until the answer arrives.
                const live = liveStream.current;
                live?.stop();
                try {
                  props.onSignedOut(await api.signOut());
                } catch (err) {
                  live?.start(); // still signed in: keep listening
                  throw err;
                }
              })
            }
          >
            {signOut.busy ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </header>
      <ProblemNote problem={signOut.problem} />
      {away && away.length > 0 && !awayDismissed && (
        <section class="away" aria-labelledby="away-title" data-testid="away">
          <h2 id="away-title">While you were away</h2>
          <ul>
            {away.map((item, i) => (
              <li key={i}>{item.text}.</li>
            ))}
          </ul>
          <button type="button" onClick={() => setAwayDismissed(true)}>
            Dismiss
          </button>
        </section>
      )}
      <nav class="tabs" aria-label="Sections">
        <ul>
          {SECTIONS.map((name) => (
            <li key={name}>
              <a
                href={`#/${name}`}
                aria-current={section === name ? 'page' : undefined}
                data-testid={`nav-${name}`}
              >
                {SECTION_LABELS[name]}
                {name === 'requests' && waitingRequests > 0 && (
                  <span class="count" data-testid="requests-waiting">
                    {' '}
                    {waitingRequests}
                    <span class="visually-hidden"> waiting for your answer</span>
                  </span>
                )}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="layout">
        <main id="main">
          <h2 id="main-heading" tabIndex={-1} ref={heading}>
            {SECTION_LABELS[section]}
          </h2>
          {section === 'images' && <MyImages {...sectionProps} />}
          {section === 'people' && <People {...sectionProps} />}
          {section === 'requests' && <Requests {...sectionProps} />}
          {section === 'received' && <Received {...sectionProps} />}
        </main>
        <aside class="activity" aria-labelledby="activity-title">
          <h2 id="activity-title">Recent activity</h2>
          {activity.length === 0 ? (
            <p class="muted">Nothing yet. New requests, images and changes appear here.</p>
          ) : (
            <ol data-testid="activity">
              {activity.map((item) => (
                <li key={item.id}>
                  <time dateTime={item.at}>{formatClock(item.at)}</time> {item.text}
                </li>
              ))}
            </ol>
          )}
          <p class="visually-hidden" aria-live="polite">
            {activity[0]?.text ?? ''}
          </p>
          {data.status && (
            <p class="hint">
              {data.status.counts.own_images} own · {data.status.counts.received} received ·{' '}
              {data.status.counts.copies_waiting_for_delivery} waiting for viewers
              <br />
              Cloud: {data.status.servers.join(', ')}
            </p>
          )}
        </aside>
      </div>
      <Viewer api={api} target={viewing} onClose={() => setViewing(null)} refresh={refresh} />
    </div>
  );
}

interface ActivityItem {
  id: number;
  at: string;
  text: string;
}

let nextActivityId = 0;
function activityItem(text: string, at = new Date().toISOString()): ActivityItem {
  return { id: nextActivityId++, at, text };
}
