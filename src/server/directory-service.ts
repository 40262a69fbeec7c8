/**
 * The directory of service as every server offers it: DirectoryRequest messages from peer agents
 * are authenticated here (registration proof, signed sign-in challenge, signed requests with a
 * recorded nonce) and carried out on the shared DirectoryStore (src/directory). Any server can
 * answer any request; they stay consistent because they share one database.
 */
import { verify } from '../identity/keys.js';
import type { DecodedMessage } from '../protocol/codec.js';
import type { CloudMessage } from '../protocol/cloud-protocol.js';
import {
  REQUEST_CLOCK_WINDOW_MS,
  UNSIGNED_OPS,
  fromHex,
  loginProofBytes,
  registrationProofBytes,
  signedRequestBytes,
  toWire,
  type DirectoryOp,
  type DirectoryRequestMessage,
  type DirectoryResponseMessage,
} from '../protocol/directory-protocol.js';
import {
  DirectoryError,
  isDirectoryError,
  type DirectoryStore,
  type UserId,
} from '../directory/index.js';
import type { Connection } from '../transport/message-server.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { ExtraMessageHandler } from './runtime.js';

type Args = Record<string, unknown>;
type Runner = (store: DirectoryStore, actor: UserId | null, args: Args) => Promise<unknown>;

/** Argument rules per op: type of each key; `?` marks optional keys. */
type ArgType = 'string' | 'int' | 'bool' | 'object' | 'int[]';
type ArgSpec = Record<string, ArgType | `${ArgType}?`>;

interface OpSpec {
  args: ArgSpec;
  run: Runner;
}

const MAX_STRING_CHARS = 2000;
const MAX_ARRAY_ITEMS = 500;
/** Users' public keys never change: cache them (bounded) to verify signatures without a query. */
const KEY_CACHE_LIMIT = 10_000;

function bad(message: string): DirectoryError {
  return new DirectoryError('invalid_argument', message);
}

function page(args: Args): { limit?: number; cursor?: string } {
  return {
    ...(args.limit === undefined ? {} : { limit: args.limit as number }),
    ...(args.cursor === undefined ? {} : { cursor: args.cursor as string }),
  };
}

function actorOf(actor: UserId | null): UserId {
  if (actor === null) throw new DirectoryError('denied', 'this request must be signed by a user');
  return actor;
}

const OPS: Record<Exclude<DirectoryOp, 'register' | 'challenge' | 'login'>, OpSpec> = {
  heartbeat: { args: {}, run: (s, a) => s.heartbeat(actorOf(a), actorOf(a)) },
  logout: {
    args: {},
    run: async (s, a) => (await s.goOffline(actorOf(a), actorOf(a)), { ok: true }),
  },
  get_user: {
    args: { user_id: 'string?', username: 'string?' },
    run: async (s, _a, args) => {
      if ((args.user_id === undefined) === (args.username === undefined))
        throw bad('give exactly one of user_id and username');
      const user =
        args.user_id !== undefined
          ? await s.getUser(args.user_id as string)
          : await s.findUserByUsername(args.username as string);
      if (!user)
        throw new DirectoryError('not_found', `no user ${String(args.user_id ?? args.username)}`);
      return user;
    },
  },
  list_online: {
    args: { limit: 'int?', cursor: 'string?' },
    run: (s, _a, args) => s.listOnlineUsers(page(args)),
  },
  offer_image: {
    args: { image_id: 'string', title: 'string', preview: 'object' },
    run: (s, a, args) => {
      const preview = args.preview as Args;
      return s.offerImage(actorOf(a), {
        owner_id: actorOf(a),
        image_id: args.image_id as string,
        title: args.title as string,
        preview: {
          width: preview.width as number,
          height: preview.height as number,
          media_type: preview.media_type as string,
          size_bytes: preview.size_bytes as number,
        },
      });
    },
  },
  withdraw_image: {
    args: { image_id: 'string' },
    run: async (s, a, args) => (
      await s.withdrawImage(actorOf(a), {
        owner_id: actorOf(a),
        image_id: args.image_id as string,
      }),
      { ok: true }
    ),
  },
  list_images: {
    args: { owner_id: 'string?', online_only: 'bool?', limit: 'int?', cursor: 'string?' },
    run: (s, _a, args) =>
      s.listImages({
        ...page(args),
        ...(args.owner_id === undefined ? {} : { owner_id: args.owner_id as string }),
        ...(args.online_only === undefined ? {} : { online_only: args.online_only as boolean }),
      }),
  },
  create_request: {
    args: { owner_id: 'string', image_id: 'string', views: 'int', request_id: 'string?' },
    run: (s, a, args) =>
      s.createRequest(actorOf(a), {
        owner_id: args.owner_id as string,
        image_id: args.image_id as string,
        requester_id: actorOf(a),
        views: args.views as number,
        ...(args.request_id === undefined ? {} : { request_id: args.request_id as string }),
      }),
  },
  answer_request: {
    args: { request_id: 'string', decision: 'string' },
    run: (s, a, args) => {
      if (args.decision !== 'accepted' && args.decision !== 'rejected')
        throw bad('decision must be "accepted" or "rejected"');
      return s.answerRequest(actorOf(a), {
        request_id: args.request_id as string,
        decision: args.decision,
      });
    },
  },
  list_requests: {
    args: { role: 'string', status: 'string?', limit: 'int?', cursor: 'string?' },
    run: (s, a, args) => {
      if (args.role !== 'owner' && args.role !== 'requester')
        throw bad('role must be "owner" or "requester"');
      const status = args.status;
      if (
        status !== undefined &&
        status !== 'pending' &&
        status !== 'accepted' &&
        status !== 'rejected'
      ) {
        throw bad('status must be "pending", "accepted" or "rejected"');
      }
      return s.listRequests(actorOf(a), {
        role: args.role,
        ...(status === undefined ? {} : { status }),
        ...page(args),
      });
    },
  },
  set_grant: {
    args: { image_id: 'string', viewer_id: 'string', quota: 'int', expected_version: 'int?' },
    run: (s, a, args) =>
      s.setGrant(actorOf(a), {
        owner_id: actorOf(a),
        image_id: args.image_id as string,
        viewer_id: args.viewer_id as string,
        quota: args.quota as number,
        ...(args.expected_version === undefined
          ? {}
          : { expected_version: args.expected_version as number }),
      }),
  },
  revoke_grant: {
    args: { image_id: 'string', viewer_id: 'string', expected_version: 'int?' },
    run: (s, a, args) =>
      s.revokeGrant(actorOf(a), {
        owner_id: actorOf(a),
        image_id: args.image_id as string,
        viewer_id: args.viewer_id as string,
        ...(args.expected_version === undefined
          ? {}
          : { expected_version: args.expected_version as number }),
      }),
  },
  list_grants: {
    args: { role: 'string', limit: 'int?', cursor: 'string?' },
    run: (s, a, args) => {
      if (args.role !== 'owner' && args.role !== 'viewer')
        throw bad('role must be "owner" or "viewer"');
      return s.listGrants(actorOf(a), { role: args.role, ...page(args) });
    },
  },
  record_views: {
    args: { owner_id: 'string', image_id: 'string', consumed: 'int' },
    run: (s, a, args) =>
      s.recordViews(actorOf(a), {
        owner_id: args.owner_id as string,
        image_id: args.image_id as string,
        viewer_id: actorOf(a),
        consumed: args.consumed as number,
      }),
  },
  take_updates: {
    args: { limit: 'int?' },
    run: (s, a, args) =>
      s.takeUpdates(
        actorOf(a),
        actorOf(a),
        args.limit === undefined ? {} : { limit: args.limit as number },
      ),
  },
  ack_updates: {
    args: { update_ids: 'int[]' },
    run: async (s, a, args) => ({
      acknowledged: await s.ackUpdates(actorOf(a), actorOf(a), args.update_ids as number[]),
    }),
  },
};

const UNSIGNED_SPECS: Record<'register' | 'challenge' | 'login', ArgSpec> = {
  register: { username: 'string', public_key: 'string', proof: 'string' },
  challenge: { username: 'string' },
  login: {
    user_id: 'string',
    nonce: 'string',
    signature: 'string',
    address: 'string',
    port: 'int',
  },
};

/** What each argument type allows, in words for error messages. */
const EXPECTED: Record<ArgType, string> = {
  string: `a string of at most ${MAX_STRING_CHARS} characters`,
  int: 'an integer',
  bool: 'true or false',
  object: 'an object with at most 16 fields',
  'int[]': `a list of at most ${MAX_ARRAY_ITEMS} integers`,
};

/** What was sent instead, briefly: never the value itself (it may be 5000 characters long). */
function gotWhat(value: unknown): string {
  if (typeof value === 'string') return `; got a string of ${value.length} characters`;
  if (Array.isArray(value)) return `; got a list of ${value.length}`;
  return `; got ${value === null ? 'null' : typeof value}`;
}

/** Checks the args against the op's spec: known keys only, right JSON types, bounded sizes. */
function checkArgs(op: string, spec: ArgSpec, args: Args): void {
  for (const key of Object.keys(args)) {
    if (!(key in spec))
      throw bad(
        `${op}: unknown argument "${key}"; allowed: ${Object.keys(spec).join(', ') || 'none'}`,
      );
  }
  for (const [key, rule] of Object.entries(spec)) {
    const optional = rule.endsWith('?');
    const type = rule.replace('?', '') as ArgType;
    const value = args[key];
    if (value === undefined) {
      if (!optional) throw bad(`${op}: missing argument "${key}"`);
      continue;
    }
    const ok =
      type === 'string'
        ? typeof value === 'string' && value.length <= MAX_STRING_CHARS
        : type === 'int'
          ? typeof value === 'number' && Number.isSafeInteger(value)
          : type === 'bool'
            ? typeof value === 'boolean'
            : type === 'object'
              ? typeof value === 'object' &&
                value !== null &&
                !Array.isArray(value) &&
                Object.keys(value).length <= 16
              : Array.isArray(value) &&
                value.length <= MAX_ARRAY_ITEMS &&
                value.every((v) => typeof v === 'number' && Number.isSafeInteger(v));
    if (!ok) throw bad(`${op}: argument "${key}" must be ${EXPECTED[type]}${gotWhat(value)}`);
  }
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
    const { op, args } = message;
    if (op === 'register' || op === 'challenge' || op === 'login') {
      checkArgs(op, UNSIGNED_SPECS[op], args);
      if (op === 'register') return this.register(args);
      if (op === 'challenge') return this.challenge(args);
      return this.login(args);
    }
    const spec = OPS[op];
    checkArgs(op, spec.args, args);
    const actor = await this.authenticate(message);
    return spec.run(this.options.store, actor, args);
  }

  private reply(
    connection: Connection<CloudMessage>,
    requestId: number,
    message: DirectoryResponseMessage,
  ): void {
    if (connection.isOpen) connection.send(message, { requestId });
  }

  private async register(args: Args): Promise<unknown> {
    const publicKey = fromHex(args.public_key, 32);
    const proof = fromHex(args.proof, 64);
    if (!publicKey)
      throw bad('register: public_key must be 64 lowercase hex characters (an Ed25519 key)');
    if (!proof)
      throw bad('register: proof must be 128 lowercase hex characters (an Ed25519 signature)');
    if (
      !verify(
        publicKey,
        registrationProofBytes(args.username as string, args.public_key as string),
        proof,
      )
    ) {
      throw new DirectoryError(
        'denied',
        'register: the proof is not a signature of the username by this key',
      );
    }
    const user = await this.options.store.registerUser({
      username: args.username as string,
      public_key: publicKey,
    });
    this.rememberKey(user.user_id, user.public_key);
    return user;
  }

  private async challenge(args: Args): Promise<unknown> {
    const user = await this.options.store.findUserByUsername(args.username as string);
    if (!user)
      throw new DirectoryError(
        'not_found',
        `no user named ${String(args.username)}; register first`,
      );
    return this.options.store.createChallenge(user.user_id);
  }

  private async login(args: Args): Promise<unknown> {
    const userId = args.user_id as string;
    const signature = fromHex(args.signature, 64);
    if (!signature) throw bad('login: signature must be 128 lowercase hex characters');
    const publicKey = await this.publicKeyOf(userId);
    if (
      !verify(
        publicKey,
        loginProofBytes(this.options.clusterId, userId, args.nonce as string),
        signature,
      )
    ) {
      throw new DirectoryError(
        'denied',
        "login: the challenge answer is not signed by this user's key",
      );
    }
    // Only after the signature checks out may the nonce be spent (a forgery cannot burn it).
    await this.options.store.consumeChallenge(userId, args.nonce as string);
    await this.options.store.goOnline(userId, {
      user_id: userId,
      address: args.address as string,
      port: args.port as number,
    });
    return this.options.store.heartbeat(userId, userId);
  }

  private async authenticate(message: DirectoryRequestMessage): Promise<UserId | null> {
    if (UNSIGNED_OPS.has(message.op)) return null;
    const auth = message.auth;
    if (!auth)
      throw new DirectoryError('denied', `${message.op} must be signed by the acting user`);
    const skew = Math.abs(this.clock() - auth.timestamp_ms);
    if (skew > REQUEST_CLOCK_WINDOW_MS) {
      throw new DirectoryError(
        'denied',
        `the request's timestamp is ${Math.round(skew / 1000)} s away from the server clock (allowed: ${REQUEST_CLOCK_WINDOW_MS / 1000} s); check the clocks`,
      );
    }
    const signature = fromHex(auth.signature, 64) as Uint8Array;
    const publicKey = await this.publicKeyOf(auth.user_id);
    const signed = signedRequestBytes(this.options.clusterId, message.op, message.args, auth);
    if (!verify(publicKey, signed, signature))
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
