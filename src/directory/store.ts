/**
 * The directory of service: one async interface every server uses, whatever database is behind
 * it. All servers of a cloud open the same database, so any server can answer any directory
 * request and they all see the same data (see docs/DIRECTORY.md).
 *
 * Conventions for every method:
 * - Arguments are validated before the database is touched; a bad one raises
 *   `DirectoryError('invalid_argument')` naming the field and what is allowed.
 * - Methods that act for a user take `actorId` first: the user the server authenticated (signed
 *   challenge or session). The records they receive name their subject (`owner_id`, `user_id`,
 *   `requester_id`); when the subject is not the actor the call raises `DirectoryError('denied')`.
 *   Read methods that reveal private state (requests, grants, queued updates) are scoped to the
 *   actor. Public reads (users, presence, offered images) take no actor.
 * - Unknown users, images, requests or grants raise `not_found`; contradictions with current
 *   state raise `conflict`; documented limits raise `limit_exceeded`.
 * - Database trouble raises `directory_unavailable` (unreachable, or no answer within the
 *   operation timeout — never a hang) or `directory_failure`; rows that break the schema's
 *   rules raise `directory_bad_row`. A timed-out write may or may not have been applied: every
 *   write is safe to retry (idempotent or keyed by a caller-chosen id).
 * - Times are milliseconds since the Unix epoch from the store's clock (injectable for tests).
 * - Lists are pages: `{ limit?, cursor? }` in (limit 1–500, default 100), `{ items, next_cursor }`
 *   out; `next_cursor` is null on the last page.
 */

/** A user id: a lowercase UUID (RFC 9562 text form) the directory generates at registration. */
export type UserId = string;

export type DirectoryBackend = 'sqlite' | 'postgres' | 'mysql';

export interface UserRecord {
  user_id: UserId;
  /** 3–32 characters from a–z, 0–9, `_`, `-`, starting with a letter; unique. */
  username: string;
  /** Raw Ed25519 public key, exactly 32 bytes. */
  public_key: Uint8Array;
  created_at_ms: number;
}

export interface SignInChallenge {
  user_id: UserId;
  /** 64 lowercase hex characters (32 random bytes). */
  nonce: string;
  issued_at_ms: number;
  expires_at_ms: number;
}

export interface PresenceRecord {
  user_id: UserId;
  username: string;
  /** True when the user signed in, has not signed out, and heartbeated within the TTL. */
  online: boolean;
  /** Where the user's agent listens for peers; null before the first sign-in. */
  address: string | null;
  port: number | null;
  last_seen_at_ms: number | null;
}

export interface OnlineUser {
  user_id: UserId;
  username: string;
  public_key: Uint8Array;
  address: string;
  port: number;
  last_seen_at_ms: number;
}

export interface HeartbeatResult {
  presence: PresenceRecord;
  /** Undelivered queued updates waiting for this user: take them when > 0. */
  pending_updates: number;
}

/** What the directory knows about an offered image. The preview bytes travel peer to peer. */
export interface ImagePreviewInfo {
  /** Full image size in pixels, 1–65535 each. */
  width: number;
  height: number;
  /** `image/<subtype>`, e.g. `image/png`; lowercase, at most 100 characters. */
  media_type: string;
  /** Full image size, 0–1 GiB. */
  size_bytes: number;
}

export interface ImageKey {
  owner_id: UserId;
  /** Chosen by the owner's agent: 1–64 characters from a–z, 0–9, `_`, `-`; unique per owner. */
  image_id: string;
}

export interface ImageOffer extends ImageKey {
  /** 1–200 characters; no control characters. */
  title: string;
  preview: ImagePreviewInfo;
}

export interface OfferedImage extends ImageOffer {
  owner_username: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export type RequestStatus = 'pending' | 'accepted' | 'rejected';
/** `more_views` when the requester already held an active grant for the image at creation. */
export type RequestKind = 'access' | 'more_views';
export type RequestDecision = 'accepted' | 'rejected';

export interface NewImageRequest extends ImageKey {
  /** Optional idempotency key (lowercase UUID) chosen by the requester's agent. */
  request_id?: string;
  requester_id: UserId;
  /** 1–10000 views asked for. */
  views: number;
}

export interface ImageRequest extends ImageKey {
  request_id: string;
  requester_id: UserId;
  requester_username: string;
  owner_username: string;
  views: number;
  kind: RequestKind;
  status: RequestStatus;
  created_at_ms: number;
  answered_at_ms: number | null;
}

export interface GrantKey extends ImageKey {
  viewer_id: UserId;
}

export interface AccessGrant extends GrantKey {
  owner_username: string;
  viewer_username: string;
  /** Total views the viewer may use, 0–1000000. */
  quota: number;
  /** Views the viewer reported using (recordViews); only ever grows. */
  views_used: number;
  /** Starts at 1 and grows by 1 on every change: apply an update only if its version is newer. */
  version: number;
  revoked: boolean;
  created_at_ms: number;
  updated_at_ms: number;
}

/**
 * How long the directory remembers a used view's id, so that a retry of that view is not a second
 * view. Retries come within seconds (a client's round of servers); an hour is generous and keeps
 * at most one hour of views per grant on disk.
 */
export const VIEW_RETRY_WINDOW_MS = 3_600_000;

export interface ViewConsumed {
  /** True when this view was used (by this call or an earlier one with the same view_id); false
   * when none was left or the grant is revoked. */
  granted: boolean;
  /** Views used so far, this one included when granted. */
  consumed: number;
  quota: number;
  revoked: boolean;
  version: number;
}

export interface AnsweredRequest {
  request: ImageRequest;
  /** The grant as it stands after an acceptance; absent for a rejection. */
  grant?: AccessGrant;
}

/**
 * Changes waiting for a user. Delivery is at least once (take, then ack); applying is idempotent
 * (grants by `version`, requests by `request_id`), so the effect is exactly once. Only the newest
 * update per subject (one grant, one request) is kept: a newer one replaces an unacknowledged
 * older one, which then gets a new `update_id`.
 */
export type QueuedUpdate = QueuedUpdateBase &
  (
    | { kind: 'request_created'; request: ImageRequest }
    | { kind: 'request_answered'; request: ImageRequest; grant?: AccessGrant }
    | { kind: 'grant_updated'; grant: AccessGrant }
    | { kind: 'grant_revoked'; grant: AccessGrant }
  );
export type QueuedUpdateKind = QueuedUpdate['kind'];

export interface QueuedUpdateBase {
  /** Positive, grows with every enqueue; never reused. */
  update_id: number;
  recipient_id: UserId;
  created_at_ms: number;
}

export interface PageRequest {
  /** 1–500; default 100. */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface SweepResult {
  challenges_deleted: number;
  request_nonces_deleted: number;
  presences_expired: number;
  requests_deleted: number;
}

/**
 * What the store went through since it was opened (read-only counters, for /metrics and the lab
 * report). Zeros where a backend has nothing to count: SQLite and PostgreSQL have no node list.
 */
export interface DirectoryStats {
  /** Whole calls retried, by why: a lock conflict the database settled by aborting one side
   * (SQLite busy, deadlock, Galera certification conflict), or a connection lost / a node gone. */
  retries: { lock_conflict: number; node_unavailable: number };
  /** Times a database node of the URL stopped being used (unreachable, error 1047, not Synced,
   * another cluster); it is counted once however many of the store's pools noticed it. */
  node_skips: number;
  /** Each MySQL/MariaDB node of the URL, in the URL's order (empty for SQLite and PostgreSQL). */
  nodes: DirectoryNodeStats[];
}

export interface DirectoryNodeStats {
  /** host:port as in the URL. */
  label: string;
  /** Whether the store uses the node now. */
  serving: boolean;
  /** Why it is not used (undefined while it serves). */
  problem: string | undefined;
}

export interface DirectoryStore {
  readonly backend: DirectoryBackend;
  /** The URL it was opened with, password removed: safe to log. */
  readonly description: string;

  // ---- Users (use case 1: register) ----------------------------------------------------------

  /**
   * Creates a user with a new unique id. Validates username (3–32 of a–z 0–9 _ -, starting with a
   * letter) and public_key (32 bytes). `conflict` when the username is taken (also under a race).
   */
  registerUser(input: { username: string; public_key: Uint8Array }): Promise<UserRecord>;

  /** The user, or undefined. `invalid_argument` for an id that is not a lowercase UUID. */
  getUser(userId: UserId): Promise<UserRecord | undefined>;

  /** The user with this exact username, or undefined. */
  findUserByUsername(username: string): Promise<UserRecord | undefined>;

  // ---- Sign-in challenges (use case 2: sign in) ----------------------------------------------

  /**
   * Issues a single-use nonce for the user, valid for `challenge_ttl_ms`. Any server may issue it
   * and any other may accept the answer. Keeps at most `max_challenges_per_user` unused ones
   * (older ones are dropped). `not_found` for an unknown user.
   */
  createChallenge(userId: UserId): Promise<SignInChallenge>;

  /**
   * Marks the challenge used, atomically: exactly one caller succeeds, however many servers try.
   * Call it AFTER checking the signature (so a forged answer cannot burn a valid nonce). `denied`
   * when the nonce was never issued to this user, was already used (replay), or has expired.
   */
  consumeChallenge(userId: UserId, nonce: string): Promise<SignInChallenge>;

  /**
   * Records the nonce of a signed request (after its signature was checked) until
   * `expires_at_ms`: the first use succeeds, any later use of the same nonce by the same user —
   * at any server — is `denied` as a replay. `invalid_argument` for a malformed nonce (64 hex
   * characters) or an expiry more than an hour ahead; `not_found` for an unknown user.
   */
  recordRequestNonce(userId: UserId, nonce: string, expires_at_ms: number): Promise<void>;

  // ---- Presence (use cases 2, 4, 10) ---------------------------------------------------------

  /**
   * Marks the user online at `address:port` (the agent's P2P listener) and sets last seen.
   * `denied` unless actorId === presence.user_id. Address: an IP literal or a DNS name
   * (≤ 253 characters); port 1–65535.
   */
  goOnline(
    actorId: UserId,
    presence: { user_id: UserId; address: string; port: number },
  ): Promise<PresenceRecord>;

  /**
   * Refreshes last seen and reports pending updates. `denied` unless actorId === userId;
   * `conflict` when the user is not online (never signed in, signed out, or expired by TTL: sign
   * in again).
   */
  heartbeat(actorId: UserId, userId: UserId): Promise<HeartbeatResult>;

  /** Marks the user offline (clean shutdown). Idempotent. `denied` unless actorId === userId. */
  goOffline(actorId: UserId, userId: UserId): Promise<void>;

  /** The user's presence with `online` computed from the TTL; undefined for an unknown user. */
  getPresence(userId: UserId): Promise<PresenceRecord | undefined>;

  /** Users online now (TTL applied at read time), ordered by username. */
  listOnlineUsers(page?: PageRequest): Promise<Page<OnlineUser>>;

  // ---- Offered images (use case 4) -----------------------------------------------------------

  /**
   * Publishes or updates (same owner_id + image_id) an image offer. `denied` unless actorId ===
   * owner_id; `limit_exceeded` beyond `max_images_per_user`.
   */
  offerImage(actorId: UserId, offer: ImageOffer): Promise<OfferedImage>;

  /** Removes an offer; grants on it stay. `denied` unless owner; `not_found` if not offered. */
  withdrawImage(actorId: UserId, image: ImageKey): Promise<void>;

  getImage(image: ImageKey): Promise<OfferedImage | undefined>;

  /**
   * Offered images ordered by (owner_id, image_id); only one owner's with `owner_id`, only those
   * of users online now with `online_only`.
   */
  listImages(
    query?: { owner_id?: UserId; online_only?: boolean } & PageRequest,
  ): Promise<Page<OfferedImage>>;

  // ---- Image requests (use cases 5, 6, 8) ----------------------------------------------------

  /**
   * Asks the owner for `views` views of an offered image; queues `request_created` for the owner
   * (delivered at their next take, e.g. at sign-in when they are offline). `denied` unless actorId
   * === requester_id; `invalid_argument` when asking oneself; `not_found` for an unknown owner or
   * image; `conflict`
   * when a pending request for the same image already exists or when `request_id` is reused for a
   * different request (the same request again returns the stored one: safe to retry);
   * `limit_exceeded` for the pending-request limits or a full owner queue.
   */
  createRequest(actorId: UserId, request: NewImageRequest): Promise<ImageRequest>;

  /**
   * The owner accepts or rejects a pending request; queues `request_answered` for the requester.
   * Accepting creates the grant (quota = views) or, when an active grant exists, adds the views to
   * its quota — in the same transaction. `denied` unless actorId is the owner; `not_found` for an
   * unknown request; `conflict` when already answered differently (the same answer again returns
   * the stored result); `limit_exceeded` when the quota would pass 1000000 or a queue is full.
   */
  answerRequest(
    actorId: UserId,
    answer: { request_id: string; decision: RequestDecision },
  ): Promise<AnsweredRequest>;

  /** The request if the actor is its requester or owner; `denied` otherwise. */
  getRequest(actorId: UserId, requestId: string): Promise<ImageRequest | undefined>;

  /**
   * The actor's requests as owner (inbox) or requester (outbox), oldest first, optionally only one
   * status.
   */
  listRequests(
    actorId: UserId,
    query: { role: 'owner' | 'requester'; status?: RequestStatus } & PageRequest,
  ): Promise<Page<ImageRequest>>;

  // ---- Access grants (use case 9) ------------------------------------------------------------

  /**
   * Creates a grant, changes its quota, or restores a revoked one; bumps `version` and queues
   * `grant_updated` for the viewer. Setting the current state again changes nothing (no version
   * bump, nothing queued). With `expected_version`, refuses with `conflict` if the grant moved on.
   * `denied` unless actorId === owner_id; `invalid_argument` for viewer === owner; `not_found` for
   * an unknown viewer; `limit_exceeded` for `max_grants_per_owner` or a full viewer queue.
   */
  setGrant(
    actorId: UserId,
    grant: GrantKey & { quota: number; expected_version?: number },
  ): Promise<AccessGrant>;

  /**
   * Revokes a grant; bumps `version` and queues `grant_revoked` for the viewer. Idempotent.
   * `denied` unless owner; `not_found` when there is no grant; `conflict` on `expected_version`.
   */
  revokeGrant(
    actorId: UserId,
    grant: GrantKey & { expected_version?: number },
  ): Promise<AccessGrant>;

  /** The grant if the actor is its owner or viewer; `denied` otherwise. */
  getGrant(actorId: UserId, grant: GrantKey): Promise<AccessGrant | undefined>;

  /**
   * Every grant the actor gave (`owner`) or received (`viewer`), revoked ones included, so either
   * side can rebuild its permissions after losing its local state.
   */
  listGrants(
    actorId: UserId,
    query: { role: 'owner' | 'viewer' } & PageRequest,
  ): Promise<Page<AccessGrant>>;

  /**
   * The viewer reports how many views of a grant it has used. The directory keeps the highest
   * count it was told (a count never goes down, whatever order reports arrive in) and returns
   * it, so an agent that lost its local state rebuilds its count with `consumed: 0`. `denied`
   * unless actorId === viewer_id; `not_found` when there is no such grant; `invalid_argument`
   * for a count outside 0–1000000.
   */
  recordViews(
    actorId: UserId,
    grant: GrantKey & { consumed: number },
  ): Promise<{ consumed: number }>;

  /**
   * The viewer asks to use one view, before it shows the image: atomically, the count grows by
   * one only while the grant is not revoked and views are left, so two devices of the same user
   * viewing at once can never pass the quota together. Returns whether the view was granted and
   * the grant's state after it. `view_id` (a UUID the agent chooses once per view) makes it safe
   * to retry: the same view asked again within VIEW_RETRY_WINDOW_MS (at any server) is answered
   * as granted with the grant's current state, without using another view. `denied` unless
   * actorId === viewer_id; `not_found` when there is no such grant.
   */
  consumeView(actorId: UserId, view: GrantKey & { view_id: string }): Promise<ViewConsumed>;

  // ---- Queued updates (offline best effort) --------------------------------------------------

  /**
   * The oldest undelivered updates for the user (limit 1–500, default 100). They stay queued until
   * acknowledged: a crash between take and ack redelivers them. `denied` unless actorId === userId.
   */
  takeUpdates(
    actorId: UserId,
    userId: UserId,
    options?: { limit?: number },
  ): Promise<QueuedUpdate[]>;

  /**
   * Deletes delivered updates (at most 500 ids per call); ids that are gone already are ignored.
   * Returns how many were deleted. `denied` unless actorId === userId.
   */
  ackUpdates(actorId: UserId, userId: UserId, updateIds: readonly number[]): Promise<number>;

  // ---- Housekeeping --------------------------------------------------------------------------

  /**
   * Deletes expired or used challenges and old answered requests, and marks presence rows whose
   * TTL passed as offline. Reads never depend on it (TTL is applied at read time); any server may
   * run it, at any rate.
   */
  sweep(): Promise<SweepResult>;

  /** Retries and node health since the store was opened; cheap, never fails (also after close). */
  stats(): DirectoryStats;

  /** Closes the connections. Later calls raise `directory_closed`. Idempotent. */
  close(): Promise<void>;
}
