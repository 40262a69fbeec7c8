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

  /** One call to the agent; the answer's body, at most `maxBytes` (errors become CloudP2PError). */
  private async call(
    method: string,
    path: string,
    options: {
      json?: unknown;
      bytes?: Uint8Array;
      mediaType?: string;
      timeout_ms?: number;
      maxBytes?: number;
    } = {},
  ): Promise<Uint8Array> {
    const headers: Record<string, string> = { 'x-cloudp2p-token': this.info.token };
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.bytes) {
      headers['content-type'] = options.mediaType ?? 'application/octet-stream';
      body = options.bytes;
    }
    const maxBytes = options.maxBytes ?? MAX_JSON_ANSWER_BYTES;
    let answer: HttpAnswer;
    try {
      answer = await requestBytes(`${this.base}${path}`, {
        method,
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

  private async json<T>(method: string, path: string, json?: unknown): Promise<T> {
    const bytes = await this.call(method, path, json === undefined ? {} : { json });
    return parseJson<T>(bytes);
  }

  private bytes(path: string): Promise<Uint8Array> {
    return this.call('GET', path, { maxBytes: MAX_BINARY_ANSWER_BYTES });
  }

  async status(timeout_ms = 10_000): Promise<AgentStatus> {
    return parseJson(await this.call('GET', '/api/status', { timeout_ms, maxBytes: 1024 * 1024 }));
  }

  peers(): Promise<PeerView[]> {
    return this.json('GET', '/api/peers');
  }
  previews(username: string): Promise<PreviewView[]> {
    return this.json('GET', `/api/peers/${encodeURIComponent(username)}/previews`);
  }
  preview(username: string, imageId: string): Promise<Uint8Array> {
    return this.bytes(
      `/api/peers/${encodeURIComponent(username)}/previews/${encodeURIComponent(imageId)}`,
    );
  }

  encrypt(
    image: Uint8Array,
    title: string,
    onProgress?: (step: string) => void,
  ): Promise<EncryptResult> {
    return this.withProgress(onProgress, async (operation) => {
      const mediaType = image[0] === 0x89 ? 'image/png' : 'image/jpeg';
      return parseJson<EncryptResult>(
        await this.call(
          'POST',
          `/api/images?title=${encodeURIComponent(title)}&operation=${operation}`,
          { bytes: image, mediaType },
        ),
      );
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
    return this.json('GET', '/api/images');
  }
  ownStego(imageId: string): Promise<Uint8Array> {
    return this.bytes(`/api/images/${encodeURIComponent(imageId)}/stego`);
  }
  requests(
    role: 'owner' | 'requester',
    status?: 'pending' | 'accepted' | 'rejected',
  ): Promise<RequestView[]> {
    return this.json('GET', `/api/requests?role=${role}${status ? `&status=${status}` : ''}`);
  }
  request(owner: string, imageId: string, views: number): Promise<RequestCreated> {
    return this.json('POST', '/api/requests', { owner, image_id: imageId, views });
  }
  answer(
    requestId: string,
    decision: 'accepted' | 'rejected',
    offline?: OfflineAllowance,
    onProgress?: (step: string) => void,
  ): Promise<AnswerResult> {
    const verb = decision === 'accepted' ? 'accept' : 'reject';
    return this.withProgress(onProgress, (operation) =>
      this.json(
        'POST',
        `/api/requests/${encodeURIComponent(requestId)}/${verb}?operation=${operation}`,
        offlineBody(offline),
      ),
    );
  }
  grants(): Promise<GrantView[]> {
    return this.json('GET', '/api/grants');
  }
  withdraw(imageId: string, options: { revokeGrants?: boolean } = {}): Promise<WithdrawResult> {
    return this.json('DELETE', `/api/images/${encodeURIComponent(imageId)}`, {
      revoke_grants: options.revokeGrants ?? false,
    });
  }
  setGrant(
    imageId: string,
    username: string,
    quota: number,
    offline?: OfflineAllowance,
  ): Promise<GrantView> {
    return this.json(
      'PUT',
      `/api/grants/${encodeURIComponent(imageId)}/${encodeURIComponent(username)}`,
      { quota, ...offlineBody(offline) },
    );
  }
  revoke(imageId: string, username: string): Promise<GrantView> {
    return this.json(
      'DELETE',
      `/api/grants/${encodeURIComponent(imageId)}/${encodeURIComponent(username)}`,
    );
  }
  received(): Promise<ReceivedView[]> {
    return this.json('GET', '/api/received');
  }
  async view(owner: string, imageId: string): Promise<ViewOutcome> {
    const record = await this.json<ApiViewRecord>(
      'POST',
      `/api/received/${encodeURIComponent(owner)}/${encodeURIComponent(imageId)}/views`,
      {},
    );
    return this.withImage(record);
  }
  async viewFile(bytes: Uint8Array): Promise<ViewOutcome> {
    const record = parseJson<ApiViewRecord>(
      await this.call('POST', '/api/views', { bytes, mediaType: 'image/png' }),
    );
    return this.withImage(record);
  }
  private async withImage(record: ApiViewRecord): Promise<ViewOutcome> {
    const image = await this.bytes(record.image_url);
    const { view_id: _id, image_url: _url, ...plain } = record;
    return { record: plain, image };
  }
  sync(): Promise<SyncReport> {
    return this.json('POST', '/api/sync', {});
  }
  async shutdown(): Promise<void> {
    await this.json('POST', '/api/shutdown', {});
  }

  /** Follows GET /api/events; resolves once the stream is open. */
  async events(onEvent: (event: AgentEvent) => void): Promise<{ close(): void }> {
    const controller = new AbortController();
    const response = await fetch(`${this.base}/api/events`, {
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
function offlineBody(offline: OfflineAllowance | undefined): Record<string, number> {
  return offline ? { offline_views: offline.views, offline_window_ms: offline.window_ms } : {};
}
