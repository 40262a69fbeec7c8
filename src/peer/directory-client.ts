/**
 * A peer agent's connection to the directory of service. Any server answers directory
 * requests, so the client sends each request to one server and, when that server does not
 * answer in time (dead, silent by the failure simulation, partitioned), to the next one.
 * Requests that act for the user are signed with the user's key (docs/PROTOCOL.md).
 */
import { randomBytes } from 'node:crypto';
import type { Page, PageRequest } from '../directory/index.js';
import { sign, type Identity } from '../identity/keys.js';
import { createCloudCodec, type CloudMessage } from '../protocol/cloud-protocol.js';
import {
  UNSIGNED_OPS,
  loginProofBytes,
  registrationProofBytes,
  signedRequestBytes,
  toHex,
  type DirectoryOp,
  type RequestAuth,
} from '../protocol/directory-protocol.js';
import type { Endpoint } from '../transport/endpoint.js';
import { resolveCloudTrust } from '../client/cloud-trust.js';
import { allImmediate, cloudUnreachable, type DialFailure } from '../client/unreachable.js';
import { MessageLink } from '../transport/message-link.js';
import { toErrorCode } from '../util/error-codes.js';
import { INSECURE_PLAINTEXT, type ClientSecurity, type CloudTrust } from '../transport/tls.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';

/** Directory errors as the agent sees them; `code` is the directory's error code. */
export class DirectoryRequestError extends CloudP2PError {
  constructor(code: string, message: string) {
    super(toErrorCode(code, 'directory_failure'), message);
    this.name = 'DirectoryRequestError';
  }
}

/** Wire shapes (keys as hex); see src/directory/store.ts for field meanings. */
export interface WireUser {
  user_id: string;
  username: string;
  public_key: string;
  created_at_ms: number;
}
export interface WireOnlineUser {
  user_id: string;
  username: string;
  public_key: string;
  address: string;
  port: number;
  last_seen_at_ms: number;
}
export interface WireImage {
  owner_id: string;
  owner_username: string;
  image_id: string;
  title: string;
  preview: { width: number; height: number; media_type: string; size_bytes: number };
  created_at_ms: number;
  updated_at_ms: number;
}
export interface WireRequest {
  request_id: string;
  owner_id: string;
  image_id: string;
  requester_id: string;
  requester_username: string;
  owner_username: string;
  views: number;
  kind: 'access' | 'more_views';
  status: 'pending' | 'accepted' | 'rejected';
  created_at_ms: number;
  answered_at_ms: number | null;
}
export interface WireGrant {
  owner_id: string;
  image_id: string;
  viewer_id: string;
  owner_username: string;
  viewer_username: string;
  quota: number;
  version: number;
  revoked: boolean;
  created_at_ms: number;
  updated_at_ms: number;
}
export type WireUpdate = { update_id: number; recipient_id: string; created_at_ms: number } & (
  | { kind: 'request_created'; request: WireRequest }
  | { kind: 'request_answered'; request: WireRequest; grant?: WireGrant }
  | { kind: 'grant_updated'; grant: WireGrant }
  | { kind: 'grant_revoked'; grant: WireGrant }
);
export interface WirePresence {
  user_id: string;
  username: string;
  online: boolean;
  address: string | null;
  port: number | null;
  last_seen_at_ms: number | null;
}
export interface HeartbeatReply {
  presence: WirePresence;
  pending_updates: number;
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

  register(username: string, keys: Identity): Promise<WireUser> {
    const publicKey = toHex(keys.publicKey);
    const proof = toHex(sign(keys, registrationProofBytes(username, publicKey)));
    return this.call('register', { username, public_key: publicKey, proof }) as Promise<WireUser>;
  }

  /** Challenge-response sign-in; publishes where this agent listens for peers. */
  async login(
    username: string,
    keys: Identity,
    listen: { address: string; port: number },
  ): Promise<{ user_id: string } & HeartbeatReply> {
    const challenge = (await this.call('challenge', { username })) as {
      user_id: string;
      nonce: string;
    };
    const signature = toHex(
      sign(keys, loginProofBytes(this.clusterId, challenge.user_id, challenge.nonce)),
    );
    const reply = (await this.call('login', {
      user_id: challenge.user_id,
      nonce: challenge.nonce,
      signature,
      address: listen.address,
      port: listen.port,
    })) as HeartbeatReply;
    this.actAs(challenge.user_id, keys);
    return { user_id: challenge.user_id, ...reply };
  }

  heartbeat(): Promise<HeartbeatReply> {
    return this.call('heartbeat', {}) as Promise<HeartbeatReply>;
  }

  logout(): Promise<unknown> {
    return this.call('logout', {});
  }

  getUser(query: { user_id: string } | { username: string }): Promise<WireUser> {
    return this.call('get_user', query) as Promise<WireUser>;
  }

  // ---- Discovery -----------------------------------------------------------------------------

  listOnline(page: PageRequest = {}): Promise<Page<WireOnlineUser>> {
    return this.call('list_online', { ...page }) as Promise<Page<WireOnlineUser>>;
  }

  offerImage(offer: {
    image_id: string;
    title: string;
    preview: WireImage['preview'];
  }): Promise<WireImage> {
    return this.call('offer_image', offer) as Promise<WireImage>;
  }

  withdrawImage(image_id: string): Promise<unknown> {
    return this.call('withdraw_image', { image_id });
  }

  listImages(
    query: { owner_id?: string; online_only?: boolean } & PageRequest = {},
  ): Promise<Page<WireImage>> {
    return this.call('list_images', { ...query }) as Promise<Page<WireImage>>;
  }

  // ---- Requests and grants -----------------------------------------------------------------

  createRequest(request: {
    owner_id: string;
    image_id: string;
    views: number;
    request_id?: string;
  }): Promise<WireRequest> {
    return this.call('create_request', { ...request }) as Promise<WireRequest>;
  }

  answerRequest(
    request_id: string,
    decision: 'accepted' | 'rejected',
  ): Promise<{ request: WireRequest; grant?: WireGrant }> {
    return this.call('answer_request', { request_id, decision }) as Promise<{
      request: WireRequest;
      grant?: WireGrant;
    }>;
  }

  listRequests(
    query: {
      role: 'owner' | 'requester';
      status?: 'pending' | 'accepted' | 'rejected';
    } & PageRequest,
  ): Promise<Page<WireRequest>> {
    return this.call('list_requests', { ...query }) as Promise<Page<WireRequest>>;
  }

  setGrant(grant: {
    image_id: string;
    viewer_id: string;
    quota: number;
    expected_version?: number;
  }): Promise<WireGrant> {
    return this.call('set_grant', { ...grant }) as Promise<WireGrant>;
  }

  revokeGrant(grant: {
    image_id: string;
    viewer_id: string;
    expected_version?: number;
  }): Promise<WireGrant> {
    return this.call('revoke_grant', { ...grant }) as Promise<WireGrant>;
  }

  listGrants(query: { role: 'owner' | 'viewer' } & PageRequest): Promise<Page<WireGrant>> {
    return this.call('list_grants', { ...query }) as Promise<Page<WireGrant>>;
  }

  /** Reports views used of a grant I hold; returns the highest count the directory knows. */
  recordViews(grant: {
    owner_id: string;
    image_id: string;
    consumed: number;
  }): Promise<{ consumed: number }> {
    return this.call('record_views', { ...grant }) as Promise<{ consumed: number }>;
  }

  takeUpdates(limit?: number): Promise<WireUpdate[]> {
    return this.call('take_updates', limit === undefined ? {} : { limit }) as Promise<WireUpdate[]>;
  }

  ackUpdates(update_ids: number[]): Promise<{ acknowledged: number }> {
    return this.call('ack_updates', { update_ids }) as Promise<{ acknowledged: number }>;
  }

  // ---- Transport ---------------------------------------------------------------------------

  /** Sends one request, signing it when the op acts for the user; fails over between servers. */
  async call(op: DirectoryOp, args: Record<string, unknown>): Promise<unknown> {
    const problems: string[] = [];
    const dialFailures: DialFailure[] = [];
    for (let attempt = 0; attempt < this.links.length; attempt++) {
      const index = (this.preferred + attempt) % this.links.length;
      const link = this.links[index] as MessageLink<CloudMessage>;
      // Signed afresh per attempt: a server that died after recording the nonce of the first
      // attempt would otherwise make the retry look like a replay at the next server.
      const auth = UNSIGNED_OPS.has(op) ? null : this.authFor(op, args);
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
    throw new CloudP2PError(
      'directory_unreachable',
      `no cloud server answered the directory request (${op}): ${problems.join('; ')}`,
      ExitCode.unavailable,
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
