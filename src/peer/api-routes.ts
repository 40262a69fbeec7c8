/**
 * THE table of the agent's local HTTP API (README.md here documents it for people): for each
 * route its method, its path with `:param` placeholders, the schema of its query and of its
 * JSON body (or the media types of a binary body), what it answers, and whether it waits on
 * the cloud. The server (api-server.ts) matches, checks and dispatches from it; the CLI's
 * client (api-client.ts) and the web page's (src/web/pages/peer/api.ts) build their requests
 * from it (api-route-urls.ts), so a path, a field or a status is written once.
 *
 * Answers are typed, not checked: the agent on this machine is trusted by its own clients, and
 * their shapes (api-types.ts) are interfaces. Pure and browser-safe: the web page imports it.
 */
import { ImageId, RequestId, Username } from '../protocol/ids.js';
import {
  Bool,
  Int,
  OneOf,
  Optional,
  Pattern,
  Strict,
  v,
  type Infer,
  type Schema,
} from '../protocol/schema.js';
import {
  MAX_OFFLINE_VIEWS,
  OFFLINE_WINDOW_LIMITS_MS,
  type AgentStatus,
  type AnswerResult,
  type ApiViewRecord,
  type EncryptResult,
  type GrantView,
  type OwnImageView,
  type PeerView,
  type PreviewView,
  type ReceivedView,
  type RequestCreated,
  type RequestView,
  type SyncReport,
  type WithdrawResult,
} from './api-types.js';

// ---- Path parameters: one schema per name, whichever route it appears in ---------------------

export const ROUTE_PARAMS = {
  username: Username,
  owner: Username,
  image_id: ImageId,
  request_id: RequestId,
  /** The server's id of a held view (random, 16 bytes), not the directory's view id. */
  view_id: Pattern(/^[0-9a-f]{32}$/, '32 hex characters'),
} as const;
export type ParamName = keyof typeof ROUTE_PARAMS;

/** The `:name` placeholders of a path, as a union of names. */
export type PathParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | PathParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

// ---- What a route takes and answers ---------------------------------------------------------

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A query's keys are read once each; keys a route does not declare are ignored. */
type QuerySchema = ReturnType<typeof Strict>;

type BodySpec =
  | { readonly kind: 'none' }
  /** `optional`: an empty body counts as `{}` (bodies documented "none or {}"). */
  | { readonly kind: 'json'; readonly schema: QuerySchema; readonly optional: boolean }
  | { readonly kind: 'binary'; readonly media_types: readonly string[] };

type AnswerSpec =
  /** `type` is never set: it carries the answer's TypeScript type. */
  | { readonly kind: 'json'; readonly status: 200 | 201 | 202; readonly type?: unknown }
  | { readonly kind: 'bytes' }
  | { readonly kind: 'events' };

/**
 * `quick`: answers from the agent's own state or one directory call; `cloud`: runs the cloud
 * (encryption, making and delivering a copy) and may take minutes under failover.
 */
export type TimeoutClass = 'quick' | 'cloud';

export interface RouteSpec {
  readonly method: Method;
  readonly path: string;
  /** None: the route reads no query. */
  readonly query?: QuerySchema;
  /** None: the route reads no body. */
  readonly body?: BodySpec;
  readonly answer: AnswerSpec;
  /** None: `quick`. */
  readonly timeout?: TimeoutClass;
}

function json<T>(status: 200 | 201 | 202 = 200): { kind: 'json'; status: typeof status; type?: T } {
  return { kind: 'json', status };
}
const BYTES = { kind: 'bytes' } as const;
function jsonBody<const E extends v.ObjectEntries>(entries: E, optional = false) {
  return { kind: 'json', schema: Strict(entries), optional } as const;
}
/** `none or {}`: the body may be left out; a JSON body must be an empty object. */
const EMPTY_BODY = jsonBody({}, true);
function binaryBody<const M extends readonly string[]>(media_types: M) {
  return { kind: 'binary', media_types } as const;
}

/** One route; a `:param` in the path must have a schema in ROUTE_PARAMS (else a type error). */
function route<const P extends string, const S extends Omit<RouteSpec, 'method' | 'path'>>(
  method: Method,
  path: P & (PathParamNames<P> extends ParamName ? unknown : 'a :param without a schema'),
  spec: S,
) {
  return { method, path, ...spec } satisfies RouteSpec;
}

// ---- Fields --------------------------------------------------------------------------------

/** `?operation=`: the id under which a long call's `encrypt-progress` events are sent. */
const Operation = Pattern(/^[A-Za-z0-9_-]{1,64}$/, '1-64 of A-Z a-z 0-9 _ -');
/** Any text: the title's rules are the agent's (owner-images.ts `checkTitle`), for one-shot
 * commands too, so the API leaves them to it. */
const AnyTitle = Pattern(/^[\s\S]*$/, "the image's title");
/** The owner's offline allowance; a field left out takes its default (offline-allowance.ts). */
const OfflineFields = {
  offline_views: Optional(Int(0, MAX_OFFLINE_VIEWS)),
  offline_window_ms: Optional(Int(OFFLINE_WINDOW_LIMITS_MS.min, OFFLINE_WINDOW_LIMITS_MS.max)),
} as const;
export const REQUEST_ROLES = ['owner', 'requester'] as const;
export const REQUEST_STATUSES = ['pending', 'accepted', 'rejected'] as const;
/** Requests to you (`owner`) or yours (`requester`). */
export type RequestRole = (typeof REQUEST_ROLES)[number];
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

// ---- The table -----------------------------------------------------------------------------

export const API_ROUTES = {
  status: route('GET', '/api/status', { answer: json<AgentStatus>() }),
  /** Server-sent events (`AgentEvent`); the first is `status`. */
  events: route('GET', '/api/events', { answer: { kind: 'events' } }),
  peers: route('GET', '/api/peers', { answer: json<PeerView[]>() }),
  previews: route('GET', '/api/peers/:username/previews', { answer: json<PreviewView[]>() }),
  preview: route('GET', '/api/peers/:username/previews/:image_id', { answer: BYTES }),
  ownImages: route('GET', '/api/images', { answer: json<OwnImageView[]>() }),
  encrypt: route('POST', '/api/images', {
    query: Strict({ title: AnyTitle, operation: Optional(Operation) }),
    body: binaryBody(['image/png', 'image/jpeg']),
    answer: json<EncryptResult>(201),
    timeout: 'cloud',
  }),
  withdraw: route('DELETE', '/api/images/:image_id', {
    body: jsonBody({ revoke_grants: Optional(Bool()) }, true),
    answer: json<WithdrawResult>(),
    timeout: 'cloud',
  }),
  ownPreview: route('GET', '/api/images/:image_id/preview', { answer: BYTES }),
  ownStego: route('GET', '/api/images/:image_id/stego', { answer: BYTES }),
  requests: route('GET', '/api/requests', {
    /** `role` left out: `owner` (requests to you). */
    query: Strict({
      role: Optional(OneOf(REQUEST_ROLES)),
      status: Optional(OneOf(REQUEST_STATUSES)),
    }),
    answer: json<RequestView[]>(),
  }),
  request: route('POST', '/api/requests', {
    body: jsonBody({ owner: Username, image_id: ImageId, views: Int(1, 10_000) }),
    answer: json<RequestCreated>(201),
  }),
  accept: route('POST', '/api/requests/:request_id/accept', {
    query: Strict({ operation: Optional(Operation) }),
    body: jsonBody(OfflineFields, true),
    answer: json<AnswerResult>(),
    timeout: 'cloud',
  }),
  reject: route('POST', '/api/requests/:request_id/reject', {
    // Clients follow an accept and a reject alike; a reject makes no copy, so it has no steps.
    query: Strict({ operation: Optional(Operation) }),
    body: EMPTY_BODY,
    answer: json<AnswerResult>(),
    timeout: 'cloud',
  }),
  grants: route('GET', '/api/grants', { answer: json<GrantView[]>() }),
  setGrant: route('PUT', '/api/grants/:image_id/:username', {
    body: jsonBody({ quota: Int(0, 1_000_000), ...OfflineFields }),
    answer: json<GrantView>(),
    timeout: 'cloud',
  }),
  revoke: route('DELETE', '/api/grants/:image_id/:username', { answer: json<GrantView>() }),
  received: route('GET', '/api/received', { answer: json<ReceivedView[]>() }),
  view: route('POST', '/api/received/:owner/:image_id/views', {
    body: EMPTY_BODY,
    answer: json<ApiViewRecord>(201),
  }),
  viewFile: route('POST', '/api/views', {
    body: binaryBody(['image/png']),
    answer: json<ApiViewRecord>(201),
  }),
  /** What a view shows, once, within 60 s of the view (its `image_url`). */
  viewImage: route('GET', '/api/views/:view_id/image', { answer: BYTES }),
  sync: route('POST', '/api/sync', { body: EMPTY_BODY, answer: json<SyncReport>() }),
  shutdown: route('POST', '/api/shutdown', {
    body: EMPTY_BODY,
    answer: json<{ stopping: true }>(202),
  }),
} as const;

// ---- Types derived from the table ----------------------------------------------------------

type Table = typeof API_ROUTES;
export type RouteName = keyof Table;
export const ROUTE_NAMES = Object.keys(API_ROUTES) as RouteName[];

/** The path parameters of a route: strings, checked by ROUTE_PARAMS on the server. */
export type RouteParams<R extends RouteName> = {
  [K in PathParamNames<Table[R]['path']>]: string;
};
/** A route's query, as its client gives it and its handler receives it (null: none). */
export type RouteQuery<R extends RouteName> = Table[R] extends { query: infer Q extends Schema }
  ? Infer<Q>
  : undefined;
/** A route's body: JSON fields, `Binary` (the client's or server's bytes), or none. */
export type RouteBody<R extends RouteName, Binary> = Table[R] extends {
  body: { kind: 'json'; schema: infer S extends Schema };
}
  ? Infer<S>
  : Table[R] extends { body: { kind: 'binary' } }
    ? Binary
    : undefined;
/** A route's answer: the JSON value, `Bytes` (a binary answer), or void (the event stream). */
export type RouteAnswer<R extends RouteName, Bytes> = Table[R]['answer'] extends {
  kind: 'json';
  type?: infer T;
}
  ? T
  : Table[R]['answer'] extends { kind: 'bytes' }
    ? Bytes
    : void;

/** Routes by what their body is. */
export type BinaryBodyRoute = {
  [R in RouteName]: Table[R] extends { body: { kind: 'binary' } } ? R : never;
}[RouteName];
