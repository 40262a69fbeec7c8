/**
 * The dashboard's server side: the page and its assets, the live event stream (bounded,
 * heartbeats, slow readers, clean close), peer /status polling and validation, the timeline,
 * and the peers' http_address config. Real ServerRuntimes on loopback, no browser.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { NodeEvent } from '../../../src/core/events.js';
import { readServerConfig } from '../../../src/server/config.js';
import {
  DashboardTimeline,
  buildSnapshot,
  describeEvent,
  registerDashboardRoutes,
  dashboardPeersFromConfig,
  type Dashboard,
} from '../../../src/server/dashboard.js';
import { createEncryptExecutor } from '../../../src/server/encrypt-executor.js';
import { parsePeerStatus } from '../../../src/server/peer-status.js';
import { initClusterKeys, loadServerTls } from '../../../src/server/cluster-keys.js';
import { freePorts } from '../../../src/server/local-cluster.js';
import { ServerRuntime, type RuntimeStatus } from '../../../src/server/runtime.js';
import { ConfigError, parseTomlText } from '../../../src/util/config-reader.js';
import { createLogger } from '../../../src/util/log.js';
import type {
  DashboardSnapshot,
  TimelineEntry,
  TimelineMessage,
} from '../../../src/protocol/dashboard-protocol.js';
import { EventStreamHub } from '../../../src/http/event-stream.js';
import { Signal } from '../../helpers/signal.js';
import { PageNotBuiltError, loadBuiltPage } from '../../../src/http/static-pages.js';

const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-dashboard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------
// A minimal SSE reader over fetch
// ---------------------------------------------------------------------------------------

interface StreamEvent {
  event: string;
  data: unknown;
}

interface StreamReader {
  /** The oldest unread event named `name` (events of other names stay queued). */
  next(name: string, timeout_ms?: number): Promise<unknown>;
  /** Comment lines seen so far (": keep-alive"). */
  comments: string[];
  retry_ms: number | null;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

async function openStream(url: string): Promise<StreamReader> {
  const aborter = new AbortController();
  const response = await fetch(url, { signal: aborter.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const queue: StreamEvent[] = [];
  const arrived = new Signal();
  const reader: StreamReader = {
    comments: [],
    retry_ms: null,
    ended: Promise.resolve(),
    async next(name, timeout_ms = 30_000) {
      await arrived.until(() => queue.some((e) => e.event === name), `'${name}' event`, timeout_ms);
      const index = queue.findIndex((e) => e.event === name);
      return (queue.splice(index, 1)[0] as StreamEvent).data;
    },
    close: () => aborter.abort(),
  };
  const body = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  reader.ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await body.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          let data: string | null = null;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) reader.comments.push(line);
            else if (line.startsWith('retry: ')) reader.retry_ms = Number(line.slice(7));
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data = line.slice(6);
          }
          if (data !== null) queue.push({ event, data: JSON.parse(data) });
          arrived.changed();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return reader;
}

// ---------------------------------------------------------------------------------------
// Real runtimes
// ---------------------------------------------------------------------------------------

interface Node {
  runtime: ServerRuntime;
  dashboard: Dashboard;
  url: string;
  stopped: boolean;
}

async function startPair(options: { pages_dir?: string } = {}): Promise<Node[]> {
  const [tcp1, http1, tcp2, http2] = (await freePorts(4)) as [number, number, number, number];
  const spec = [
    { id: 1, tcp: tcp1, http: http1, peer: { id: 2, tcp: tcp2, http: http2 } },
    { id: 2, tcp: tcp2, http: http2, peer: { id: 1, tcp: tcp1, http: http1 } },
  ];
  const nodes: Node[] = [];
  const keys = join(dir, `keys-${tcp1}`);
  await initClusterKeys({ dir: keys, clusterId: 1, serverIds: [1, 2] });
  for (const s of spec) {
    const toml = `
[tls]
ca = "${keys}/ca.crt"
cert = "${keys}/server-${s.id}.crt"
key = "${keys}/server-${s.id}.key"
[server]
id = ${s.id}
address = "127.0.0.1:${s.tcp}"
http_address = "127.0.0.1:${s.http}"
data_dir = "data-${s.id}-${s.tcp}"
[peers]
peers = [{ id = ${s.peer.id}, address = "127.0.0.1:${s.peer.tcp}", http_address = "127.0.0.1:${s.peer.http}" }]
[election]
heartbeat_interval_secs = 0.1
election_timeout_secs = 0.2
failure_timeout_secs = 0.4
monitor_interval_secs = 0.05
[encryption]
thread_pool_size = 1
`;
    const config = readServerConfig(parseTomlText(toml, `server${s.id}.toml`), dir);
    const executor = await createEncryptExecutor({
      threads: 1,
      maxQueue: 4,
      coverPath: undefined,
      jobTimeout_ms: 10_000,
    });
    const runtime = new ServerRuntime({
      config,
      logger: createLogger(`test-${s.id}`, { level: 'error' }),
      executor,
      security: loadServerTls(config).security,
    });
    const dashboard = registerDashboardRoutes(runtime, {
      peers: dashboardPeersFromConfig(config),
      snapshot_interval_ms: 100,
      peer_status_timeout_ms: 500,
      ...(options.pages_dir ? { pages_dir: options.pages_dir } : {}),
    });
    await runtime.start();
    nodes.push({ runtime, dashboard, url: `http://127.0.0.1:${s.http}`, stopped: false });
  }
  return nodes;
}

let running: Node[] = [];
afterEach(async () => {
  for (const node of running.splice(0)) {
    node.dashboard.close();
    if (!node.stopped) await node.runtime.stop(100);
  }
});

describe('dashboard routes on a real server', () => {
  it('serves the built page and its assets, with caching headers and a content policy', async () => {
    running = await startPair();
    const [one] = running as [Node];
    const page = await fetch(`${one.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2); // the script and the style sheet
    for (const asset of assets) {
      const res = await fetch(`${one.url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/(javascript|css)/);
      expect(res.headers.get('cache-control')).toContain('immutable');
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
      const again = await fetch(`${one.url}${asset}`, {
        headers: { 'if-none-match': res.headers.get('etag') as string },
      });
      expect(again.status).toBe(304);
    }
    // Only the page's own files are reachable.
    expect((await fetch(`${one.url}/assets/../package.json`)).status).toBe(404);
    expect((await fetch(`${one.url}/assets/nothing.js`)).status).toBe(404);
    const head = await fetch(`${one.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('says what to run when the page is not built, and the data routes still work', async () => {
    const empty = join(dir, 'no-pages');
    mkdirSync(empty, { recursive: true });
    running = await startPair({ pages_dir: empty });
    const [one] = running as [Node];
    const page = await fetch(`${one.url}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toMatch(/not built.*npm run build/s);
    const snapshot = (await (
      await fetch(`${one.url}/dashboard/snapshot`)
    ).json()) as DashboardSnapshot;
    expect(snapshot.self.id).toBe(1);
  });

  it('streams the timeline, then snapshots with every server’s own figures, then goodbye', async () => {
    running = await startPair();
    const [one, two] = running as [Node, Node];
    const stream = await openStream(`${one.url}/events`);
    const timeline = (await stream.next('timeline')) as TimelineMessage;
    expect(timeline.protocol).toBe(1);
    expect(timeline.observer_id).toBe(1);
    expect(stream.retry_ms).toBe(2000);
    expect(one.dashboard.viewers).toBe(1);

    // Snapshots keep coming; soon both agree on a leader and server 2 answered server 1.
    let snapshot = (await stream.next('snapshot')) as DashboardSnapshot;
    await vi.waitFor(
      async () => {
        snapshot = (await stream.next('snapshot')) as DashboardSnapshot;
        expect(snapshot.leader.id).not.toBeNull();
        expect(snapshot.servers.map((row) => row.id)).toEqual([1, 2]);
        expect(snapshot.servers.every((row) => row.own !== null && row.load !== null)).toBe(true);
        // With the test's 0.4 s failure timeout a starved machine may call server 2 failed
        // for a moment; what is claimed is that it is seen alive, not how soon.
        expect(snapshot.servers[1]?.state).toBe('alive');
      },
      { timeout: 30_000, interval: 10 },
    );
    const [row1, row2] = snapshot.servers as [
      DashboardSnapshot['servers'][0],
      DashboardSnapshot['servers'][0],
    ];
    expect(row1.is_self).toBe(true);
    expect(row2.dashboard_url).toBe(two.url);
    expect(row2.state).toBe('alive');
    expect(snapshot.self.dashboard_url).toBe(one.url);

    // The election shows in the timeline: in the first message or as a live entry.
    const described = timeline.entries.map((e) => e.text);
    const leaderShown = (): boolean =>
      described.some((text) => /became leader|follows leader/.test(text));
    while (!leaderShown()) described.push(((await stream.next('entry')) as TimelineEntry).text);
    expect(described.filter((text) => /leader/.test(text)).length).toBeGreaterThan(0);

    // Server 2 stops: server 1's snapshots say it does not answer any more.
    await two.runtime.stop(100);
    two.stopped = true;
    await vi.waitFor(
      async () => {
        snapshot = (await stream.next('snapshot')) as DashboardSnapshot;
        const gone = snapshot.servers.find((row) => row.id === 2);
        expect(gone?.own).toBeNull();
        expect(gone?.unreachable_reason).toMatch(/refused|reset|no answer/);
      },
      { timeout: 30_000, interval: 10 },
    );

    // A clean close says goodbye and ends the stream; new viewers are turned away.
    one.dashboard.close('test over');
    expect((await stream.next('bye')) as { reason: string }).toEqual({ reason: 'test over' });
    await stream.ended;
    expect(one.dashboard.viewers).toBe(0);
    expect((await fetch(`${one.url}/events`)).status).toBe(503);
  });

  it('answers HEAD on /events without holding a stream open', async () => {
    running = await startPair();
    const [one] = running as [Node];
    const head = await fetch(`${one.url}/events`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(one.dashboard.viewers).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------
// The event stream hub on a plain HTTP server
// ---------------------------------------------------------------------------------------

describe('event stream hub', () => {
  let server: Server | null = null;
  afterEach(async () => {
    const open = server;
    server = null;
    if (!open) return;
    open.closeAllConnections();
    await new Promise((resolve) => open.close(resolve));
  });

  async function serve(hub: EventStreamHub): Promise<string> {
    server = createServer((req, res) => {
      const client = hub.accept(req, res);
      client?.send('hello', { n: 1 });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    return `http://127.0.0.1:${address.port}/`;
  }

  it('limits viewers, sends heartbeats, forgets clients that leave and closes cleanly', async () => {
    const hub = new EventStreamHub({ max_clients: 2, heartbeat_interval_ms: 30, retry_ms: 1500 });
    const url = await serve(hub);
    const a = await openStream(url);
    const b = await openStream(url);
    expect(await a.next('hello')).toEqual({ n: 1 });
    await b.next('hello');
    expect(hub.size).toBe(2);

    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(await refused.text()).toMatch(/too many live viewers \(at most 2\)/);

    await vi.waitFor(() => expect(a.comments).toContain(': keep-alive'), { timeout: 30_000 });
    hub.broadcast('news', { text: 'line one\nline two' }); // newlines stay inside the JSON
    expect(await a.next('news')).toEqual({ text: 'line one\nline two' });
    expect(await b.next('news')).toEqual({ text: 'line one\nline two' });

    b.close();
    await vi.waitFor(() => expect(hub.size).toBe(1), { timeout: 30_000 });

    hub.close({ name: 'bye', data: { reason: 'done' } });
    expect(await a.next('bye')).toEqual({ reason: 'done' });
    await a.ended;
    expect(hub.size).toBe(0);
    expect(await (await fetch(url)).text()).toMatch(/shutting down/);
  });

  it('drops a client that stops reading instead of buffering without limit', async () => {
    const hub = new EventStreamHub({ max_buffered_bytes: 64 * 1024 });
    const url = await serve(hub);
    const paused = await new Promise<import('node:http').IncomingMessage>((resolve) =>
      get(url, (res) => {
        res.pause(); // never reads: the kernel buffers fill, then the server-side buffer grows
        resolve(res);
      }),
    );
    await vi.waitFor(() => expect(hub.size).toBe(1), { timeout: 30_000 });
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 400 && hub.size > 0; i++) hub.broadcast('bulk', chunk);
    expect(hub.size).toBe(0);
    paused.destroy();
  });

  it('rejects bad settings and event names', () => {
    expect(() => new EventStreamHub({ max_clients: 0 })).toThrow(
      /max_clients must be a positive integer/,
    );
    const hub = new EventStreamHub();
    expect(() => hub.broadcast('x', 1)).not.toThrow(); // no clients: nothing to format
    expect(() => new EventStreamHub().close({ name: 'Bad Name', data: 1 })).toThrow(/event name/);
  });
});

// ---------------------------------------------------------------------------------------
// Timeline, snapshot states, peer status validation, config
// ---------------------------------------------------------------------------------------

function stamped(event: NodeEvent, at_ms: number): NodeEvent & { at: string } {
  return { ...event, at: new Date(at_ms).toISOString() };
}

describe('dashboard timeline', () => {
  it('describes elections and failures in words, and skips per-task bookkeeping', () => {
    expect(describeEvent(2, { type: 'becameLeader', epoch: 7002, reason: 'successor' })?.text).toBe(
      'Server 2 became leader, epoch 7.2 (next in the successor list)',
    );
    expect(describeEvent(2, { type: 'leaderLost', leader_id: 1, epoch: 6001 })).toMatchObject({
      kind: 'leader-lost',
      severity: 'critical',
      server_id: 1,
    });
    expect(
      describeEvent(1, { type: 'silenceStarted', until_ms: 0, duration_ms: 12_000 })?.text,
    ).toBe('Server 1 went silent for 12 s (failure simulation)');
    expect(
      describeEvent(1, {
        type: 'taskAssigned',
        client_id: 'c',
        task_id: 't',
        assignment: { server_id: 1, epoch: 1001, attempt: 1 },
      }),
    ).toBeNull();
  });

  it('merges a burst of reassignments from one server and keeps a bounded history', () => {
    const timeline = new DashboardTimeline(1, 3, 1000);
    const moved = (from: number): NodeEvent => ({
      type: 'taskReassigned',
      client_id: 'c',
      task_id: 't',
      from_server: from,
      assignment: { server_id: 1, epoch: 1001 } as never,
    });
    const first = timeline.record(stamped(moved(3), 0));
    const second = timeline.record(stamped(moved(3), 500));
    expect(second?.seq).toBe(first?.seq);
    expect(second?.count).toBe(2);
    expect(second?.text).toBe('2 tasks moved off server 3 to other servers');
    expect(timeline.record(stamped(moved(3), 5000))?.seq).not.toBe(first?.seq); // window passed
    expect(timeline.record(stamped(moved(2), 5100))?.count).toBe(1); // another server
    timeline.record(stamped({ type: 'peerFailed', peer: 3 }, 5200));
    expect(timeline.entries().map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(
      timeline.record(
        stamped({ type: 'taskAssigned', client_id: 'c', task_id: 'u' } as never, 6000),
      ),
    ).toBeNull();
  });
});

describe('snapshot and peer status', () => {
  it('accepts a real /status, refuses a wrong id or an unknown shape, and derives states', async () => {
    running = await startPair();
    const [one] = running as [Node];
    const status = (await (await fetch(`${one.url}/status`)).json()) as RuntimeStatus;
    const parsed = parsePeerStatus(status, 1);
    expect(typeof parsed).toBe('object');
    expect(parsePeerStatus(status, 2)).toMatch(/answers as server 1/);
    expect(parsePeerStatus({ ...status, load: { cpu_pct: 'high' } }, 1)).toMatch(/unknown format/);
    expect(parsePeerStatus('<html>', 1)).toMatch(/not a status/);
    expect(parsePeerStatus(null, 1)).toMatch(/not a status/);
    expect(parsePeerStatus({ role: 'leader' }, 1)).toMatch(/without an id/);
    expect(parsePeerStatus({ ...status, epoch_label: 'e'.repeat(41) }, 1)).toMatch(
      /unknown format/,
    );
    expect(parsePeerStatus({ ...status, leader_id: Infinity }, 1)).toMatch(/unknown format/);

    const report = typeof parsed === 'object' ? parsed : null;
    const peers = [
      { id: 2, dashboard_url: 'http://h:2' },
      { id: 3, dashboard_url: 'http://h:3' },
    ];
    const asFollower = { ...status, role: 'follower' as const, leader_id: 2, members: [] };
    const silentPeer = buildSnapshot(
      asFollower,
      peers,
      (id) =>
        id === 2 && report
          ? {
              report: { ...report, own: { ...report.own, role: 'silent', silent_for_ms: 5000 } },
              reason: null,
            }
          : { report: null, reason: 'connection refused (not running?)' },
      new Date(0),
    );
    expect(silentPeer.servers.map((r) => [r.id, r.state])).toEqual([
      [1, 'alive'],
      [2, 'silent'],
      [3, 'unknown'],
    ]);
    expect(silentPeer.servers[2]?.unreachable_reason).toMatch(/refused/);
    const leaderAlive = buildSnapshot(
      asFollower,
      peers,
      () => ({ report: null, reason: null }),
      new Date(0),
    );
    expect(leaderAlive.servers[1]?.state).toBe('alive'); // the leader it follows
  });

  it('reads each peer’s http_address, defaulting to its port + 1000', () => {
    const config = readServerConfig(
      parseTomlText(
        `[server]\nid = 1\naddress = "127.0.0.1:8001"\n[peers]\npeers = [\n` +
          `{ id = 2, address = "127.0.0.1:8002" },\n` +
          `{ id = 3, address = "10.0.0.3:8003", http_address = "10.0.0.3:80" },\n` +
          `{ id = 4, address = "[::1]:8004" },\n]\n`,
        'peers.toml',
      ),
      dir,
    );
    expect(dashboardPeersFromConfig(config)).toEqual([
      { id: 2, dashboard_url: 'http://127.0.0.1:9002' },
      { id: 3, dashboard_url: 'http://10.0.0.3:80' },
      { id: 4, dashboard_url: 'http://[::1]:9004' },
    ]);
    expect(() =>
      readServerConfig(
        parseTomlText(
          `[server]\nid = 1\naddress = "h:1"\n[peers]\npeers = [{ id = 2, address = "h:2", http_address = "nope" }]\n`,
          'bad.toml',
        ),
        dir,
      ),
    ).toThrow(ConfigError);
  });
});

describe('built page loader', () => {
  it('refuses missing builds, malformed manifests and asset paths outside assets/', () => {
    const root = join(dir, 'pages');
    mkdirSync(join(root, '.vite'), { recursive: true });
    mkdirSync(join(root, 'dashboard'), { recursive: true });
    expect(() => loadBuiltPage('dashboard', join(dir, 'nowhere'))).toThrow(/npm run build/);
    writeFileSync(join(root, 'dashboard', 'index.html'), '<!doctype html>');
    writeFileSync(join(root, '.vite', 'manifest.json'), '[1, 2]');
    expect(() => loadBuiltPage('dashboard', root)).toThrow(PageNotBuiltError);
    writeFileSync(
      join(root, '.vite', 'manifest.json'),
      JSON.stringify({ 'dashboard/index.html': { file: '../../package.json' } }),
    );
    expect(() => loadBuiltPage('dashboard', root)).toThrow(/refusing asset path/);
    expect(() => loadBuiltPage('../etc', root)).toThrow(/bad page name/);
  });
});
