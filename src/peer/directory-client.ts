/**
 * A peer agent's connection to the directory of service. Any server answers directory
 * requests, so the client sends each request to one server and, when that server does not
 * answer in time (dead, silent by the failure simulation, partitioned), to the next one.
 * Requests that act for the user are signed with the user's key (docs/PROTOCOL.md).
 */
import { randomBytes } from 'node:crypto';
import { sign, type Identity } from '../identity/keys.js';
import { createCloudCodec, type CloudMessage } from '../protocol/cloud-protocol.js';
import {
  DIRECTORY_OP_TABLE,
  isSignedOp,
  type DirectoryOp,
  type OpAnswer,
  type OpArgs,
} from '../protocol/directory-ops.js';
import {
  loginProofBytes,
  registrationProofBytes,
  signedRequestBytes,
  toHex,
  type RequestAuth,
} from '../protocol/directory-protocol.js';
import { describeIssue, parseFirst } from '../protocol/schema.js';
import type { Endpoint } from '../transport/endpoint.js';
import { resolveCloudTrust } from '../client/cloud-trust.js';
import { allImmediate, cloudUnreachable, type DialFailure } from '../client/unreachable.js';
import { MessageLink } from '../transport/message-link.js';
import { toErrorCode } from '../util/error-codes.js';
import { INSECURE_PLAINTEXT, type ClientSecurity, type CloudTrust } from '../transport/tls.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';

/** The wire records, as the op table's answer schemas define them. */
export type {
  HeartbeatReply,
  WireGrant,
  WireImage,
  WireOnlineUser,
  WirePresence,
  WireRequest,
  WireUpdate,
  WireUser,
} from '../protocol/directory-ops.js';

/** Directory errors as the agent sees them; `code` is the directory's error code. */
export class DirectoryRequestError extends CloudP2PError {
  constructor(code: string, message: string) {
    super(toErrorCode(code, 'directory_failure'), message);
    this.name = 'DirectoryRequestError';
  }
}

/**
 * No server answered, and at least one may have received the request (it timed out, or its
 * database did not answer in time): a write may or may not have been applied. Writes are safe to
 * send again (idempotent or keyed by an id the caller chose), so a caller may retry with the
 * same arguments. When every server refused the connection at once, the error is a plain
 * `directory_unreachable` instead: then nothing was applied.
 */
export class DirectoryOutcomeUnknown extends CloudP2PError {
  constructor(message: string) {
    super('directory_unreachable', message, ExitCode.unavailable);
    this.name = 'DirectoryOutcomeUnknown';
  }
}

/**
 * An answer that breaks its op's schema. The agent trusts the directory for who is who (it is
 * the cloud's), but a damaged or hostile answer must end in a clear error, never in a crash or
 * in a wrong value stored in the agent's database.
 */
export class BadDirectoryAnswer extends CloudP2PError {
  constructor(what: string, problem: string) {
    super(
      'bad_directory_answer',
      `the directory answered ${what} with ${problem}; refusing it`,
      ExitCode.failure,
    );
  }
}

export interface DirectoryClientOptions {
  servers: Endpoint[];
  clusterId?: number;
  /** Per server attempt; a request tries every server once before failing. */
  requestTimeout_ms?: number;
  /** The cloud's CA or its fingerprint (default: resolveCloudTrust()); requests are signed, so no client certificate. */
  trust?: CloudTrust | typeof INSECURE_PLAINTEXT;
}

const codec = createCloudCodec();

export class DirectoryClient {
  /** Made on first use: an agent may open (and show its state) before it knows the cloud's CA. */
  private linksMade: MessageLink<CloudMessage>[] | null = null;
  private readonly servers: Endpoint[];
  private readonly trust: CloudTrust | typeof INSECURE_PLAINTEXT | undefined;
  private readonly clusterId: number;
  private readonly timeout_ms: number;
  /** The server that answered last: tried first next time. */
  private preferred = 0;
  private identity: { userId: string; keys: Identity } | null = null;

  constructor(options: DirectoryClientOptions) {
    if (options.servers.length === 0)
      throw new CloudP2PError('no_servers', 'no cloud server addresses configured', ExitCode.usage);
    this.clusterId = options.clusterId ?? 1;
    this.timeout_ms = options.requestTimeout_ms ?? 3000;
    this.servers = options.servers;
    this.trust = options.trust;
  }

  private get links(): MessageLink<CloudMessage>[] {
    if (this.linksMade) return this.linksMade;
    const trust = this.trust ?? resolveCloudTrust();
    const security: ClientSecurity =
      trust === INSECURE_PLAINTEXT
        ? { kind: INSECURE_PLAINTEXT }
        : { kind: 'tls', clusterId: this.clusterId, trust, credentials: null };
    this.linksMade = this.servers.map(
      (server) =>
        new MessageLink<CloudMessage>(
          {
            host: server.host,
            port: server.port,
            codec,
            clusterId: this.clusterId,
            limits: { maxBodyBytes: 8 * 1024 * 1024, maxMetaBytes: 8 * 1024 * 1024 },
            security,
            connectTimeout_ms: 1000,
            maxBackoff_ms: 1000,
            failRequestsWhenUnreachable: true,
          },
          { onMessage: () => undefined },
        ),
    );
    return this.linksMade;
  }

  /** The user on whose behalf signed requests are made. */
  actAs(userId: string, keys: Identity): void {
    this.identity = { userId, keys };
  }

  close(): void {
    for (const link of this.linksMade ?? []) link.close();
  }

  // ---- Identity ----------------------------------------------------------------------------

  register(username: string, keys: Identity): Promise<OpAnswer<'register'>> {
    const publicKey = toHex(keys.publicKey);
    const proof = toHex(sign(keys, registrationProofBytes(username, publicKey)));
    return this.call('register', { username, public_key: publicKey, proof });
  }

  /** Challenge-response sign-in; publishes where this agent listens for peers. */
  async login(
    username: string,
    keys: Identity,
    listen: { address: string; port: number },
  ): Promise<{ user_id: string } & OpAnswer<'login'>> {
    const challenge = await this.call('challenge', { username });
    const signature = toHex(
      sign(keys, loginProofBytes(this.clusterId, challenge.user_id, challenge.nonce)),
    );
    const reply = await this.call('login', {
      user_id: challenge.user_id,
      nonce: challenge.nonce,
      signature,
      address: listen.address,
      port: listen.port,
    });
    this.actAs(challenge.user_id, keys);
    return { user_id: challenge.user_id, ...reply };
  }

  // ---- Transport ---------------------------------------------------------------------------

  /**
   * Sends one request, signing it when the op acts for the user; fails over between servers.
   * The answer is checked against the op's answer schema (src/protocol/directory-ops.ts).
   */
  async call<Op extends DirectoryOp>(op: Op, args: OpArgs<Op>): Promise<OpAnswer<Op>> {
    return checkedAnswer(op, await this.send(op, args));
  }

  private async send(op: DirectoryOp, args: Record<string, unknown>): Promise<unknown> {
    const problems: string[] = [];
    const dialFailures: DialFailure[] = [];
    for (let attempt = 0; attempt < this.links.length; attempt++) {
      const index = (this.preferred + attempt) % this.links.length;
      const link = this.links[index] as MessageLink<CloudMessage>;
      // Signed afresh per attempt: a server that died after recording the nonce of the first
      // attempt would otherwise make the retry look like a replay at the next server.
      const auth = isSignedOp(op) ? this.authFor(op, args) : null;
      let reply;
      try {
        reply = await link.request({ type: 'DirectoryRequest', op, args, auth }, this.timeout_ms);
      } catch (err) {
        problems.push(`${link.endpoint}: ${errorMessage(err)}`);
        dialFailures.push({ endpoint: link.endpoint, error: err });
        continue;
      }
      const message = reply.message;
      if (message.type === 'DirectoryResponse') {
        this.preferred = index;
        if (message.ok) return message.result;
        // A server without a directory, or one whose database is down: another may do better.
        if (message.error.code === 'directory_unavailable') {
          problems.push(`${link.endpoint}: ${message.error.message}`);
          continue;
        }
        throw new DirectoryRequestError(message.error.code, message.error.message);
      }
      if (message.type === 'Error') {
        problems.push(`${link.endpoint}: ${message.code}: ${message.message}`);
        continue;
      }
      problems.push(`${link.endpoint}: answered with ${message.type}`);
    }
    if (dialFailures.length === this.links.length && allImmediate(dialFailures))
      throw cloudUnreachable('directory_unreachable', dialFailures);
    throw new DirectoryOutcomeUnknown(
      `no cloud server answered the directory request (${op}): ${problems.join('; ')}`,
    );
  }

  private authFor(op: DirectoryOp, args: Record<string, unknown>): RequestAuth {
    if (!this.identity)
      throw new CloudP2PError(
        'not_signed_in',
        `${op} needs a signed-in user: log in first`,
        ExitCode.usage,
      );
    const unsigned = {
      user_id: this.identity.userId,
      timestamp_ms: Date.now(),
      nonce: randomBytes(32).toString('hex'),
    };
    const signature = toHex(
      sign(this.identity.keys, signedRequestBytes(this.clusterId, op, args, unsigned)),
    );
    return { ...unsigned, signature };
  }
}

/** The answer typed by its op's schema, or BadDirectoryAnswer naming the field. */
function checkedAnswer<Op extends DirectoryOp>(op: Op, answer: unknown): OpAnswer<Op> {
  const parsed = parseFirst(DIRECTORY_OP_TABLE[op].answer, answer);
  if (!parsed.ok) throw new BadDirectoryAnswer(op, describeIssue(parsed.issue, 'the answer'));
  return parsed.value as OpAnswer<Op>;
}
