/**
 * The peer web page's routes, served on the same loopback port as the agent's API (by
 * api-server.ts for `peer start` agents, by ui-host.ts for `cloudp2p peer ui`):
 *
 *   GET  /                 the page (built by `npm run build` from src/web/pages/peer)
 *   GET  /assets/<file>    its script and style sheet
 *   POST /ui/ticket        { ticket } -> { token }: trade a one-time link code for the API token
 *   GET  /ui/session       (token) UiSession: registered? signed in? as whom?
 *   POST /ui/tickets       (token) a fresh one-time link (what `cloudp2p peer ui` prints again)
 *   POST /ui/register      (token) { username }   — `peer ui` only
 *   POST /ui/sign-in       (token)                 — `peer ui` only
 *   POST /ui/sign-out      (token) stop the agent (under `peer ui` the page stays)
 *   POST /ui/quit          (token) `peer ui` only: sign out and stop the program
 *
 * How the page gets the API token without exposing it: the page files themselves hold no
 * secret, so they are served to anyone who passes the Host check. The URL that `cloudp2p peer
 * ui` prints carries a one-time code in its fragment (`#ticket=…`; a fragment never reaches a
 * server log or a Referer). The page trades it once for the token, keeps the token in
 * sessionStorage (this tab only) and removes the fragment from the address bar. A used or
 * expired code is refused, so a link copied from the terminal later is worthless; other
 * local users cannot read the token from agent.json (0600) and cannot guess a code (144 bits).
 * A web page on another origin cannot trade a code either: DNS rebinding fails on the Host
 * check, and without CORS headers it could not read the answer.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { USERNAME_PATTERN } from '../protocol/ids.js';
import { ExitCode } from '../util/errors.js';
import {
  PageNotBuiltError,
  loadBuiltPage,
  sendStaticFile,
  type BuiltPage,
} from '../http/static-pages.js';
import type { PeerAgent } from './agent.js';
import { readJson } from '../http/body.js';
import { ApiError } from '../http/errors.js';
import { sendJson } from '../http/respond.js';
import type {
  UiRegisterRequest,
  UiSession,
  UiTicketExchange,
  UiTicketGranted,
  UiTicketIssued,
} from './ui-types.js';

/** Name of the page under src/web/pages/ (and dist/web/pages/). */
export const PEER_PAGE_NAME = 'peer';
/** A sign-in link works once, within this time. */
export const TICKET_TTL_MS = 10 * 60_000;
/** Links not used yet; minting more forgets the oldest. */
const MAX_OPEN_TICKETS = 16;
const TICKET_PATTERN = /^[A-Za-z0-9_-]{24}$/;
const MAX_UI_BODY_BYTES = 4096;

/** What the page may ask of whoever runs the agent (the `peer ui` host, or `peer start`). */
export interface UiControl {
  session(): UiSession;
  register?(username: string): Promise<UiSession>;
  signIn?(): Promise<UiSession>;
  signOut(): Promise<UiSession>;
  quit?(): Promise<void>;
}

/** An error answered by these routes: an HTTP status, a code and a sentence. */

/** One-time codes for sign-in links (see the header comment). */
export class UiTickets {
  private readonly open = new Map<string, number>();

  constructor(private readonly ttl_ms: number = TICKET_TTL_MS) {}

  /** A new code (18 random bytes, base64url): valid once, for `ttl_ms`. */
  mint(now_ms = Date.now()): { ticket: string; expires_in_ms: number } {
    this.dropExpired(now_ms);
    while (this.open.size >= MAX_OPEN_TICKETS)
      this.open.delete(this.open.keys().next().value as string);
    const ticket = randomBytes(18).toString('base64url');
    this.open.set(ticket, now_ms + this.ttl_ms);
    return { ticket, expires_in_ms: this.ttl_ms };
  }

  /** True once for a code that was minted and has not expired; it is used up either way. */
  redeem(ticket: string, now_ms = Date.now()): boolean {
    this.dropExpired(now_ms);
    if (!TICKET_PATTERN.test(ticket)) return false;
    const expires = this.open.get(ticket);
    this.open.delete(ticket);
    return expires !== undefined && expires >= now_ms;
  }

  private dropExpired(now_ms: number): void {
    for (const [ticket, expires] of this.open) if (expires < now_ms) this.open.delete(ticket);
  }
}

/** The built page, loaded on first use (so a server starts even before `npm run build`). */
export class PeerPageFiles {
  private page: BuiltPage | null = null;

  constructor(private readonly pagesDir?: string) {}

  /** The page, or the reason it cannot be served. */
  load(): BuiltPage | PageNotBuiltError {
    if (this.page) return this.page;
    try {
      this.page = loadBuiltPage(PEER_PAGE_NAME, this.pagesDir);
      return this.page;
    } catch (err) {
      if (err instanceof PageNotBuiltError) return err;
      throw err;
    }
  }
}

export interface UiRoutesOptions {
  control: UiControl;
  tickets: UiTickets;
  files: PeerPageFiles;
  /** The port the page is served on (for the links `/ui/tickets` hands out). */
  port: () => number;
  /** The API token a link code is traded for. */
  token: string;
  /**
   * The command that prints a new link, as the user would type it (`cloudp2p peer -d <dir>
   * ui`, see {@link linkCommand}): the used-link answer names it.
   */
  linkCommand: string;
}

/**
 * `cloudp2p peer [-d <dir> | -u <name>] ui`: the command that prints a new link for the data
 * directory the user chose, spelled as they chose it (a path is quoted for a POSIX shell when
 * it needs it).
 */
export function linkCommand(chosen: {
  dataDir?: string | undefined;
  user?: string | undefined;
}): string {
  if (chosen.dataDir) return `cloudp2p peer -d ${shellWord(chosen.dataDir)} ui`;
  if (chosen.user) return `cloudp2p peer -u ${shellWord(chosen.user)} ui`;
  return 'cloudp2p peer ui';
}

function shellWord(text: string): string {
  return /^[A-Za-z0-9_\-./~:@%+=,]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Answers the page and `/ui/...` (see the header comment). */
export class UiRoutes {
  constructor(private readonly options: UiRoutesOptions) {}

  get tickets(): UiTickets {
    return this.options.tickets;
  }

  /** The link that opens the page signed in: one-time code in the fragment. */
  signInUrl(): UiTicketIssued {
    const { ticket, expires_in_ms } = this.options.tickets.mint();
    return {
      ticket,
      url: `http://127.0.0.1:${this.options.port()}/#ticket=${ticket}`,
      expires_in_ms,
    };
  }

  /** Whether `pathname` is the page's (else it is the API's). */
  owns(pathname: string): boolean {
    return pathname === '/' || pathname.startsWith('/assets/') || pathname.startsWith('/ui/');
  }

  /**
   * Answers one request for a path {@link owns} accepted. `authorize` throws when the request
   * does not carry the API token (the caller's check, so both servers agree on it). Errors
   * are thrown to the caller, which answers them as the API does (`answerError`).
   */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    authorize: () => void,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/' || path.startsWith('/assets/')) {
      if (method !== 'GET' && method !== 'HEAD')
        throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
      this.servePage(req, res, path);
      return;
    }
    const action = path.slice('/ui/'.length);
    const want = action === 'session' ? 'GET' : 'POST';
    if (
      !['ticket', 'session', 'tickets', 'register', 'sign-in', 'sign-out', 'quit'].includes(action)
    )
      throw new ApiError(404, 'no_route', `no page resource ${path}`);
    if (method !== want)
      throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    if (action === 'ticket') {
      const body = (await readJson(
        req,
        ['ticket'],
        false,
        MAX_UI_BODY_BYTES,
      )) as Partial<UiTicketExchange>;
      if (typeof body.ticket !== 'string' || !this.options.tickets.redeem(body.ticket))
        throw new ApiError(
          401,
          'link_used',
          `this sign-in link was already used or has expired (each link works once, within ${Math.round(TICKET_TTL_MS / 60_000)} minutes); run \`${this.options.linkCommand}\` for a new one`,
          ExitCode.denied,
        );
      const granted: UiTicketGranted = { token: this.options.token };
      sendJson(res, 200, granted);
      return;
    }
    authorize();
    const control = this.options.control;
    switch (action) {
      case 'session':
        sendJson(res, 200, control.session());
        return;
      case 'tickets':
        await readJson(req, [], true, MAX_UI_BODY_BYTES);
        sendJson(res, 201, this.signInUrl());
        return;
      case 'register': {
        const body = (await readJson(
          req,
          ['username'],
          false,
          MAX_UI_BODY_BYTES,
        )) as Partial<UiRegisterRequest>;
        if (typeof body.username !== 'string' || !USERNAME_PATTERN.test(body.username))
          throw new ApiError(
            400,
            'invalid_argument',
            'a username is 3 to 32 characters: lowercase letters a-z, digits, _ and -, starting with a letter',
          );
        sendJson(
          res,
          200,
          await this.need(control.register, 'register').call(control, body.username),
        );
        return;
      }
      case 'sign-in':
        await readJson(req, [], true, MAX_UI_BODY_BYTES);
        sendJson(res, 200, await this.need(control.signIn, 'sign in').call(control));
        return;
      case 'sign-out':
        await readJson(req, [], true, MAX_UI_BODY_BYTES);
        sendJson(res, 200, await control.signOut());
        return;
      case 'quit': {
        await readJson(req, [], true, MAX_UI_BODY_BYTES);
        const quit = this.need(control.quit, 'quit');
        sendJson(res, 202, { stopping: true });
        setImmediate(() => void quit.call(control));
        return;
      }
    }
  }

  private need<T>(fn: T | undefined, what: string): T {
    if (!fn)
      throw new ApiError(
        409,
        'not_here',
        `this page was opened from an agent started by \`cloudp2p peer start\` or \`peer login\`; to ${what} from the page, open it with \`cloudp2p peer ui\``,
      );
    return fn;
  }

  private servePage(req: IncomingMessage, res: ServerResponse, path: string): void {
    const page = this.options.files.load();
    if (page instanceof PageNotBuiltError) {
      const body = `<!doctype html><html lang="en"><meta charset="utf-8"><title>cloudp2p</title><p>The cloudp2p page is not built: ${escapeHtml(page.message)}</p></html>\n`;
      res.writeHead(503, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'",
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const file = path === '/' ? page.html : page.assets.find((asset) => asset.url_path === path);
    if (!file) throw new ApiError(404, 'not_found', `no file ${path.slice(0, 100)}`);
    sendStaticFile(req, res, file);
  }
}

/** The page's control for an agent started by `peer start` / `peer login`. */
export function agentUiControl(agent: PeerAgent, stop: () => void): UiControl {
  const session = (state: UiSession['state']): UiSession => {
    const status = agent.status();
    return {
      state,
      host: 'agent',
      username: status.username,
      user_id: status.user_id,
      data_dir: status.data_dir,
      servers: status.servers,
      suggested_username: null,
      problem: null,
    };
  };
  let stopping = false;
  return {
    session: () => session(stopping ? 'signing-out' : 'signed-in'),
    signOut: async () => {
      stopping = true;
      setImmediate(stop);
      return session('signing-out');
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
