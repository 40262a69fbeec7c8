/**
 * What each route of the agent's API does: one handler per route of the table (api-routes.ts),
 * keyed by its name and typed by it (a route without a handler, or a handler answering the
 * wrong shape, does not compile). Handlers get their input checked (api-route-input.ts) and
 * return the answer; the server (api-server.ts) sends it with the table's status.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventStreamHub } from '../http/event-stream.js';
import { ApiError } from '../http/errors.js';
import type { PeerAgent } from './agent.js';
import { routeUrl } from './api-route-urls.js';
import type { RouteAnswer, RouteBody, RouteName, RouteParams, RouteQuery } from './api-routes.js';
import type { ApiViewRecord, OfflineAllowance } from './api-types.js';
import { DEFAULT_OFFLINE_ALLOWANCE } from './offline-allowance.js';
import type { ViewOutcome } from './viewer-views.js';

/** A binary answer: its bytes and their media type. */
export interface BytesAnswer {
  media_type: string;
  bytes: Uint8Array;
}

export interface RouteContext<R extends RouteName> {
  req: IncomingMessage;
  res: ServerResponse;
  params: RouteParams<R>;
  query: RouteQuery<R>;
  body: RouteBody<R, Uint8Array>;
}

/** Events routes answer on `res` themselves and return nothing. */
export type RouteHandler<R extends RouteName> = (
  ctx: RouteContext<R>,
) => Promise<RouteAnswer<R, BytesAnswer>>;

export type RouteHandlers = { [R in RouteName]: RouteHandler<R> };

export interface HandlerDeps {
  agent: PeerAgent;
  hub: EventStreamHub;
  views: HeldViews;
  /** Called once POST /api/shutdown was answered. */
  onShutdown: () => void;
}

export function agentHandlers({ agent, hub, views, onShutdown }: HandlerDeps): RouteHandlers {
  return {
    status: async () => agent.status(),
    events: async ({ req, res }) => {
      const client = hub.accept(req, res);
      const { online, directory } = agent.status();
      client?.send('status', { type: 'status', online, directory });
    },
    peers: () => agent.peers(),
    previews: ({ params }) => agent.previews(params.username),
    preview: async ({ params }) => ({
      media_type: 'image/jpeg',
      bytes: await agent.preview(params.username, params.image_id),
    }),
    ownImages: () => agent.ownImages(),
    encrypt: ({ query, body }) => agent.encrypt(body, query.title, query.operation ?? 'encrypt'),
    withdraw: ({ params, body }) =>
      agent.withdraw(params.image_id, { revokeGrants: body.revoke_grants ?? false }),
    ownPreview: async ({ params }) => ({
      media_type: 'image/jpeg',
      bytes: agent.ownPreview(params.image_id),
    }),
    ownStego: async ({ params }) => ({
      media_type: 'image/png',
      bytes: agent.ownStego(params.image_id),
    }),
    requests: ({ query }) => agent.requests(query.role ?? 'owner', query.status),
    request: ({ body }) => agent.request(body.owner, body.image_id, body.views),
    accept: ({ params, query, body }) =>
      agent.answer(params.request_id, 'accepted', offlineAllowance(body), query.operation),
    reject: ({ params }) => agent.answer(params.request_id, 'rejected'),
    grants: () => agent.grants(),
    setGrant: ({ params, body }) =>
      agent.setGrant(params.image_id, params.username, body.quota, offlineAllowance(body)),
    revoke: ({ params }) => agent.revoke(params.image_id, params.username),
    received: async () => agent.received(),
    view: async ({ params }) => views.hold(await agent.view(params.owner, params.image_id)),
    viewFile: async ({ body }) => views.hold(await agent.viewFile(body)),
    viewImage: async ({ params }) => {
      const outcome = views.take(params.view_id);
      return { media_type: outcome.record.media_type, bytes: outcome.image };
    },
    sync: () => agent.sync(),
    shutdown: async () => {
      // After the answer has gone out (it is sent when this promise settles).
      setImmediate(onShutdown);
      return { stopping: true };
    },
  };
}

/** The owner's offline allowance from a body (either field left out: its default). */
function offlineAllowance(body: {
  offline_views?: number;
  offline_window_ms?: number;
}): OfflineAllowance | undefined {
  if (body.offline_views === undefined && body.offline_window_ms === undefined) return undefined;
  return {
    views: body.offline_views ?? DEFAULT_OFFLINE_ALLOWANCE.views,
    window_ms: body.offline_window_ms ?? DEFAULT_OFFLINE_ALLOWANCE.window_ms,
  };
}

const VIEW_TTL_MS = 60_000;
const MAX_HELD_VIEWS = 16;

/**
 * Views' images kept for one fetch each, within 60 s (the JSON answer of a view stays small;
 * the image is fetched from its `image_url`).
 */
export class HeldViews {
  private readonly views = new Map<string, { outcome: ViewOutcome; expires_ms: number }>();

  constructor(private readonly now_ms: () => number) {}

  hold(outcome: ViewOutcome): ApiViewRecord {
    this.dropExpired();
    for (const oldest of this.views.keys()) {
      if (this.views.size < MAX_HELD_VIEWS) break;
      this.views.delete(oldest);
    }
    const viewId = randomBytes(16).toString('hex');
    this.views.set(viewId, { outcome, expires_ms: this.now_ms() + VIEW_TTL_MS });
    return {
      ...outcome.record,
      view_id: viewId,
      image_url: routeUrl('viewImage', { view_id: viewId }),
    };
  }

  /** The view's outcome, once. */
  take(viewId: string): ViewOutcome {
    this.dropExpired();
    const held = this.views.get(viewId);
    if (!held)
      throw new ApiError(
        404,
        'not_found',
        'no such view (each view image can be fetched once, within 60 s)',
      );
    this.views.delete(viewId);
    return held.outcome;
  }

  private dropExpired(): void {
    const now = this.now_ms();
    for (const [id, held] of this.views) if (held.expires_ms < now) this.views.delete(id);
  }
}
