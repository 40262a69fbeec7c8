/**
 * What a request to the agent's API brings, checked against its route in the table
 * (api-routes.ts): path parameters, query and body. Every refusal is a 400 (415, 413 for the
 * body's type and size) that names the field and says what is allowed.
 */
import type { IncomingMessage } from 'node:http';
import { readBody, readJson } from '../http/body.js';
import { ApiError } from '../http/errors.js';
import { describeIssue, parseFirst, type Schema } from '../protocol/schema.js';
import { API_ROUTES, ROUTE_PARAMS, type ParamName, type RouteName } from './api-routes.js';

export interface RouteInput {
  params: Record<string, string>;
  query: unknown;
  body: unknown;
}

/**
 * The route's parameters, query and body, each checked by the table's schema. `maxBinaryBytes`:
 * the largest binary body the route takes (only routes with one).
 */
export async function readRouteInput(
  name: RouteName,
  req: IncomingMessage,
  params: Record<string, string>,
  search: URLSearchParams,
  maxBinaryBytes?: number,
): Promise<RouteInput> {
  checkParams(params);
  const spec = API_ROUTES[name];
  const query = 'query' in spec ? readQuery(spec.query, search) : undefined;
  if (!('body' in spec)) return { params, query, body: undefined };
  const bodySpec = spec.body;
  if (bodySpec.kind === 'binary') {
    requireMediaType(req, bodySpec.media_types);
    return { params, query, body: await readBody(req, maxBinaryBytes ?? 0) };
  }
  const fields = await readJson(req, Object.keys(bodySpec.schema.entries), bodySpec.optional);
  return { params, query, body: checked(bodySpec.schema, fields) };
}

function checkParams(params: Record<string, string>): void {
  for (const [name, value] of Object.entries(params)) {
    // The table's type check lets only named parameters into paths; a stray one is refused.
    const parsed = isParamName(name)
      ? parseFirst(ROUTE_PARAMS[name], value)
      : { ok: false as const, issue: { message: 'not a parameter of this API' } };
    if (!parsed.ok)
      throw new ApiError(
        400,
        'invalid_argument',
        `${name} ${JSON.stringify(value.slice(0, 80))}: ${parsed.issue.message}`,
      );
  }
}

function isParamName(name: string): name is ParamName {
  return Object.hasOwn(ROUTE_PARAMS, name);
}

/** The declared keys of a query, each given at most once; other keys are ignored. */
function readQuery(schema: Schema & { entries: object }, search: URLSearchParams): unknown {
  const given: Record<string, string> = {};
  for (const key of Object.keys(schema.entries)) {
    const values = search.getAll(key);
    if (values.length > 1) throw new ApiError(400, 'invalid_argument', `give ${key} once`);
    if (values[0] !== undefined) given[key] = values[0];
  }
  return checked(schema, given);
}

function checked(schema: Schema, value: unknown): unknown {
  const parsed = parseFirst(schema, value);
  if (!parsed.ok) throw new ApiError(400, 'invalid_argument', describeIssue(parsed.issue));
  return parsed.value;
}

function requireMediaType(req: IncomingMessage, allowed: readonly string[]): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!allowed.includes(type))
    throw new ApiError(
      415,
      'unsupported_media_type',
      `send the image bytes with content-type ${allowed.join(' or ')} (got ${JSON.stringify(type.slice(0, 60))})`,
    );
}
