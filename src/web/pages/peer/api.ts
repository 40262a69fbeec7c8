/**
 * The page's client of its own server: the one-time link → token trade, `/ui/...` (session,
 * register, sign in/out) and the agent's `/api/...`, whose requests are built from the API's
 * route table (src/peer/api-routes.ts) as the CLI's are. Every failure becomes an
 * {@link ApiProblem} whose words come from model.ts.
 */
import { routeCaller } from '../../../peer/api-route-urls.js';
import { ROUTE_PARAMS, type RequestRole, type TimeoutClass } from '../../../peer/api-routes.js';
import { checker } from '../../../protocol/schema.js';
import type {
  AgentStatus,
  AnswerResult,
  ApiViewRecord,
  EncryptResult,
  GrantView,
  OwnImageView,
  PeerView,
  ReceivedView,
  RequestCreated,
  RequestView,
  WithdrawResult,
} from '../../../peer/api-types.js';
import type { UiSession, UiTicketGranted } from '../../../peer/ui-types.js';
import { explainProblem, type Problem } from './model.js';

/** The token lives in this tab's sessionStorage: a reload keeps it, other tabs need a link. */
const TOKEN_KEY = 'cloudp2p-peer-token';
/** Requests that should answer quickly; uploads and accepts (which run the cloud) get longer. */
const QUICK_TIMEOUT_MS = 30_000;
const CLOUD_TIMEOUT_MS = 300_000;
const TIMEOUT_MS: Record<TimeoutClass, number> = {
  quick: QUICK_TIMEOUT_MS,
  cloud: CLOUD_TIMEOUT_MS,
};
const isViewId = checker(ROUTE_PARAMS.view_id).is;

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail}`);
  }
}

export function savedToken(): string | null {
  try {
    const token = window.sessionStorage.getItem(TOKEN_KEY);
    return token && /^[0-9a-f]{64}$/.test(token) ? token : null;
  } catch {
    return null; // storage disabled: the link must be opened again after a reload
  }
}

function saveToken(token: string | null): void {
  try {
    if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
    else window.sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: works until the tab is reloaded
  }
}

/** Trades the link's one-time code for the API token (and keeps it for this tab). */
export async function redeemTicket(ticket: string): Promise<string> {
  const response = await send('POST', '/ui/ticket', null, {
    json: JSON.stringify({ ticket }),
    timeout_ms: QUICK_TIMEOUT_MS,
  });
  const { token } = (await response.json()) as UiTicketGranted;
  if (typeof token !== 'string' || !/^[0-9a-f]{64}$/.test(token))
    throw new ApiProblem(explainProblem(500, 'bad_answer', 'the page got no valid token'));
  saveToken(token);
  return token;
}

export function forgetToken(): void {
  saveToken(null);
}

async function send(
  method: string,
  path: string,
  token: string | null,
  /** `json`: the body as JSON text; `body`: bytes of type `media_type` (else the blob's type). */
  options: { json?: string; body?: Blob; media_type?: string; timeout_ms?: number } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers['x-cloudp2p-token'] = token;
  let body: string | Blob | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.json;
  } else if (options.body) {
    headers['content-type'] = options.media_type ?? options.body.type;
    body = options.body;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      cache: 'no-store',
      signal: AbortSignal.timeout(options.timeout_ms ?? QUICK_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
    throw new ApiProblem(
      timedOut
        ? explainProblem(504, 'timeout', 'the agent took too long to answer')
        : explainProblem(0, 'unreachable', ''),
    );
  }
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = '';
    try {
      const error = ((await response.json()) as { error?: { code?: unknown; message?: unknown } })
        .error;
      if (typeof error?.code === 'string') code = error.code;
      if (typeof error?.message === 'string') message = error.message.slice(0, 1000);
    } catch {
      message = `the agent answered ${response.status} ${response.statusText}`;
    }
    throw new ApiProblem(explainProblem(response.status, code, message));
  }
  return response;
}

/** The API, for a page that holds the token. */
export class PeerApi {
  constructor(readonly token: string) {}

  /** `/ui/...` (not the agent's API table): a JSON call. */
  private async json<T>(
    method: string,
    path: string,
    json?: unknown,
    timeout_ms = QUICK_TIMEOUT_MS,
  ): Promise<T> {
    const response = await send(method, path, this.token, {
      ...(json === undefined ? {} : { json: JSON.stringify(json) }),
      timeout_ms,
    });
    return (await response.json()) as T;
  }

  /** An `/api/...` route of the table by name, with the table's timeout class. */
  private readonly call = routeCaller<Blob, Blob>(async (request) => {
    const body = request.body;
    const response = await send(request.method, request.url, this.token, {
      ...(body === undefined
        ? {}
        : 'json' in body
          ? { json: body.json }
          : { body: body.binary, media_type: body.media_type }),
      timeout_ms: TIMEOUT_MS[request.timeout],
    });
    return request.answer === 'bytes' ? response.blob() : response.json();
  });

  /**
   * The token goes in a header, never in a URL (URLs end up in history, logs and Referer
   * headers): the event stream is read with fetch() (LiveStream `headers`), and images are
   * fetched and shown from a blob URL (`ApiImage`).
   */
  get headers(): Record<string, string> {
    return { 'x-cloudp2p-token': this.token };
  }

  /** An image from the API (a preview), as a blob: URL the caller revokes when done. */
  async imageUrl(path: string): Promise<string> {
    const response = await send('GET', path, this.token);
    return URL.createObjectURL(await response.blob());
  }

  /** Saves a file from the API (the encrypted PNG) through a blob: URL, not a tokened link. */
  async download(path: string, filename: string): Promise<void> {
    const url = await this.imageUrl(path);
    const link = document.createElement('a');
    link.href = url;
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    // The browser has started the download by now; free the blob a little later.
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  session(): Promise<UiSession> {
    return this.json('GET', '/ui/session');
  }
  register(username: string): Promise<UiSession> {
    return this.json('POST', '/ui/register', { username }, CLOUD_TIMEOUT_MS);
  }
  signIn(): Promise<UiSession> {
    return this.json('POST', '/ui/sign-in', {}, CLOUD_TIMEOUT_MS);
  }
  signOut(): Promise<UiSession> {
    return this.json('POST', '/ui/sign-out', {}, CLOUD_TIMEOUT_MS);
  }
  quit(): Promise<unknown> {
    return this.json('POST', '/ui/quit', {});
  }

  status(): Promise<AgentStatus> {
    return this.call('status');
  }
  peers(): Promise<PeerView[]> {
    return this.call('peers');
  }
  ownImages(): Promise<OwnImageView[]> {
    return this.call('ownImages');
  }
  encrypt(file: Blob, title: string, operation: string): Promise<EncryptResult> {
    return this.call('encrypt', { query: { title, operation }, body: file, media_type: file.type });
  }
  /** Stops offering an image (and, with `revokeGrants`, takes back every viewer's access). */
  withdraw(imageId: string, revokeGrants: boolean): Promise<WithdrawResult> {
    return this.call('withdraw', {
      params: { image_id: imageId },
      body: revokeGrants ? { revoke_grants: true } : {},
    });
  }
  requests(role: RequestRole): Promise<RequestView[]> {
    return this.call('requests', { query: { role } });
  }
  request(owner: string, imageId: string, views: number): Promise<RequestCreated> {
    return this.call('request', { body: { owner, image_id: imageId, views } });
  }
  /** `offlineViews`: the offline allowance signed into the copy an accept makes (default 1). */
  answer(
    requestId: string,
    decision: 'accept' | 'reject',
    offlineViews?: number,
  ): Promise<AnswerResult> {
    const params = { request_id: requestId };
    return decision === 'accept'
      ? this.call('accept', {
          params,
          body: offlineViews === undefined ? {} : { offline_views: offlineViews },
        })
      : this.call('reject', { params, body: {} });
  }
  /** `offlineViews` only for a new viewer: an allowance is signed into the copy when it is made. */
  setGrant(
    imageId: string,
    viewer: string,
    quota: number,
    offlineViews?: number,
  ): Promise<GrantView> {
    return this.call('setGrant', {
      params: { image_id: imageId, username: viewer },
      body: offlineViews === undefined ? { quota } : { quota, offline_views: offlineViews },
    });
  }
  revoke(imageId: string, viewer: string): Promise<GrantView> {
    return this.call('revoke', { params: { image_id: imageId, username: viewer } });
  }
  received(): Promise<ReceivedView[]> {
    return this.call('received');
  }
  view(owner: string, imageId: string): Promise<ApiViewRecord> {
    return this.call('view', { params: { owner, image_id: imageId }, body: {} });
  }
  /** The picture a view shows (it can be fetched once). */
  async viewImage(record: ApiViewRecord): Promise<Blob> {
    if (!isViewId(record.view_id))
      throw new ApiProblem(explainProblem(500, 'bad_answer', 'the view has no image address'));
    return this.call('viewImage', { params: { view_id: record.view_id } });
  }
}
