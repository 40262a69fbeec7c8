/**
 * `cloudp2p peer ui`: one local program that serves the peer web page on a loopback port and
 * runs the user's agent inside it while they are signed in, so everything — registering,
 * signing in, sharing, signing out and in again — happens in the page, without a terminal.
 *
 * One port for everything: the page and `/ui/...` (ui-routes.ts) are always answered; `/api/...`
 * goes to the agent's API (api-server.ts, attached with `hostedOnPort`) while signed in, and
 * answers 409 `signed_out` otherwise. The API token is the same for the whole life of the
 * program, so an open page keeps working across sign-out and sign-in. While signed in,
 * agent.json names this port and token, so `cloudp2p peer …` commands in a terminal use the
 * same agent; ui.json (0600, in the data directory) lets a second `cloudp2p peer ui` find this
 * program and print a fresh link instead of starting another one.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { USERNAME_PATTERN, USERNAME_RULE } from '../protocol/ids.js';
import type { Endpoint } from '../transport/endpoint.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { PeerAgent, type PeerAgentOptions } from './agent.js';
import { PeerApiServer } from './api-server.js';
import { ApiError, answerError } from '../http/errors.js';
import { DataDir, processAlive, readFileLimited, writeFileAtomic } from './data-dir.js';
import { PeerPageFiles, UiRoutes, UiTickets, linkCommand, type UiControl } from './ui-routes.js';
import type { UiSession, UiSessionState, UiTicketIssued } from './ui-types.js';

export interface UiHostOptions {
  /** The user's data directory; null: chosen at registration as `<baseDir>/<username>`. */
  dataDir: DataDir | null;
  baseDir: string;
  /** Offered in the registration form (e.g. from `--user`). */
  suggestedUsername?: string;
  /** Cloud servers to register with (sign-in uses the ones saved then, or `serversOverride`). */
  registration: { servers: Endpoint[]; clusterId: number };
  serversOverride?: Endpoint[];
  /** P2P listener address and the address published for it (as `peer start`). */
  listenHost: string;
  advertiseHost?: string;
  /** Port of the page and API on 127.0.0.1 (0: any free port). */
  port?: number;
  logger: Logger;
  /** Extra agent settings (tests use a faster heartbeat). */
  agentOptions?: Pick<PeerAgentOptions, 'heartbeat_ms' | 'directoryTimeout_ms'>;
  /** Called once the program should end (the page's Quit). */
  onQuit?: () => void;
  /** Lines worth showing in the terminal (signed in, signed out, …). */
  say?: (line: string) => void;
  /** Where the built pages are (tests); default dist/web/pages. */
  pagesDir?: string;
  /** The command that prints a new link, as the user typed it (`linkCommand` in ui-routes.ts). */
  linkCommand?: string;
}

/** ui.json: where a running `peer ui` program answers. */
export interface UiHostInfo {
  pid: number;
  host: string;
  port: number;
  token: string;
  started_at_ms: number;
}

const REQUESTS_PER_SECOND = 100;

export class PeerUiHost {
  private readonly server: Server;
  private readonly token = randomBytes(32).toString('hex');
  private readonly routes: UiRoutes;
  private dataDir: DataDir | null;
  private state: UiSessionState;
  private problem: string | null = null;
  private agent: PeerAgent | null = null;
  private api: PeerApiServer | null = null;
  private port = 0;
  private closed = false;
  private tokens = REQUESTS_PER_SECOND * 2;
  private lastRefill_ms = Date.now();

  constructor(private readonly options: UiHostOptions) {
    this.dataDir = options.dataDir;
    this.state = this.dataDir?.hasIdentity() ? 'signed-out' : 'unregistered';
    const control: UiControl = {
      session: () => this.session(),
      register: (username) => this.register(username),
      signIn: () => this.signIn(),
      signOut: () => this.signOut('signed out from the page'),
      quit: () => this.quit(),
    };
    this.routes = new UiRoutes({
      control,
      tickets: new UiTickets(),
      files: new PeerPageFiles(options.pagesDir),
      port: () => this.port,
      token: this.token,
      linkCommand:
        options.linkCommand ?? linkCommand({ dataDir: options.dataDir?.root ?? undefined }),
    });
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 300_000; // an encryption may take a while under failover
    this.server.headersTimeout = 10_000;
    this.server.maxConnections = 64;
  }

  /** Listens on 127.0.0.1 and records ui.json (when the data directory is known). */
  async listen(): Promise<{ port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, '127.0.0.1', () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.writeInfo();
    return { port: this.port, url: `http://127.0.0.1:${this.port}/` };
  }

  /** A one-time link that opens the page signed in to this program. */
  signInUrl(): UiTicketIssued {
    return this.routes.signInUrl();
  }

  session(): UiSession {
    const dataDir = this.dataDir;
    let username: string | null = null;
    let userId: string | null = null;
    let servers = this.options.registration.servers;
    if (dataDir?.hasIdentity()) {
      try {
        const identity = dataDir.readIdentity();
        username = identity.username;
        userId = identity.user_id;
        servers = this.options.serversOverride ?? dataDir.readSettings()?.servers ?? servers;
      } catch (err) {
        this.problem = errorMessage(err);
      }
    }
    return {
      state: this.state,
      host: 'ui',
      username,
      user_id: userId,
      data_dir: dataDir?.root ?? null,
      servers: servers.map((s) => `${s.host}:${s.port}`),
      suggested_username: this.options.suggestedUsername ?? null,
      problem: this.problem,
    };
  }

  /** Use case 1, from the page. */
  async register(username: string): Promise<UiSession> {
    this.expectState('unregistered', 'register');
    if (!USERNAME_PATTERN.test(username))
      throw new ApiError(400, 'invalid_argument', `a username is ${USERNAME_RULE}`);
    const dataDir = this.dataDir ?? new DataDir(join(this.options.baseDir, username));
    if (dataDir.hasIdentity())
      throw new ApiError(
        409,
        'already_registered',
        `${username} is already registered on this computer (${dataDir.root}); start \`cloudp2p peer ui --user ${username}\` to sign in as ${username}`,
      );
    this.state = 'signing-in'; // busy: no second registration meanwhile
    try {
      await PeerAgent.register({
        dataDir,
        username,
        servers: this.options.registration.servers,
        clusterId: this.options.registration.clusterId,
        ...(this.options.agentOptions?.directoryTimeout_ms === undefined
          ? {}
          : { directoryTimeout_ms: this.options.agentOptions.directoryTimeout_ms }),
      });
      this.dataDir = dataDir;
      this.state = 'signed-out';
      this.problem = null;
      this.writeInfo();
      this.options.say?.(`registered ${username} (data in ${dataDir.root})`);
      return this.session();
    } catch (err) {
      this.state = 'unregistered';
      throw explain(err, 'register');
    }
  }

  /** Use case 2, from the page: starts the agent in this program and attaches its API. */
  async signIn(): Promise<UiSession> {
    this.expectState('signed-out', 'sign in');
    const dataDir = this.dataDir as DataDir;
    this.state = 'signing-in';
    this.problem = null;
    let agent: PeerAgent | null = null;
    try {
      const identity = dataDir.readIdentity();
      agent = PeerAgent.open({
        dataDir,
        mode: 'running',
        listenHost: this.options.listenHost,
        ...(this.options.advertiseHost ? { advertiseHost: this.options.advertiseHost } : {}),
        ...(this.options.serversOverride ? { servers: this.options.serversOverride } : {}),
        ...this.options.agentOptions,
        logger: this.options.logger.child(identity.username),
      });
      await agent.start();
      const api = new PeerApiServer({
        agent,
        logger: this.options.logger,
        token: this.token,
        hostedOnPort: this.port,
        // `cloudp2p peer logout` in a terminal: sign out, keep the page.
        onShutdown: () => void this.signOut('asked to stop (peer logout)').catch(() => undefined),
      });
      this.agent = agent;
      this.api = api;
      dataDir.writeAgentInfo({
        pid: process.pid,
        api: { host: '127.0.0.1', port: this.port },
        token: this.token,
        p2p: agent.p2pAddress,
        started_at_ms: Date.now(),
      });
      this.state = 'signed-in';
      this.options.say?.(
        `${identity.username} signed in; peers reach this agent on port ${agent.p2pAddress?.port ?? '?'}`,
      );
      return this.session();
    } catch (err) {
      // start() stops the agent itself when it fails; a failure after it must stop it here.
      if (agent && this.agent !== agent) await agent.stop('sign-in failed').catch(() => undefined);
      this.state = 'signed-out';
      const explained = explain(err, 'sign in');
      this.problem = explained.message;
      throw explained;
    }
  }

  /** Use case 10, from the page: signs out and stops the agent; the page stays. */
  async signOut(reason: string): Promise<UiSession> {
    if (this.state === 'signed-out' || this.state === 'unregistered') return this.session();
    this.expectState('signed-in', 'sign out');
    this.state = 'signing-out';
    const agent = this.agent as PeerAgent;
    const api = this.api as PeerApiServer;
    this.api = null;
    try {
      await api.close(); // tells the page's event stream "stopping"
      await agent.stop(reason);
    } finally {
      this.agent = null;
      this.state = 'signed-out';
      this.options.say?.(`signed out (${reason})`);
    }
    return this.session();
  }

  /** The page's Quit, Ctrl-C, SIGTERM: sign out if needed and stop serving. Idempotent. */
  async quit(reason = 'quit from the page'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.state === 'signed-in') await this.signOut(reason).catch(() => undefined);
    else if (this.agent) await this.agent.stop(reason).catch(() => undefined);
    this.removeInfo();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.options.onQuit?.();
  }

  private expectState(want: UiSessionState, what: string): void {
    if (this.state === want) return;
    const now: Record<UiSessionState, string> = {
      unregistered: 'nobody is registered here yet',
      'signed-out': 'you are signed out',
      'signing-in': 'a sign-in is under way',
      'signed-in': 'you are signed in',
      'signing-out': 'a sign-out is under way',
    };
    throw new ApiError(409, 'conflict', `cannot ${what} now: ${now[this.state]}`);
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const allowed = [`127.0.0.1:${this.port}`, `localhost:${this.port}`];
      const host = (req.headers.host ?? '').toLowerCase();
      if (!allowed.includes(host))
        throw new ApiError(
          421,
          'bad_host',
          `this page answers only for ${allowed[0]} (Host was ${JSON.stringify(host.slice(0, 100))})`,
          ExitCode.denied,
        );
      if (!this.takeRequestToken())
        throw new ApiError(429, 'rate_limited', 'too many requests; slow down');
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (this.routes.owns(url.pathname)) {
        await this.routes.handle(req, res, url, () => this.checkToken(req, url));
        return;
      }
      if (!url.pathname.startsWith('/api/'))
        throw new ApiError(404, 'no_route', `nothing at ${url.pathname.slice(0, 100)}`);
      this.checkToken(req, url);
      const api = this.api;
      if (!api)
        throw new ApiError(
          409,
          'signed_out',
          'you are signed out: sign in first (in the page, or `cloudp2p peer login`)',
          ExitCode.unavailable,
        );
      await api.handleRequest(req, res);
    } catch (err) {
      answerError(res, err, (unexpected) =>
        this.options.logger.error('page request failed', { error: errorMessage(unexpected) }),
      );
    }
  }

  private checkToken(req: IncomingMessage, url: URL): void {
    const header = req.headers['x-cloudp2p-token'];
    const bearer = /^Bearer ([0-9a-f]{64})$/.exec(req.headers.authorization ?? '')?.[1];
    const query = req.method === 'GET' ? url.searchParams.get('token') : null;
    const given = Buffer.from(
      (typeof header === 'string' ? header : undefined) ?? bearer ?? query ?? '',
    );
    const want = Buffer.from(this.token);
    if (given.length !== want.length || !timingSafeEqual(given, want))
      throw new ApiError(
        401,
        'unauthorized',
        'missing or wrong token: open the page with the link `cloudp2p peer ui` prints',
        ExitCode.denied,
      );
  }

  private takeRequestToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(
      REQUESTS_PER_SECOND * 2,
      this.tokens + ((now - this.lastRefill_ms) / 1000) * REQUESTS_PER_SECOND,
    );
    this.lastRefill_ms = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  // ---- ui.json -------------------------------------------------------------------------------

  private writeInfo(): void {
    if (!this.dataDir || this.port === 0) return;
    this.dataDir.ensure();
    const info: UiHostInfo = {
      pid: process.pid,
      host: '127.0.0.1',
      port: this.port,
      token: this.token,
      started_at_ms: Date.now(),
    };
    writeFileAtomic(this.dataDir.uiInfoPath, `${JSON.stringify(info, null, 2)}\n`, 0o600);
  }

  private removeInfo(): void {
    if (this.dataDir) rmSync(this.dataDir.uiInfoPath, { force: true });
  }
}

/** The `peer ui` program running for `dataDir`, if ui.json names a live one. */
export function readUiHostInfo(dataDir: DataDir): UiHostInfo | null {
  const path = dataDir.uiInfoPath;
  if (!existsSync(path)) return null;
  try {
    const value = JSON.parse(
      Buffer.from(readFileLimited(path, 4096, 'ui.json')).toString('utf8'),
    ) as Partial<UiHostInfo>;
    if (
      typeof value.pid !== 'number' ||
      !Number.isInteger(value.pid) ||
      value.pid < 1 ||
      typeof value.port !== 'number' ||
      !Number.isInteger(value.port) ||
      value.port < 1 ||
      value.port > 65_535 ||
      typeof value.token !== 'string' ||
      !/^[0-9a-f]{64}$/.test(value.token)
    )
      return null;
    if (!processAlive(value.pid)) return null;
    return {
      pid: value.pid,
      host: '127.0.0.1',
      port: value.port,
      token: value.token,
      started_at_ms: typeof value.started_at_ms === 'number' ? value.started_at_ms : 0,
    };
  } catch {
    return null; // unreadable: treated as no program running
  }
}

/**
 * Asks the program at `api` (a `peer ui` host or a `peer start` agent) for a fresh one-time
 * link to its page; null when it does not answer or serves no page.
 */
export async function requestSignInUrl(api: {
  port: number;
  token: string;
}): Promise<UiTicketIssued | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${api.port}/ui/tickets`, {
      method: 'POST',
      headers: { 'x-cloudp2p-token': api.token },
      signal: AbortSignal.timeout(3000),
    });
    if (response.status !== 201) return null;
    const body = (await response.json()) as Partial<UiTicketIssued>;
    if (typeof body.url !== 'string' || !body.url.startsWith(`http://127.0.0.1:${api.port}/#`))
      return null;
    return body as UiTicketIssued;
  } catch {
    return null;
  }
}

/** Errors of register / sign-in in words for the page (the agent's own are already sentences). */
function explain(err: unknown, what: string): CloudP2PError {
  if (err instanceof CloudP2PError) return err;
  return new CloudP2PError('failed', `could not ${what}: ${errorMessage(err)}`, ExitCode.failure);
}
