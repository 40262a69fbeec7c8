/**
 * The API table's paths both ways: clients build a route's URL and request from its name
 * (`routeUrl`, `prepareRoute`), and the server finds the route and its parameters from a
 * method and path (`matchRoute`). One file, so what a client sends is what the server matches.
 * Pure and browser-safe: the web page imports it.
 */
import {
  API_ROUTES,
  ROUTE_NAMES,
  type Method,
  type RouteAnswer,
  type RouteBody,
  type RouteName,
  type RouteParams,
  type RouteQuery,
  type RouteSpec,
  type TimeoutClass,
} from './api-routes.js';

/** A route's URL path with its parameters percent-encoded, and its query (keys left out: none). */
export function routeUrl<R extends RouteName>(
  name: R,
  params: RouteParams<R>,
  query?: RouteQuery<R>,
): string {
  return fillRoute(name, params, query);
}

/** The table's path with `params` put in, and the query's keys that have a value. */
function fillRoute(name: RouteName, params: Record<string, string>, query: unknown): string {
  const path = API_ROUTES[name].path.replace(/:([a-z_]+)/g, (_, param: string) => {
    const value = params[param];
    if (value === undefined) throw new Error(`routeUrl(${name}): no value for :${param}`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(typeof query === 'object' && query ? query : {}))
    if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** What a client gives to call a route; `params`, `query` and `body` only where it has them. */
export type RouteCall<R extends RouteName, Binary> = ([keyof RouteParams<R>] extends [never]
  ? { params?: RouteParams<R> }
  : { params: RouteParams<R> }) &
  (RouteQuery<R> extends undefined ? { query?: undefined } : { query?: RouteQuery<R> }) &
  (RouteBody<R, Binary> extends undefined
    ? { body?: undefined }
    : { body: RouteBody<R, Binary> }) & {
    /** The media type of a binary body (one of the route's). */
    media_type?: string;
  };

/** The arguments after a route's name: none needed when the route takes nothing. */
export type RouteCallArgs<R extends RouteName, Binary> =
  object extends RouteCall<R, Binary>
    ? [call?: RouteCall<R, Binary>]
    : [call: RouteCall<R, Binary>];

/**
 * A client's call of a route by name, typed by the table: what it takes (`Binary`: the
 * client's bytes) and what it answers (`Bytes`: a binary answer as the client holds it).
 */
export type CallRoute<Binary, Bytes> = <R extends RouteName>(
  name: R,
  ...args: RouteCallArgs<R, Binary>
) => Promise<RouteAnswer<R, Bytes>>;

/**
 * A client's `CallRoute` from its transport: `send` carries a prepared request and returns its
 * answer read as the route says (`request.answer`: parsed JSON, or the bytes).
 */
export function routeCaller<Binary, Bytes>(
  send: (request: PreparedRequest<Binary>) => Promise<unknown>,
): CallRoute<Binary, Bytes> {
  return async <R extends RouteName>(name: R, ...args: RouteCallArgs<R, Binary>) =>
    // The answer's type is the table's for this route: the agent is the user's own program.
    (await send(prepareRoute<R, Binary>(name, ...args))) as RouteAnswer<R, Bytes>;
}

/** A request ready for a transport (node:http or fetch). */
export interface PreparedRequest<Binary> {
  method: Method;
  url: string;
  /** Absent: send no body. */
  body?: { json: string } | { binary: Binary; media_type: string };
  answer: RouteSpec['answer']['kind'];
  timeout: TimeoutClass;
}

export function prepareRoute<R extends RouteName, Binary>(
  name: R,
  ...[call]: RouteCallArgs<R, Binary>
): PreparedRequest<Binary> {
  const spec: RouteSpec = API_ROUTES[name];
  const prepared: PreparedRequest<Binary> = {
    method: spec.method,
    url: fillRoute(name, call?.params ?? {}, call?.query),
    answer: spec.answer.kind,
    timeout: spec.timeout ?? 'quick',
  };
  const body: unknown = call?.body;
  if (body === undefined) return prepared;
  if (spec.body?.kind === 'binary')
    return {
      ...prepared,
      body: {
        binary: body as Binary,
        media_type: call?.media_type ?? spec.body.media_types[0] ?? 'application/octet-stream',
      },
    };
  return { ...prepared, body: { json: JSON.stringify(body) } };
}

// ---- The server's side ---------------------------------------------------------------------

export type RouteMatch =
  | { kind: 'route'; name: RouteName; params: Record<string, string> }
  /** The path is a route's, the method is not. */
  | { kind: 'wrong_method' }
  | { kind: 'no_route' }
  | { kind: 'bad_encoding' };

const SEGMENTS = ROUTE_NAMES.map((name) => ({
  name,
  method: API_ROUTES[name].method,
  segments: API_ROUTES[name].path.split('/').filter(Boolean),
}));

/** The route a method and path name, with its parameters decoded (not yet checked). */
export function matchRoute(method: string, pathname: string): RouteMatch {
  let parts: string[];
  try {
    parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { kind: 'bad_encoding' };
  }
  let pathMatched = false;
  for (const route of SEGMENTS) {
    if (route.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const same = route.segments.every((want, i) => {
      const part = parts[i] ?? '';
      if (!want.startsWith(':')) return want === part;
      params[want.slice(1)] = part;
      return true;
    });
    if (!same) continue;
    pathMatched = true;
    if (route.method === method) return { kind: 'route', name: route.name, params };
  }
  return { kind: pathMatched ? 'wrong_method' : 'no_route' };
}
