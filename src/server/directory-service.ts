/**
 * The directory of service as every server offers it: DirectoryRequest messages from peer agents
 * are authenticated here (registration proof, signed sign-in challenge, signed requests with a
 * recorded nonce) and carried out on the shared DirectoryStore (src/directory). Any server can
 * answer any request; they stay consistent because they share one database.
 */
import type { DecodedMessage } from '../protocol/codec.js';
import type { CloudMessage } from '../protocol/cloud-protocol.js';
import {
  DIRECTORY_OP_TABLE,
  isSignedOp,
  type DirectoryOp,
  type OpArgs,
} from '../protocol/directory-ops.js';
import {
  REQUEST_CLOCK_WINDOW_MS,
  fromHex,
  signedRequestBytes,
  toWire,
  type DirectoryRequestMessage,
  type DirectoryResponseMessage,
  type RequestAuth,
} from '../protocol/directory-protocol.js';
import { describeIssue, parseFirst } from '../protocol/schema.js';
import { verify } from '../identity/keys.js';
import {
  DirectoryError,
  isDirectoryError,
  type DirectoryStore,
  type UserId,
} from '../directory/index.js';
import type { Connection } from '../transport/message-server.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { DIRECTORY_HANDLERS, type OpContext } from './directory-handlers.js';
import type { ExtraMessageHandler } from './runtime.js';

/** Users' public keys never change: cache them (bounded) to verify signatures without a query. */
const KEY_CACHE_LIMIT = 10_000;

/**
 * The op's arguments checked by its schema in the op table, or `invalid_argument` naming the
 * field, what is allowed, and briefly what came instead (never the value: it may be huge).
 */
function parseArgs<Op extends DirectoryOp>(op: Op, args: Record<string, unknown>): OpArgs<Op> {
  const parsed = parseFirst(DIRECTORY_OP_TABLE[op].args, args);
  if (parsed.ok) return parsed.value as OpArgs<Op>;
  const issue = parsed.issue;
  const sent = issue.expected === 'never' ? undefined : issue.input;
  throw new DirectoryError('invalid_argument', `${describeIssue(issue, op)}${gotWhat(sent)}`);
}

function gotWhat(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return `; got a string of ${value.length} characters`;
  if (Array.isArray(value)) return `; got a list of ${value.length}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `; got ${String(value)}`;
  return `; got ${value === null ? 'null' : typeof value}`;
}

export interface DirectoryServiceOptions {
  store: DirectoryStore;
  clusterId: number;
  logger: Logger;
  /** Wall clock (ms since 1970) for the signed-request window; injectable for tests. */
  clock?: () => number;
}

export class DirectoryService implements ExtraMessageHandler {
  private readonly keys = new Map<UserId, Uint8Array>();
  private readonly clock: () => number;
  private sweepTimer: NodeJS.Timeout | null = null;
  readonly counters = { requests: 0, refused: 0, errors: 0 };
  /** Told of every answer: its op and `ok`, the refusal's code, or `directory_failure`. */
  private answered: (op: string, outcome: string) => void = () => undefined;

  constructor(private readonly options: DirectoryServiceOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** Counts answers somewhere (the server's /metrics). */
  onAnswered(listener: (op: string, outcome: string) => void): void {
    this.answered = listener;
  }

  handles(type: string): boolean {
    return type === 'DirectoryRequest';
  }

  /** Periodic housekeeping (expired challenges, nonces, presences); any server may run it. */
  startSweeping(interval_ms = 30_000): void {
    this.sweepTimer = setInterval(() => {
      this.options.store
        .sweep()
        .catch((err: unknown) =>
          this.options.logger.warn('directory sweep failed', { error: errorMessage(err) }),
        );
    }, interval_ms);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.options.store.close();
  }

  handle(connection: Connection<CloudMessage>, decoded: DecodedMessage<CloudMessage>): void {
    const message = decoded.message as DirectoryRequestMessage;
    this.counters.requests++;
    this.execute(message).then(
      (result) => {
        this.answered(message.op, 'ok');
        this.reply(connection, decoded.requestId, {
          type: 'DirectoryResponse',
          ok: true,
          result: toWire(result),
        });
      },
      (err: unknown) => {
        const known = isDirectoryError(err);
        if (known) this.counters.refused++;
        else {
          this.counters.errors++;
          this.options.logger.error('directory request failed', {
            op: message.op,
            error: errorMessage(err),
          });
        }
        const code = known ? err.code : 'directory_failure';
        this.answered(message.op, code);
        const text = known
          ? err.message
          : 'the directory failed to carry out the request; see the server log';
        this.reply(connection, decoded.requestId, {
          type: 'DirectoryResponse',
          ok: false,
          error: { code, message: text },
        });
      },
    );
  }

  /** Carries out one request; throws DirectoryError for anything the caller did wrong. */
  async execute(message: DirectoryRequestMessage): Promise<unknown> {
    const { op } = message;
    const args = parseArgs(op, message.args);
    const base = {
      store: this.options.store,
      clusterId: this.options.clusterId,
      publicKeyOf: (userId: UserId) => this.publicKeyOf(userId),
      rememberKey: (userId: UserId, key: Uint8Array) => this.rememberKey(userId, key),
    };
    const handler = DIRECTORY_HANDLERS[op] as (
      ctx: OpContext<UserId | null>,
      args: OpArgs<typeof op>,
    ) => Promise<unknown>;
    if (!isSignedOp(op)) return handler({ ...base, actor: null }, args);
    if (!message.auth)
      throw new DirectoryError('denied', `${op} must be signed by the acting user`);
    return handler({ ...base, actor: await this.authenticate(message, message.auth) }, args);
  }

  private reply(
    connection: Connection<CloudMessage>,
    requestId: number,
    message: DirectoryResponseMessage,
  ): void {
    if (connection.isOpen) connection.send(message, { requestId });
  }

  /** The user who signed the request, once the signature and its freshness check out. */
  private async authenticate(message: DirectoryRequestMessage, auth: RequestAuth): Promise<UserId> {
    const skew = Math.abs(this.clock() - auth.timestamp_ms);
    if (skew > REQUEST_CLOCK_WINDOW_MS) {
      throw new DirectoryError(
        'denied',
        `the request's timestamp is ${Math.round(skew / 1000)} s away from the server clock (allowed: ${REQUEST_CLOCK_WINDOW_MS / 1000} s); check the clocks`,
      );
    }
    const signature = fromHex(auth.signature, 64);
    const publicKey = await this.publicKeyOf(auth.user_id);
    const signed = signedRequestBytes(this.options.clusterId, message.op, message.args, auth);
    if (!signature || !verify(publicKey, signed, signature))
      throw new DirectoryError('denied', "the request signature does not match the user's key");
    await this.options.store.recordRequestNonce(
      auth.user_id,
      auth.nonce,
      auth.timestamp_ms + REQUEST_CLOCK_WINDOW_MS,
    );
    return auth.user_id;
  }

  private async publicKeyOf(userId: UserId): Promise<Uint8Array> {
    const cached = this.keys.get(userId);
    if (cached) return cached;
    const user = await this.options.store.getUser(userId);
    if (!user) throw new DirectoryError('not_found', `no user ${userId}`);
    this.rememberKey(userId, user.public_key);
    return user.public_key;
  }

  private rememberKey(userId: UserId, key: Uint8Array): void {
    if (this.keys.size >= KEY_CACHE_LIMIT)
      this.keys.delete(this.keys.keys().next().value as UserId);
    this.keys.set(userId, key);
  }
}
