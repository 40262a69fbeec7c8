/**
 * The running agent's local HTTP API (documented in README.md here): JSON resources for every
 * use case, binary bodies for images, and a server-sent event stream for live updates. The CLI
 * talks to a running agent through it, and the peer web page (issue 6) will too.
 *
 * Only for the user on this machine: it listens on loopback only, every request must carry the
 * random token from agent.json (mode 0600), the Host header must name loopback (so a web page
 * cannot reach it by DNS rebinding), and bodies, request rates and concurrent requests are
 * bounded. Errors are `{ "error": { "code", "message", "exit_code" } }` with a fitting status.
 */
import { DEFAULT_OFFLINE_ALLOWANCE, OFFLINE_LIMITS } from './offline-allowance.js';
import type { OfflineAllowance } from './api-types.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PEER_LIMITS } from '../protocol/peer-protocol.js';
import {
  IMAGE_ID_PATTERN,
  IMAGE_ID_RULE,
  USERNAME_PATTERN,
  USERNAME_RULE,
  UUID_PATTERN,
  UUID_RULE,
} from '../protocol/ids.js';
import { EventStreamHub } from '../http/event-stream.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { PeerAgent } from './agent.js';
import type { ApiViewRecord } from './api-types.js';
import { MAX_SHARED_IMAGE_BYTES } from './images.js';
import { readBody, readJson } from '../http/body.js';
import { ApiError, answerError } from '../http/errors.js';
import { sendBytes, sendJson } from '../http/respond.js';
import { PeerPageFiles, UiRoutes, UiTickets, agentUiControl, linkCommand } from './ui-routes.js';
import type { ViewOutcome } from './viewer-views.js';

export interface ApiServerOptions {
  agent: PeerAgent;
  logger: Logger;
  host?: string;
  port?: number;
  /** 64 hex characters; random when absent. */
  token?: string;
  /** Called after POST /api/shutdown was answered. */
  onShutdown?: () => void;
  requestsPerSecond?: number;
  maxConcurrentRequests?: number;
  /** The clock for the request rate and held views (tests pass their own). */
  now_ms?: () => number;
  /**
   * Also serve the peer web page at `/` with its sign-in links (ui-routes.ts); signing out
   * from the page calls `onShutdown`. `cloudp2p peer start` sets it.
   */
  page?: boolean;
  /**
   * Requests arrive through {@link PeerApiServer.handleRequest} from a server that listens on
   * this port (the `cloudp2p peer ui` host, ui-host.ts); listen() is not called.
   */
  hostedOnPort?: number;
}

const VIEW_TTL_MS = 60_000;
const MAX_HELD_VIEWS = 16;
const VIEW_ID = /^[0-9a-f]{32}$/;

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path segments; `:name` matches one segment and checks it with PARAMS[name]. */
  segments: string[];
  handle(ctx: RequestContext): Promise<void>;
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
}

const PARAMS: Record<string, { pattern: RegExp; rule: string }> = {
  username: { pattern: USERNAME_PATTERN, rule: USERNAME_RULE },
  owner: { pattern: USERNAME_PATTERN, rule: USERNAME_RULE },
  image_id: { pattern: IMAGE_ID_PATTERN, rule: IMAGE_ID_RULE },
  request_id: { pattern: UUID_PATTERN, rule: UUID_RULE },
  view_id: { pattern: VIEW_ID, rule: '32 hex characters' },
};

export class PeerApiServer {
  private readonly server: Server;
  private readonly token: string;
  private readonly hub = new EventStreamHub({ max_clients: 8 });
  private readonly views = new Map<string, { outcome: ViewOutcome; expires_ms: number }>();
  private readonly routes: Route[];
  private port = 0;
  private inFlight = 0;
  private tokens: number;
  private lastRefill_ms: number;
  private readonly now_ms: () => number;
  private readonly offEvents: () => void;
  /** The web page's routes (when `options.page`). */
  readonly ui: UiRoutes | null;

  constructor(private readonly options: ApiServerOptions) {
    this.token = options.token ?? randomBytes(32).toString('hex');
    if (options.hostedOnPort !== undefined) this.port = options.hostedOnPort;
    this.ui = options.page
      ? new UiRoutes({
          control: agentUiControl(options.agent, () => options.onShutdown?.()),
          tickets: new UiTickets(),
          files: new PeerPageFiles(),
          port: () => this.port,
          token: this.token,
          linkCommand: linkCommand({ dataDir: options.agent.status().data_dir }),
        })
      : null;
    this.now_ms = options.now_ms ?? Date.now;
    this.lastRefill_ms = this.now_ms();
    this.tokens = this.burst;
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 300_000; // an encryption may take a while under failover
    this.server.headersTimeout = 10_000;
    this.server.maxConnections = 64;
    this.routes = this.defineRoutes();
    this.offEvents = options.agent.events.on((event) => this.hub.broadcast(event.type, event));
  }

  private get rate(): number {
    return this.options.requestsPerSecond ?? 100;
  }
  private get burst(): number {
    return this.rate * 2;
  }

  async listen(): Promise<{ host: string; port: number; token: string }> {
    const host = this.options.host ?? '127.0.0.1';
    if (!['127.0.0.1', '::1', 'localhost'].includes(host))
      throw new CloudP2PError('usage', 'the agent API listens on loopback only', ExitCode.usage);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return { host, port: this.port, token: this.token };
  }

  async close(): Promise<void> {
    this.offEvents();
    this.hub.close({ name: 'stopping', data: { type: 'stopping', reason: 'agent stopped' } });
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- Request handling ----------------------------------------------------------------------

  /** Answers one request that another server received (see `hostedOnPort`). */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.handle(req, res);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.checkHost(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (this.ui?.owns(url.pathname)) {
        // The page's files need no token; its /ui/ routes check it themselves.
        if (!this.takeToken())
          throw new ApiError(429, 'rate_limited', `more than ${this.rate} requests per second`);
        await this.ui.handle(req, res, url, () => this.checkToken(req));
        return;
      }
      this.checkToken(req);
      if (!this.takeToken())
        throw new ApiError(429, 'rate_limited', `more than ${this.rate} requests per second`);
      const { route, params } = this.match(req.method ?? 'GET', url.pathname);
      const streaming = url.pathname === '/api/events';
      if (!streaming) {
        const max = this.options.maxConcurrentRequests ?? 16;
        if (this.inFlight >= max)
          throw new ApiError(
            503,
            'busy',
            `at most ${max} requests at once; retry shortly`,
            ExitCode.unavailable,
          );
        this.inFlight++;
      }
      try {
        await route.handle({ req, res, params, query: url.searchParams });
      } finally {
        if (!streaming) this.inFlight--;
      }
    } catch (err) {
      this.fail(res, err);
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    answerError(res, err, (unexpected) =>
      this.options.logger.error('API request failed', { error: errorMessage(unexpected) }),
    );
  }

  private checkHost(req: IncomingMessage): void {
    const host = req.headers.host ?? '';
    const allowed = [`127.0.0.1:${this.port}`, `localhost:${this.port}`, `[::1]:${this.port}`];
    if (!allowed.includes(host.toLowerCase()))
      throw new ApiError(
        421,
        'bad_host',
        `this API answers only for ${allowed[0]} (Host was ${JSON.stringify(host.slice(0, 100))})`,
        ExitCode.denied,
      );
  }

  /**
   * The token travels in a header only, never in a URL: URLs end up in browser history, logs
   * and Referer headers. (The page fetches images and the event stream with the header.)
   */
  private checkToken(req: IncomingMessage): void {
    const header = req.headers['x-cloudp2p-token'];
    const bearer = /^Bearer ([0-9a-f]{64})$/.exec(req.headers.authorization ?? '')?.[1];
    const given = (typeof header === 'string' ? header : undefined) ?? bearer ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b))
      throw new ApiError(
        401,
        'unauthorized',
        'missing or wrong token: send the token from agent.json in the x-cloudp2p-token header (never in the URL)',
        ExitCode.denied,
      );
  }

  private takeToken(): boolean {
    const now = this.now_ms();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.lastRefill_ms) / 1000) * this.rate,
    );
    this.lastRefill_ms = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private match(
    method: string,
    pathname: string,
  ): { route: Route; params: Record<string, string> } {
    if (pathname.length > 512)
      throw new ApiError(414, 'path_too_long', 'the path is longer than 512 characters');
    const parts = pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const want = route.segments[i] as string;
        let part: string;
        try {
          part = decodeURIComponent(parts[i] as string);
        } catch {
          throw new ApiError(400, 'bad_path', 'the path is not valid percent-encoding');
        }
        if (want.startsWith(':')) params[want.slice(1)] = part;
        else ok = want === part;
      }
      if (!ok) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      for (const [name, value] of Object.entries(params)) {
        const rule = PARAMS[name];
        if (rule && !rule.pattern.test(value))
          throw new ApiError(
            400,
            'invalid_argument',
            `${name} ${JSON.stringify(value.slice(0, 80))}: expected ${rule.rule}`,
          );
      }
      return { route, params };
    }
    if (pathMatched)
      throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`);
    throw new ApiError(404, 'no_route', `no API resource ${pathname}; see src/peer/README.md`);
  }

  // ---- Routes --------------------------------------------------------------------------------

  private defineRoutes(): Route[] {
    const agent = this.options.agent;
    const route = (method: Route['method'], path: string, handle: Route['handle']): Route => ({
      method,
      segments: path.split('/').filter(Boolean),
      handle,
    });
    const json = (res: ServerResponse, status: number, value: unknown): void =>
      sendJson(res, status, value);
    return [
      route('GET', '/api/status', async ({ res }) => json(res, 200, agent.status())),
      route('GET', '/api/events', async ({ req, res }) => {
        const client = this.hub.accept(req, res);
        client?.send('status', { type: 'status', ...statusEvent(agent) });
      }),
      route('GET', '/api/peers', async ({ res }) => json(res, 200, await agent.peers())),
      route('GET', '/api/peers/:username/previews', async ({ res, params }) =>
        json(res, 200, await agent.previews(params.username as string)),
      ),
      route('GET', '/api/peers/:username/previews/:image_id', async ({ res, params }) =>
        sendBytes(
          res,
          'image/jpeg',
          await agent.preview(params.username as string, params.image_id as string),
        ),
      ),
      route('GET', '/api/images', async ({ res }) => json(res, 200, await agent.ownImages())),
      route('POST', '/api/images', async ({ req, res, query }) => {
        const title = oneQuery(query, 'title', true) as string;
        const operation = operationOf(query) ?? 'encrypt';
        requireImageType(req, ['image/png', 'image/jpeg']);
        const body = await readBody(req, MAX_SHARED_IMAGE_BYTES);
        json(res, 201, await agent.encrypt(body, title, operation));
      }),
      route('DELETE', '/api/images/:image_id', async ({ req, res, params }) => {
        const body = await readJson(req, ['revoke_grants'], true);
        const revokeGrants = body.revoke_grants ?? false;
        if (typeof revokeGrants !== 'boolean')
          throw new ApiError(400, 'invalid_argument', 'revoke_grants: expected true or false');
        json(res, 200, await agent.withdraw(params.image_id as string, { revokeGrants }));
      }),
      route('GET', '/api/images/:image_id/preview', async ({ res, params }) =>
        sendBytes(res, 'image/jpeg', agent.ownPreview(params.image_id as string)),
      ),
      route('GET', '/api/images/:image_id/stego', async ({ res, params }) =>
        sendBytes(res, 'image/png', agent.ownStego(params.image_id as string)),
      ),
      route('GET', '/api/requests', async ({ res, query }) => {
        const role = oneQuery(query, 'role', false) ?? 'owner';
        if (role !== 'owner' && role !== 'requester')
          throw new ApiError(
            400,
            'invalid_argument',
            'role: "owner" (requests to you) or "requester" (yours)',
          );
        const status = oneQuery(query, 'status', false);
        if (
          status !== undefined &&
          status !== 'pending' &&
          status !== 'accepted' &&
          status !== 'rejected'
        )
          throw new ApiError(400, 'invalid_argument', 'status: pending, accepted or rejected');
        json(res, 200, await agent.requests(role, status));
      }),
      route('POST', '/api/requests', async ({ req, res }) => {
        const body = await readJson(req, ['owner', 'image_id', 'views']);
        const owner = stringField(body, 'owner', USERNAME_PATTERN);
        const imageId = stringField(body, 'image_id', IMAGE_ID_PATTERN);
        const views = intField(body, 'views', 1, 10_000);
        json(res, 201, await agent.request(owner, imageId, views));
      }),
      route('POST', '/api/requests/:request_id/accept', async ({ req, res, params, query }) => {
        const body = await readJson(req, OFFLINE_FIELDS, true);
        json(
          res,
          200,
          await agent.answer(
            params.request_id as string,
            'accepted',
            offlineField(body),
            operationOf(query),
          ),
        );
      }),
      route('POST', '/api/requests/:request_id/reject', async ({ req, res, params }) => {
        await readJson(req, [], true);
        json(res, 200, await agent.answer(params.request_id as string, 'rejected'));
      }),
      route('GET', '/api/grants', async ({ res }) => json(res, 200, await agent.grants())),
      route('PUT', '/api/grants/:image_id/:username', async ({ req, res, params }) => {
        const body = await readJson(req, ['quota', ...OFFLINE_FIELDS]);
        const quota = intField(body, 'quota', 0, 1_000_000);
        json(
          res,
          200,
          await agent.setGrant(
            params.image_id as string,
            params.username as string,
            quota,
            offlineField(body),
          ),
        );
      }),
      route('DELETE', '/api/grants/:image_id/:username', async ({ res, params }) =>
        json(res, 200, await agent.revoke(params.image_id as string, params.username as string)),
      ),
      route('GET', '/api/received', async ({ res }) => json(res, 200, agent.received())),
      route('POST', '/api/received/:owner/:image_id/views', async ({ req, res, params }) => {
        await readJson(req, [], true);
        json(
          res,
          201,
          this.holdView(await agent.view(params.owner as string, params.image_id as string)),
        );
      }),
      route('POST', '/api/views', async ({ req, res }) => {
        requireImageType(req, ['image/png']);
        const body = await readBody(req, PEER_LIMITS.max_copy_bytes);
        json(res, 201, this.holdView(await agent.viewFile(body)));
      }),
      route('GET', '/api/views/:view_id/image', async ({ res, params }) => {
        this.dropExpiredViews();
        const held = this.views.get(params.view_id as string);
        if (!held)
          throw new ApiError(
            404,
            'not_found',
            'no such view (each view image can be fetched once, within 60 s)',
          );
        this.views.delete(params.view_id as string);
        sendBytes(res, held.outcome.record.media_type, held.outcome.image);
      }),
      route('POST', '/api/sync', async ({ req, res }) => {
        await readJson(req, [], true);
        json(res, 200, await agent.sync());
      }),
      route('POST', '/api/shutdown', async ({ req, res }) => {
        await readJson(req, [], true);
        json(res, 202, { stopping: true });
        setImmediate(() => this.options.onShutdown?.());
      }),
    ];
  }

  /** Keeps a view's image for one fetch (the JSON answer stays small). */
  private holdView(outcome: ViewOutcome): ApiViewRecord {
    this.dropExpiredViews();
    while (this.views.size >= MAX_HELD_VIEWS)
      this.views.delete(this.views.keys().next().value as string);
    const viewId = randomBytes(16).toString('hex');
    this.views.set(viewId, { outcome, expires_ms: this.now_ms() + VIEW_TTL_MS });
    return { ...outcome.record, view_id: viewId, image_url: `/api/views/${viewId}/image` };
  }

  private dropExpiredViews(): void {
    const now = this.now_ms();
    for (const [id, held] of this.views) if (held.expires_ms < now) this.views.delete(id);
  }
}

function statusEvent(agent: PeerAgent): { online: boolean; directory: string } {
  const status = agent.status();
  return { online: status.online, directory: status.directory };
}

function oneQuery(query: URLSearchParams, name: string, required: boolean): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw new ApiError(400, 'invalid_argument', `give ${name} once`);
  if (values.length === 0) {
    if (required)
      throw new ApiError(400, 'invalid_argument', `the ${name} query parameter is required`);
    return undefined;
  }
  return values[0];
}

function requireImageType(req: IncomingMessage, allowed: string[]): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!allowed.includes(type))
    throw new ApiError(
      415,
      'unsupported_media_type',
      `send the image bytes with content-type ${allowed.join(' or ')} (got ${JSON.stringify(type.slice(0, 60))})`,
    );
}

function stringField(body: Record<string, unknown>, key: string, pattern: RegExp): string {
  const value = body[key];
  if (typeof value !== 'string' || !pattern.test(value))
    throw new ApiError(400, 'invalid_argument', `${key}: expected a string matching ${pattern}`);
  return value;
}

const OFFLINE_FIELDS = ['offline_views', 'offline_window_ms'];

/** `?operation=`: the id under which a long call's `encrypt-progress` events are sent. */
function operationOf(query: URLSearchParams): string | undefined {
  const operation = oneQuery(query, 'operation', false);
  if (operation !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(operation))
    throw new ApiError(400, 'invalid_argument', 'operation: 1-64 of A-Z a-z 0-9 _ -');
  return operation;
}

/** The owner's offline allowance from a body (either field may be left out: its default). */
function offlineField(body: Record<string, unknown>): OfflineAllowance | undefined {
  if (body.offline_views === undefined && body.offline_window_ms === undefined) return undefined;
  return {
    views:
      body.offline_views === undefined
        ? DEFAULT_OFFLINE_ALLOWANCE.views
        : intField(body, 'offline_views', 0, OFFLINE_LIMITS.max_views),
    window_ms:
      body.offline_window_ms === undefined
        ? DEFAULT_OFFLINE_ALLOWANCE.window_ms
        : intField(
            body,
            'offline_window_ms',
            OFFLINE_LIMITS.min_window_ms,
            OFFLINE_LIMITS.max_window_ms,
          ),
  };
}

function intField(body: Record<string, unknown>, key: string, min: number, max: number): number {
  const value = body[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw new ApiError(
      400,
      'invalid_argument',
      `${key}: expected an integer from ${min} to ${max}`,
    );
  return value;
}
