/**
 * The one implementation of DirectoryStore, over Kysely, for SQLite, PostgreSQL and MySQL/MariaDB.
 * A shell: each call goes to the file of its responsibility under sql/ —
 * users.ts (registration, sign-in, presence), catalog.ts (offered images), requests.ts and
 * grants.ts (sharing), updates.ts (queued updates, sweep) — and every one of them runs through
 * sql/runner.ts (clock, deadlines, transactions, retries, row locks, error mapping); the query
 * building blocks they share are in sql/queries.ts.
 */
import * as catalog from './sql/catalog.js';
import { SqlRunner, type StoreContext } from './sql/runner.js';
import * as grants from './sql/grants.js';
import * as requests from './sql/requests.js';
import * as updates from './sql/updates.js';
import * as users from './sql/users.js';
import type {
  AccessGrant,
  AnsweredRequest,
  DirectoryBackend,
  DirectoryStats,
  DirectoryStore,
  GrantKey,
  HeartbeatResult,
  ImageKey,
  ImageOffer,
  ImageRequest,
  NewImageRequest,
  OfferedImage,
  OnlineUser,
  Page,
  PageRequest,
  PresenceRecord,
  QueuedUpdate,
  RequestDecision,
  RequestStatus,
  SignInChallenge,
  SweepResult,
  UserId,
  UserRecord,
  ViewConsumed,
} from './store.js';

export type { StoreContext } from './sql/runner.js';

export class SqlDirectoryStore implements DirectoryStore {
  readonly backend: DirectoryBackend;
  readonly description: string;
  private readonly run: SqlRunner;

  constructor(ctx: StoreContext) {
    this.run = new SqlRunner(ctx);
    this.backend = ctx.backend;
    this.description = ctx.description;
  }

  // ---- Users, sign-in and presence (sql/users.ts) ----------------------------------------------

  registerUser(input: { username: string; public_key: Uint8Array }): Promise<UserRecord> {
    return users.registerUser(this.run, input);
  }
  getUser(userId: UserId): Promise<UserRecord | undefined> {
    return users.getUser(this.run, userId);
  }
  findUserByUsername(username: string): Promise<UserRecord | undefined> {
    return users.findUserByUsername(this.run, username);
  }
  createChallenge(userId: UserId): Promise<SignInChallenge> {
    return users.createChallenge(this.run, userId);
  }
  consumeChallenge(userId: UserId, nonce: string): Promise<SignInChallenge> {
    return users.consumeChallenge(this.run, userId, nonce);
  }
  recordRequestNonce(userId: UserId, nonce: string, expires_at_ms: number): Promise<void> {
    return users.recordRequestNonce(this.run, userId, nonce, expires_at_ms);
  }
  goOnline(
    actorId: UserId,
    presence: { user_id: UserId; address: string; port: number },
  ): Promise<PresenceRecord> {
    return users.goOnline(this.run, actorId, presence);
  }
  heartbeat(actorId: UserId, userId: UserId): Promise<HeartbeatResult> {
    return users.heartbeat(this.run, actorId, userId);
  }
  goOffline(actorId: UserId, userId: UserId): Promise<void> {
    return users.goOffline(this.run, actorId, userId);
  }
  getPresence(userId: UserId): Promise<PresenceRecord | undefined> {
    return users.getPresence(this.run, userId);
  }
  listOnlineUsers(page: PageRequest = {}): Promise<Page<OnlineUser>> {
    return users.listOnlineUsers(this.run, page);
  }

  // ---- Offered images (sql/catalog.ts) ---------------------------------------------------------

  offerImage(actorId: UserId, offer: ImageOffer): Promise<OfferedImage> {
    return catalog.offerImage(this.run, actorId, offer);
  }
  withdrawImage(actorId: UserId, image: ImageKey): Promise<void> {
    return catalog.withdrawImage(this.run, actorId, image);
  }
  getImage(image: ImageKey): Promise<OfferedImage | undefined> {
    return catalog.getImage(this.run, image);
  }
  listImages(
    query: { owner_id?: UserId; online_only?: boolean } & PageRequest = {},
  ): Promise<Page<OfferedImage>> {
    return catalog.listImages(this.run, query);
  }

  // ---- Sharing: requests and grants (sql/requests.ts, sql/grants.ts) ----------------------------

  createRequest(actorId: UserId, request: NewImageRequest): Promise<ImageRequest> {
    return requests.createRequest(this.run, actorId, request);
  }
  answerRequest(
    actorId: UserId,
    answer: { request_id: string; decision: RequestDecision },
  ): Promise<AnsweredRequest> {
    return requests.answerRequest(this.run, actorId, answer);
  }
  getRequest(actorId: UserId, requestId: string): Promise<ImageRequest | undefined> {
    return requests.getRequest(this.run, actorId, requestId);
  }
  listRequests(
    actorId: UserId,
    query: { role: 'owner' | 'requester'; status?: RequestStatus } & PageRequest,
  ): Promise<Page<ImageRequest>> {
    return requests.listRequests(this.run, actorId, query);
  }
  setGrant(
    actorId: UserId,
    grant: GrantKey & { quota: number; expected_version?: number },
  ): Promise<AccessGrant> {
    return grants.setGrant(this.run, actorId, grant);
  }
  revokeGrant(
    actorId: UserId,
    grant: GrantKey & { expected_version?: number },
  ): Promise<AccessGrant> {
    return grants.revokeGrant(this.run, actorId, grant);
  }
  getGrant(actorId: UserId, grant: GrantKey): Promise<AccessGrant | undefined> {
    return grants.getGrant(this.run, actorId, grant);
  }
  listGrants(
    actorId: UserId,
    query: { role: 'owner' | 'viewer' } & PageRequest,
  ): Promise<Page<AccessGrant>> {
    return grants.listGrants(this.run, actorId, query);
  }
  recordViews(
    actorId: UserId,
    grant: GrantKey & { consumed: number },
  ): Promise<{ consumed: number }> {
    return grants.recordViews(this.run, actorId, grant);
  }
  consumeView(actorId: UserId, view: GrantKey & { view_id: string }): Promise<ViewConsumed> {
    return grants.consumeView(this.run, actorId, view);
  }

  // ---- Queued updates and housekeeping (sql/updates.ts) ----------------------------------------

  takeUpdates(
    actorId: UserId,
    userId: UserId,
    options: { limit?: number } = {},
  ): Promise<QueuedUpdate[]> {
    return updates.takeUpdates(this.run, actorId, userId, options);
  }
  ackUpdates(actorId: UserId, userId: UserId, updateIds: readonly number[]): Promise<number> {
    return updates.ackUpdates(this.run, actorId, userId, updateIds);
  }
  sweep(): Promise<SweepResult> {
    return updates.sweep(this.run);
  }

  stats(): DirectoryStats {
    return this.run.stats();
  }
  close(): Promise<void> {
    return this.run.close();
  }
}
