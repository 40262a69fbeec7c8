/**
 * The agent API's route table: every route has a handler, and what a client builds from the
 * table (URL, query, body) is what the server's matcher finds again, parameters included.
 * (Refusals of bad parameters and bodies over HTTP: api-server.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { PeerAgent } from '../../../src/peer/agent.js';
import { EventStreamHub } from '../../../src/http/event-stream.js';
import { HeldViews, agentHandlers } from '../../../src/peer/api-handlers.js';
import { matchRoute, prepareRoute, routeUrl } from '../../../src/peer/api-route-urls.js';
import {
  API_ROUTES,
  ROUTE_NAMES,
  ROUTE_PARAMS,
  type ParamName,
} from '../../../src/peer/api-routes.js';
import { checker } from '../../../src/protocol/schema.js';

/** A valid value of each parameter, and one that needs percent-encoding (never valid). */
const VALID: Record<ParamName, string> = {
  username: 'bob',
  owner: 'carol-2',
  image_id: 'img_1',
  request_id: '0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60',
  view_id: 'ab'.repeat(16),
};
const AWKWARD = 'a b/c?d%e#f';

function paramsOf(path: string, value: (name: ParamName) => string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [, name] of path.matchAll(/:([a-z_]+)/g))
    params[name as string] = value(name as ParamName);
  return params;
}

describe('the API route table', () => {
  it('has a handler for every route and no handler without a route', () => {
    // The handlers only touch the agent when a request arrives: an empty one is enough here.
    const handlers = agentHandlers({
      agent: {} as PeerAgent,
      hub: new EventStreamHub({ max_clients: 1 }),
      views: new HeldViews(Date.now),
      onShutdown: () => undefined,
    });
    expect(Object.keys(handlers).sort()).toEqual([...ROUTE_NAMES].sort());
  });

  it('gives every path parameter a schema that accepts a valid value', () => {
    for (const name of ROUTE_NAMES)
      for (const param of Object.keys(paramsOf(API_ROUTES[name].path, (p) => p)))
        expect(checker(ROUTE_PARAMS[param as ParamName]).is(VALID[param as ParamName])).toBe(true);
  });

  it('builds URLs the server matches to the same route and parameters', () => {
    for (const name of ROUTE_NAMES) {
      const { method, path } = API_ROUTES[name];
      for (const value of [(p: ParamName) => VALID[p], () => AWKWARD]) {
        const params = paramsOf(path, value);
        const url = new URL(routeUrl(name, params as never), 'http://localhost');
        expect(matchRoute(method, url.pathname), `${name} ${url.pathname}`).toEqual({
          kind: 'route',
          name,
          params,
        });
      }
    }
  });

  it('tells a wrong method from a missing route and bad percent-encoding', () => {
    expect(matchRoute('DELETE', '/api/status')).toEqual({ kind: 'wrong_method' });
    expect(matchRoute('GET', '/api/nothing')).toEqual({ kind: 'no_route' });
    expect(matchRoute('GET', '/api/peers/%E0%A4%A/previews')).toEqual({ kind: 'bad_encoding' });
  });

  it('prepares queries, JSON bodies and binary bodies as the route says', () => {
    const encrypt = prepareRoute('encrypt', {
      query: { title: 'A & B', operation: 'op-1' },
      body: new Uint8Array([1]),
      media_type: 'image/jpeg',
    });
    expect(encrypt).toMatchObject({ method: 'POST', answer: 'json', timeout: 'cloud' });
    const search = new URL(encrypt.url, 'http://localhost').searchParams;
    expect([search.get('title'), search.get('operation')]).toEqual(['A & B', 'op-1']);
    expect(encrypt.body).toEqual({ binary: new Uint8Array([1]), media_type: 'image/jpeg' });

    const requests = prepareRoute('requests', { query: { role: 'requester', status: undefined } });
    expect(requests.url).toBe('/api/requests?role=requester');

    const grant = prepareRoute('setGrant', {
      params: { image_id: 'img_1', username: 'bob' },
      body: { quota: 3 },
    });
    expect(grant).toMatchObject({ method: 'PUT', url: '/api/grants/img_1/bob', timeout: 'cloud' });
    expect(grant.body).toEqual({ json: '{"quota":3}' });

    expect(prepareRoute('preview', { params: { username: 'bob', image_id: 'i' } })).toMatchObject({
      method: 'GET',
      answer: 'bytes',
      timeout: 'quick',
    });
    expect(prepareRoute('revoke', { params: { image_id: 'i', username: 'bob' } }).body).toBe(
      undefined,
    );
  });
});
