/**
 * The running agent's local HTTP API (documented in README.md here): JSON resources for every
 * use case, binary bodies for images, and a server-sent event stream for live updates. The CLI
 * talks to a running agent through it, and so does the peer web page. Its routes are the table
 * in api-routes.ts: this file matches a request to one, checks its input by the table
 * (api-route-input.ts), calls its handler (api-handlers.ts) and sends the answer.
 *
 * Only for the user on this machine: it listens on loopback only, every request must carry the
 * random token from agent.json (mode 0600), the Host header must name loopback (so a web page
 * cannot reach it by DNS rebinding), and bodies, request rates and concurrent requests are
 * bounded. Errors are `{ "error": { "code", "message", "exit_code" } }` with a fitting status.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventStreamHub } from '../http/event-stream.js';
import { ApiError, answerError } from '../http/errors.js';
import { sendBytes, sendJson } from '../http/respond.js';
import { PEER_LIMITS } from '../protocol/peer-protocol.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { PeerAgent } from './agent.js';
import { HeldViews, agentHandlers, type BytesAnswer, type RouteHandlers } from './api-handlers.js';
import { readRouteInput } from './api-route-input.js';
import { matchRoute } from './api-route-urls.js';
import { API_ROUTES, type BinaryBodyRoute, type RouteName, type RouteSpec } from './api-routes.js';
import { MAX_SHARED_IMAGE_BYTES } from './images.js';
import { PeerPageFiles, UiRoutes, UiTickets, agentUiControl, linkCommand } from './ui-routes.js';

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

/** The largest body of each route that takes bytes (JSON bodies: MAX_JSON_BODY_BYTES). */
const BINARY_BODY_LIMITS: Record<BinaryBodyRoute, number> = {
  encrypt: MAX_SHARED_IMAGE_BYTES,
  viewFile: PEER_LIMITS.max_copy_bytes,
};

export class PeerApiServer {
  private readonly server: Server;
  private readonly token: string;
  private readonly hub = new EventStreamHub({ max_clients: 8 });
  private readonly handlers: RouteHandlers;
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
    this.handlers = agentHandlers({
      agent: options.agent,
      hub: this.hub,
      views: new HeldViews(this.now_ms),
      onShutdown: () => this.options.onShutdown?.(),
    });
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
      const { name, params } = this.match(req.method ?? 'GET', url.pathname);
      const spec: RouteSpec = API_ROUTES[name];
      const streaming = spec.answer.kind === 'events';
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
        const input = await readRouteInput(
          name,
          req,
          params,
          url.searchParams,
          isBinaryBodyRoute(name) ? BINARY_BODY_LIMITS[name] : undefined,
        );
        // The table types each handler; called by a name known only at run time, it is one
        // function of the checked input.
        const handler = this.handlers[name] as (ctx: unknown) => Promise<unknown>;
        const answer = await handler({ req, res, ...input });
        if (spec.answer.kind === 'json') sendJson(res, spec.answer.status, answer);
        else if (spec.answer.kind === 'bytes') {
          const { media_type, bytes } = answer as BytesAnswer;
          sendBytes(res, media_type, bytes);
        }
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
  ): { name: RouteName; params: Record<string, string> } {
    if (pathname.length > 512)
      throw new ApiError(414, 'path_too_long', 'the path is longer than 512 characters');
    const found = matchRoute(method, pathname);
    switch (found.kind) {
      case 'route':
        return found;
      case 'bad_encoding':
        throw new ApiError(400, 'bad_path', 'the path is not valid percent-encoding');
      case 'wrong_method':
        throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`);
      case 'no_route':
        throw new ApiError(404, 'no_route', `no API resource ${pathname}; see src/peer/README.md`);
    }
  }
}

function isBinaryBodyRoute(name: RouteName): name is BinaryBodyRoute {
  return Object.hasOwn(BINARY_BODY_LIMITS, name);
}
