/**
 * The CLI's side of the agent API: finds the agent running on a data directory (agent.json,
 * a live pid, a token that works) and carries out the use cases through its HTTP API.
 * Errors come back with the agent's code and exit code, so a command exits the same way
 * whether it ran in the agent or one-shot.
 */
import { randomBytes } from 'node:crypto';
import { HttpRequestError, requestBytes, type HttpAnswer } from '../http/request.js';
import { toErrorCode } from '../util/error-codes.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { prepareRoute, routeCaller, routeUrl, type PreparedRequest } from './api-route-urls.js';
import type { RequestRole, RequestStatus } from './api-routes.js';
import { ENCRYPT_DONE_STEP } from './api-types.js';
import type {
  OfflineAllowance,
  AgentEvent,
  AgentStatus,
  AnswerResult,
  ApiViewRecord,
  EncryptResult,
  GrantView,
  OwnImageView,
  PeerView,
  PreviewView,
  ReceivedView,
  RequestCreated,
  RequestView,
  SyncReport,
  WithdrawResult,
} from './api-types.js';
import { processAlive, type DataDir, type RunningAgentInfo } from './data-dir.js';
import type { AgentOps, ViewOutcome } from './ops.js';

const MAX_JSON_ANSWER_BYTES = 16 * 1024 * 1024;
const MAX_BINARY_ANSWER_BYTES = 64 * 1024 * 1024;

/** The running agent of `dataDir`, or null when none answers (stale agent.json included). */
export async function findRunningAgent(dataDir: DataDir): Promise<ApiAgentClient | null> {
  const info = dataDir.readAgentInfo();
  if (!info || !processAlive(info.pid)) return null;
  const client = new ApiAgentClient(info);
  try {
    await client.status(1500);
    return client;
  } catch {
    return null;
  }
}

export class ApiAgentClient implements AgentOps {
  private readonly base: string;

  constructor(private readonly info: Pick<RunningAgentInfo, 'api' | 'token'>) {
    const host = info.api.host.includes(':') ? `[${info.api.host}]` : info.api.host;
    this.base = `http://${host}:${info.api.port}`;
  }

  /**
   * One call to the agent; the answer's body, at most `maxBytes` (errors become CloudP2PError).
   * Every call may take 300 s (the table's timeout classes are the page's): a command has
   * nothing else to do meanwhile, and an encryption under failover takes long.
   */
  private async send(
    request: PreparedRequest<Uint8Array>,
    options: { timeout_ms?: number; maxBytes?: number } = {},
  ): Promise<Uint8Array> {
    const headers: Record<string, string> = { 'x-cloudp2p-token': this.info.token };
    let body: string | Uint8Array | undefined;
    if (request.body && 'json' in request.body) {
      headers['content-type'] = 'application/json';
      body = request.body.json;
    } else if (request.body) {
      headers['content-type'] = request.body.media_type;
      body = request.body.binary;
    }
    const maxBytes =
      options.maxBytes ??
      (request.answer === 'bytes' ? MAX_BINARY_ANSWER_BYTES : MAX_JSON_ANSWER_BYTES);
    let answer: HttpAnswer;
    try {
      answer = await requestBytes(`${this.base}${request.url}`, {
        method: request.method,
        headers,
        ...(body === undefined ? {} : { body }),
        timeout_ms: options.timeout_ms ?? 300_000,
        maxBytes,
      });
    } catch (err) {
      if (err instanceof HttpRequestError && err.kind === 'too_large')
        throw new CloudP2PError(
          'agent_answer_too_large',
          `the agent answered too much: ${err.message}`,
          ExitCode.failure,
        );
      throw new CloudP2PError(
        'agent_unreachable',
        `the running agent at ${this.base} did not answer: ${errorMessage(err)}`,
        ExitCode.unavailable,
      );
    }
    if (answer.status < 200 || answer.status > 299) {
      let error: { code?: unknown; message?: unknown; exit_code?: unknown } = {};
      try {
        const parsed = JSON.parse(Buffer.from(answer.body).toString('utf8')) as {
          error?: typeof error;
        };
        error = parsed.error ?? {};
      } catch {
        // not JSON: use the status line
      }
      const exit =
        typeof error.exit_code === 'number' &&
        Object.values(ExitCode).includes(error.exit_code as never)
          ? (error.exit_code as (typeof ExitCode)[keyof typeof ExitCode])
          : ExitCode.failure;
      throw new CloudP2PError(
        toErrorCode(typeof error.code === 'string' ? error.code : '', 'internal'),
        typeof error.message === 'string'
          ? error.message.slice(0, 2000)
          : `the agent answered ${answer.status} ${answer.statusText}`,
        exit,
      );
    }
    return answer.body;
  }

  /** A route of the table by name: its request built from the table, its answer typed by it. */
  private readonly call = routeCaller<Uint8Array, Uint8Array>(async (request) => {
    const body = await this.send(request);
    return request.answer === 'bytes' ? body : parseJson(body);
  });

  async status(timeout_ms = 10_000): Promise<AgentStatus> {
    return parseJson(
      await this.send(prepareRoute('status'), { timeout_ms, maxBytes: 1024 * 1024 }),
    );
  }

  peers(): Promise<PeerView[]> {
    return this.call('peers');
  }
  previews(username: string): Promise<PreviewView[]> {
    return this.call('previews', { params: { username } });
  }
  preview(username: string, imageId: string): Promise<Uint8Array> {
    return this.call('preview', { params: { username, image_id: imageId } });
  }

  encrypt(
    image: Uint8Array,
    title: string,
    onProgress?: (step: string) => void,
  ): Promise<EncryptResult> {
    return this.withProgress(onProgress, async (operation) => {
      const media_type = image[0] === 0x89 ? 'image/png' : 'image/jpeg';
      return this.call('encrypt', { query: { title, operation }, body: image, media_type });
    });
  }

  /**
   * Runs a call that names an operation and follows that operation's `encrypt-progress`
   * events on the agent's event stream (only when someone listens).
   */
  private async withProgress<T>(
    onProgress: ((step: string) => void) | undefined,
    call: (operation: string) => Promise<T>,
  ): Promise<T> {
    const operation = randomBytes(8).toString('hex');
    let sawLast: () => void = () => undefined;
    const last = new Promise<void>((resolve) => (sawLast = resolve));
    const stream = onProgress
      ? await this.events((event) => {
          if (event.type !== 'encrypt-progress' || event.operation !== operation) return;
          if (event.step === ENCRYPT_DONE_STEP) sawLast();
          else onProgress(event.step);
        })
      : null;
    try {
      const result = await call(operation);
      // The answer and the event stream travel on different connections: let the last
      // progress lines arrive before closing the stream.
      if (stream) await Promise.race([last, new Promise((resolve) => setTimeout(resolve, 2000))]);
      return result;
    } finally {
      stream?.close();
    }
  }

  ownImages(): Promise<OwnImageView[]> {
    return this.call('ownImages');
  }
  ownStego(imageId: string): Promise<Uint8Array> {
    return this.call('ownStego', { params: { image_id: imageId } });
  }
  requests(role: RequestRole, status?: RequestStatus): Promise<RequestView[]> {
    return this.call('requests', { query: { role, status } });
  }
  request(owner: string, imageId: string, views: number): Promise<RequestCreated> {
    return this.call('request', { body: { owner, image_id: imageId, views } });
  }
  answer(
    requestId: string,
    decision: 'accepted' | 'rejected',
    offline?: OfflineAllowance,
    onProgress?: (step: string) => void,
  ): Promise<AnswerResult> {
    const params = { request_id: requestId };
    return this.withProgress(onProgress, (operation) =>
      decision === 'accepted'
        ? this.call('accept', { params, query: { operation }, body: offlineBody(offline) })
        : this.call('reject', { params, query: { operation }, body: {} }),
    );
  }
  grants(): Promise<GrantView[]> {
    return this.call('grants');
  }
  withdraw(imageId: string, options: { revokeGrants?: boolean } = {}): Promise<WithdrawResult> {
    return this.call('withdraw', {
      params: { image_id: imageId },
      body: { revoke_grants: options.revokeGrants ?? false },
    });
  }
  setGrant(
    imageId: string,
    username: string,
    quota: number,
    offline?: OfflineAllowance,
  ): Promise<GrantView> {
    return this.call('setGrant', {
      params: { image_id: imageId, username },
      body: { quota, ...offlineBody(offline) },
    });
  }
  revoke(imageId: string, username: string): Promise<GrantView> {
    return this.call('revoke', { params: { image_id: imageId, username } });
  }
  received(): Promise<ReceivedView[]> {
    return this.call('received');
  }
  async view(owner: string, imageId: string): Promise<ViewOutcome> {
    const params = { owner, image_id: imageId };
    return this.withImage(await this.call('view', { params, body: {} }));
  }
  async viewFile(bytes: Uint8Array): Promise<ViewOutcome> {
    return this.withImage(await this.call('viewFile', { body: bytes, media_type: 'image/png' }));
  }
  private async withImage(record: ApiViewRecord): Promise<ViewOutcome> {
    const image = await this.call('viewImage', { params: { view_id: record.view_id } });
    const { view_id: _id, image_url: _url, ...plain } = record;
    return { record: plain, image };
  }
  sync(): Promise<SyncReport> {
    return this.call('sync', { body: {} });
  }
  async shutdown(): Promise<void> {
    await this.call('shutdown', { body: {} });
  }

  /** Follows GET /api/events; resolves once the stream is open. */
  async events(onEvent: (event: AgentEvent) => void): Promise<{ close(): void }> {
    const controller = new AbortController();
    const response = await fetch(`${this.base}${routeUrl('events', {})}`, {
      headers: { 'x-cloudp2p-token': this.info.token },
      signal: controller.signal,
    });
    if (!response.ok || !response.body)
      throw new CloudP2PError(
        'agent_events',
        `the agent's event stream answered ${response.status}`,
        ExitCode.failure,
      );
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          if (buffer.length > 1024 * 1024) buffer = buffer.slice(-64 * 1024);
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split('\n').find((line) => line.startsWith('data: '));
            if (!data) continue;
            try {
              onEvent(JSON.parse(data.slice(6)) as AgentEvent);
            } catch {
              // a malformed event is skipped
            }
          }
        }
      } catch {
        // closed
      }
    })();
    return { close: () => controller.abort() };
  }
}

/** The agent's JSON answer (its shape is the table's: the agent is this user's own program). */
function parseJson<T>(bytes: Uint8Array): T {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch {
    throw new CloudP2PError(
      'agent_bad_answer',
      'the agent answered something that is not JSON',
      ExitCode.failure,
    );
  }
}

/** The allowance as the API's body fields (none: the agent's default). */
function offlineBody(offline: OfflineAllowance | undefined): {
  offline_views?: number;
  offline_window_ms?: number;
} {
  return offline ? { offline_views: offline.views, offline_window_ms: offline.window_ms } : {};
}
