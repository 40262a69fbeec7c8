/**
 * The peer agent: one per user, with its own data directory. `running` mode (`cloudp2p peer
 * start`) listens for peers on an OS-chosen port, signs in to the directory with that address,
 * heartbeats, applies queued updates, and delivers copies and rights to viewers as they come
 * online. `one-shot` mode serves a single CLI command when no agent runs: it acts for the user
 * through signed directory requests and outgoing P2P connections, without signing in.
 *
 * Every use case is one method here; the local HTTP API (api-server.ts) and the CLI call them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { CloudClient } from '../client/cloud-client.js';
import { generateIdentity, identityFromSeed } from '../identity/keys.js';
import { fromHex, toHex } from '../protocol/directory-protocol.js';
import type { PeerMessage } from '../protocol/peer-protocol.js';
import type { Endpoint } from '../transport/endpoint.js';
import { CloudP2PError, ExitCode, UsageError, errorMessage } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { AgentDatabase } from './agent-db.js';
import type {
  AgentStatus,
  AnswerResult,
  EncryptResult,
  GrantView,
  OwnImageView,
  PeerView,
  PreviewView,
  ReceivedView,
  RequestCreated,
  RequestView,
  SyncReport,
} from './api-types.js';
import { API_VERSION, ENCRYPT_DONE_STEP } from './api-types.js';
import { EventBus, KeyBook, requestView, type AgentContext, type OnlinePeer } from './context.js';
import { DataDir, writeFileAtomic, type StoredIdentity } from './data-dir.js';
import { DirectoryRequestError, type WireOnlineUser, type WireUpdate } from './directory-client.js';
import { PeerDirectory } from './directory.js';
import { checkPreview } from './images.js';
import { P2PNode } from './p2p-node.js';
import { PeerRefusal, type PeerSession, type Reply } from './p2p-session.js';
import { OwnerSide } from './owner.js';
import { ViewerSide, type ViewOutcome } from './viewer.js';

export const DEFAULT_PEER_SERVERS: Endpoint[] = [
  { host: '127.0.0.1', port: 8001 },
  { host: '127.0.0.1', port: 8002 },
  { host: '127.0.0.1', port: 8003 },
];

export interface PeerAgentOptions {
  dataDir: DataDir;
  mode: 'running' | 'one-shot';
  /** Overrides the servers saved at registration. */
  servers?: Endpoint[];
  clusterId?: number;
  /** Where the P2P listener binds (default 127.0.0.1) and the address published for it. */
  listenHost?: string;
  advertiseHost?: string;
  listenPort?: number;
  heartbeat_ms?: number;
  directoryTimeout_ms?: number;
  /** An image or copy task fails only after this long without a result from the cloud. */
  cloudDeadline_ms?: number;
  logger?: Logger;
}

/** How long the online list is reused before asking the directory again. */
const ONLINE_CACHE_MS = 2000;
const MAX_PREVIEW_CACHE = 64;
const UPDATE_BATCH = 100;

export class PeerAgent {
  readonly events = new EventBus();
  private readonly ctx: AgentContext;
  private readonly owner: OwnerSide;
  private readonly viewer: ViewerSide;
  private readonly directory: PeerDirectory;
  private readonly db: AgentDatabase;
  private readonly p2p: P2PNode;
  private readonly logger: Logger;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly previewCache = new Map<string, Uint8Array>();
  /** Best-effort work that stop() gives a moment to finish (view reports). */
  private readonly background = new Set<Promise<unknown>>();
  private cloudClient: Promise<CloudClient> | null = null;
  private onlineCache: { at_ms: number; users: Promise<WireOnlineUser[]> } | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private releaseLock: (() => void) | null = null;
  private polling: Promise<number> | null = null;
  private pollAgain = false;
  private online = false;
  private directoryState: AgentStatus['directory'] = 'unknown';
  private stopped = false;
  private tickRunning = false;

  private constructor(
    private readonly options: PeerAgentOptions,
    readonly identity: StoredIdentity,
    private readonly servers: Endpoint[],
    private readonly clusterId: number,
  ) {
    this.logger = options.logger ?? createLogger(`peer/${identity.username}`);
    this.db = new AgentDatabase(options.dataDir.databasePath);
    this.directory = new PeerDirectory({
      servers,
      clusterId,
      ...(options.directoryTimeout_ms === undefined
        ? {}
        : { requestTimeout_ms: options.directoryTimeout_ms }),
    });
    this.directory.actAs(identity.user_id, identity.keys);
    const me = { user_id: identity.user_id, username: identity.username, keys: identity.keys };
    const keys = new KeyBook(this.db, this.directory);
    this.p2p = new P2PNode({
      me,
      logger: this.logger,
      resolvePeer: async (userId, username) => {
        const peer = await keys.byId(userId);
        if (peer.username !== username)
          throw new PeerRefusal(
            'wrong_user',
            `user ${userId} is ${peer.username}, not ${username}`,
          );
        return peer;
      },
      handler: (session, message) => this.handlePeer(session, message),
    });
    this.ctx = {
      me,
      dataDir: options.dataDir,
      db: this.db,
      directory: this.directory,
      p2p: this.p2p,
      keys,
      events: this.events,
      logger: this.logger,
      mode: options.mode,
      cloud: () => this.cloud(),
      onlinePeer: (userId) => this.onlinePeer(userId),
      serialize: (key, task) => this.serialize(key, task),
      inBackground: (task) => {
        const running = task.catch(() => undefined);
        this.background.add(running);
        void running.then(() => this.background.delete(running));
      },
    };
    this.owner = new OwnerSide(this.ctx);
    this.viewer = new ViewerSide(this.ctx);
  }

  // ---- Use case 1: register ------------------------------------------------------------------

  /**
   * Creates the user's key, registers it with the directory and writes the data directory.
   * The key is saved (as identity.pending.json) before the directory sees it, so a crash in
   * between cannot leave a registered name whose key is lost: registering again finishes it.
   */
  static async register(args: {
    dataDir: DataDir;
    username: string;
    servers: Endpoint[];
    clusterId?: number;
    directoryTimeout_ms?: number;
  }): Promise<{ username: string; user_id: string; data_dir: string }> {
    const { dataDir, username } = args;
    if (dataDir.hasIdentity()) {
      const existing = dataDir.readIdentity();
      throw new CloudP2PError(
        'already_registered',
        `${dataDir.root} already holds the identity of ${existing.username}; use another --data-dir to register another user`,
        ExitCode.usage,
      );
    }
    dataDir.ensure();
    const pendingPath = dataDir.path('identity.pending.json');
    let keys = generateIdentity();
    if (existsSync(pendingPath)) {
      try {
        const saved = JSON.parse(readFileSync(pendingPath, 'utf8')) as {
          username?: string;
          seed?: string;
        };
        const seed = fromHex(saved.seed, 32);
        if (saved.username === username && seed) keys = identityFromSeed(seed);
      } catch {
        // unreadable: start over with a new key
      }
    }
    writeFileAtomic(
      pendingPath,
      JSON.stringify({ username, seed: toHex(keys.seed), public_key: toHex(keys.publicKey) }),
      0o600,
    );
    const directory = new PeerDirectory({
      servers: args.servers,
      clusterId: args.clusterId ?? 1,
      ...(args.directoryTimeout_ms === undefined
        ? {}
        : { requestTimeout_ms: args.directoryTimeout_ms }),
    });
    try {
      let userId: string;
      try {
        userId = (await directory.register(username, keys)).user_id;
      } catch (err) {
        // Registered before a crash with this very key? Then the name is ours: finish. Only
        // the key's holder can sign the lookup, so a name taken by someone else stays refused.
        if (!(err instanceof DirectoryRequestError && err.code === 'conflict')) throw err;
        const challenge = (await directory.client.call('challenge', { username })) as {
          user_id?: unknown;
        };
        if (typeof challenge?.user_id !== 'string') throw err;
        directory.actAs(challenge.user_id, keys);
        const user = await directory.userById(challenge.user_id).catch(() => null);
        if (!user || user.public_key !== toHex(keys.publicKey)) throw err;
        userId = user.user_id;
      }
      dataDir.writeIdentity({ username, user_id: userId, keys });
      dataDir.writeSettings({ servers: args.servers, cluster_id: args.clusterId ?? 1 });
      rmSync(pendingPath, { force: true });
      return { username, user_id: userId, data_dir: dataDir.root };
    } finally {
      directory.close();
    }
  }

  /** Opens the agent of the user registered in `dataDir` (no network yet). */
  static open(options: PeerAgentOptions): PeerAgent {
    const identity = options.dataDir.readIdentity();
    const settings = options.dataDir.readSettings();
    const servers = options.servers ?? settings?.servers ?? DEFAULT_PEER_SERVERS;
    const clusterId = options.clusterId ?? settings?.cluster_id ?? 1;
    options.dataDir.ensure();
    return new PeerAgent(options, identity, servers, clusterId);
  }

  get username(): string {
    return this.identity.username;
  }

  get p2pAddress(): { host: string; port: number } | null {
    return this.p2p.address;
  }

  // ---- Use cases 2 and 10: sign in, stay online, shut down -------------------------------------

  /** Running mode: listen for peers, sign in with that address, sync, heartbeat. */
  async start(): Promise<void> {
    if (this.options.mode !== 'running') throw new Error('start() is for running agents');
    this.releaseLock = this.options.dataDir.acquireLock();
    try {
      const listenHost = this.options.listenHost ?? '127.0.0.1';
      const advertise = this.options.advertiseHost ?? listenHost;
      if (advertise === '0.0.0.0' || advertise === '::')
        throw new UsageError(
          `listening on ${listenHost} needs --advertise <address>: the address other users reach you at`,
        );
      const bound = await this.p2p.listen(listenHost, this.options.listenPort ?? 0);
      await this.login(advertise, bound.port);
    } catch (err) {
      await this.stop('start failed');
      throw err;
    }
    this.sync().catch((err: unknown) =>
      this.logger.warn('sync at sign-in failed; retried on the next heartbeats', {
        error: errorMessage(err),
      }),
    );
    this.scheduleHeartbeat();
  }

  private async login(address: string, port: number): Promise<void> {
    const session = await this.directory.login(this.identity.username, this.identity.keys, {
      address,
      port,
    });
    if (session.user_id !== this.identity.user_id)
      throw new CloudP2PError(
        'identity_mismatch',
        `the directory knows ${this.identity.username} as ${session.user_id}, but this data directory says ${this.identity.user_id}`,
        ExitCode.denied,
      );
    this.setOnline(true, 'reachable');
    this.logger.info('signed in', { address, port, pending_updates: session.pending_updates });
  }

  private setOnline(online: boolean, directory: AgentStatus['directory']): void {
    if (online === this.online && directory === this.directoryState) return;
    this.online = online;
    this.directoryState = directory;
    this.events.emit({ type: 'status', online, directory });
  }

  private scheduleHeartbeat(): void {
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(() => {
      void this.tick().finally(() => this.scheduleHeartbeat());
    }, this.options.heartbeat_ms ?? 5000);
    this.heartbeatTimer.unref();
  }

  /** One heartbeat: refresh presence, take updates, retry deliveries and missing copies. */
  async tick(): Promise<void> {
    if (this.tickRunning || this.stopped) return;
    this.tickRunning = true;
    try {
      let pending = 0;
      try {
        pending = (await this.directory.heartbeat()).pending_updates;
        this.setOnline(true, 'reachable');
      } catch (err) {
        if (err instanceof DirectoryRequestError && err.code === 'conflict' && this.p2p.address) {
          // The directory dropped us (e.g. this process was paused past the TTL): sign in again.
          this.logger.info('presence expired; signing in again');
          await this.login(
            this.options.advertiseHost ?? this.options.listenHost ?? '127.0.0.1',
            this.p2p.address.port,
          );
          pending = 1;
        } else {
          this.setOnline(false, 'unreachable');
          this.logger.warn('heartbeat failed', { error: errorMessage(err) });
          return;
        }
      }
      if (pending > 0) await this.pollUpdates();
      await this.owner.retryCopies();
      await this.owner.deliveryPass();
      await this.viewer.pullMissingCopies();
    } catch (err) {
      this.logger.warn('heartbeat work failed', { error: errorMessage(err) });
    } finally {
      this.tickRunning = false;
    }
  }

  /** Logs out (running mode), closes every connection and the database. Idempotent. */
  async stop(reason = 'stopped'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.events.emit({ type: 'stopping', reason });
    if (this.options.mode === 'running' && this.online) {
      try {
        await this.directory.logout();
        this.logger.info('signed out');
      } catch (err) {
        this.logger.warn('could not tell the directory; the presence TTL will', {
          error: errorMessage(err),
        });
      }
    }
    this.online = false;
    await this.p2p.close();
    if (this.cloudClient) {
      const client = await this.cloudClient.catch(() => null);
      client?.close();
    }
    // Let in-flight work that still holds the database finish its current statement, and
    // view reports reach the directory if they can within a moment.
    await Promise.allSettled([...this.locks.values()]);
    await Promise.race([
      Promise.allSettled([...this.background]),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
    this.directory.close();
    this.db.close();
    if (this.options.mode === 'running') this.options.dataDir.removeAgentInfo();
    this.releaseLock?.();
  }

  /** Tells the directory this user is offline (e.g. after a crash, without a running agent). */
  async signOut(): Promise<void> {
    await this.directory.logout();
    this.setOnline(false, 'reachable');
  }

  // ---- Shared plumbing ---------------------------------------------------------------------------

  private cloud(): Promise<CloudClient> {
    if (!this.cloudClient) {
      const connecting = CloudClient.connect({
        clientId: `peer-${this.identity.username}-${randomBytes(4).toString('hex')}`,
        servers: this.servers,
        clusterId: this.clusterId,
        taskDeadline_ms: this.options.cloudDeadline_ms ?? 120_000,
        connectTimeout_ms: 15_000,
      });
      this.cloudClient = connecting;
      connecting.catch(() => {
        if (this.cloudClient === connecting) this.cloudClient = null;
      });
    }
    return this.cloudClient;
  }

  private async onlineUsers(): Promise<WireOnlineUser[]> {
    const now = Date.now();
    if (!this.onlineCache || now - this.onlineCache.at_ms > ONLINE_CACHE_MS) {
      const users = this.directory.onlineUsers();
      this.onlineCache = { at_ms: now, users };
      users.catch(() => {
        if (this.onlineCache?.users === users) this.onlineCache = null;
      });
    }
    return this.onlineCache.users;
  }

  private async onlinePeer(userId: string): Promise<OnlinePeer | null> {
    const entry = (await this.onlineUsers()).find((user) => user.user_id === userId);
    if (!entry) return null;
    return { ...this.ctx.keys.check(entry), address: entry.address, port: entry.port };
  }

  private serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return run;
  }

  private async handlePeer(session: PeerSession, message: PeerMessage): Promise<Reply> {
    if (this.stopped)
      throw new PeerRefusal('stopping', 'the agent is shutting down', ExitCode.unavailable);
    if (message.type === 'RequestNotice') {
      // The request itself is in the directory: take it from there (a forged notice costs us
      // one directory call, coalesced with any other).
      void this.pollUpdates().catch(() => undefined);
      return { message: { type: 'Ack' } };
    }
    const reply =
      (await this.owner.handle(session, message)) ?? (await this.viewer.handle(session, message));
    if (!reply)
      throw new PeerRefusal('unsupported', `${message.type} is not served here`, ExitCode.badInput);
    return reply;
  }

  // ---- Queued updates (offline best effort) --------------------------------------------------

  /** Takes and applies the directory's queued updates; concurrent calls share one run. */
  pollUpdates(): Promise<number> {
    if (this.polling) {
      this.pollAgain = true;
      return this.polling;
    }
    const run = (async () => {
      let applied = 0;
      do {
        this.pollAgain = false;
        applied += await this.drainUpdates();
      } while (this.pollAgain && !this.stopped);
      return applied;
    })();
    this.polling = run;
    void run.then(
      () => (this.polling = null),
      () => (this.polling = null),
    );
    return run;
  }

  private async drainUpdates(): Promise<number> {
    let applied = 0;
    let fetchCopies = false;
    for (let round = 0; round < 20; round++) {
      const updates = await this.directory.takeUpdates(UPDATE_BATCH);
      for (const update of updates) {
        try {
          if (this.applyUpdate(update)) fetchCopies = true;
          applied++;
        } catch (err) {
          this.logger.error('could not apply a queued update; dropping it', {
            update: update.update_id,
            kind: update.kind,
            error: errorMessage(err),
          });
        }
      }
      if (updates.length > 0) await this.directory.ackUpdates(updates.map((u) => u.update_id));
      if (updates.length < UPDATE_BATCH) break;
    }
    if (fetchCopies && this.options.mode === 'running')
      void this.viewer.pullMissingCopies({ force: true }).catch(() => undefined);
    return applied;
  }

  /** Applies one update (idempotent); true when a copy may now be fetched. */
  private applyUpdate(update: WireUpdate): boolean {
    const me = this.identity.user_id;
    if (update.recipient_id !== me) return false;
    switch (update.kind) {
      case 'request_created':
        if (update.request.owner_id === me)
          this.events.emit({ type: 'request-received', request: requestView(update.request) });
        return false;
      case 'request_answered': {
        if (update.request.requester_id !== me) return false;
        this.events.emit({ type: 'request-answered', request: requestView(update.request) });
        if (update.grant) {
          this.viewer.applyDirectoryGrant(update.grant);
          return !update.grant.revoked;
        }
        return false;
      }
      case 'grant_updated':
      case 'grant_revoked':
        this.viewer.applyDirectoryGrant(update.grant);
        return !update.grant.revoked;
      default:
        return false;
    }
  }

  // ---- The use cases --------------------------------------------------------------------------

  status(): AgentStatus {
    return {
      api_version: API_VERSION,
      username: this.identity.username,
      user_id: this.identity.user_id,
      mode: this.options.mode,
      online: this.online,
      directory: this.directoryState,
      p2p: this.p2p.address,
      data_dir: this.options.dataDir.root,
      servers: this.servers.map((s) => `${s.host}:${s.port}`),
      counts: {
        own_images: this.db.ownImages().length,
        received: this.db.receivedAll().length,
        copies_waiting_for_delivery: this.db.undeliveredCopies().length,
      },
    };
  }

  /** Use case 4: online users and what they offer (yourself excluded). */
  async peers(): Promise<PeerView[]> {
    const [users, images] = await Promise.all([
      this.directory.onlineUsers(),
      this.directory.images({ online_only: true }),
    ]);
    this.setOnline(this.online, 'reachable');
    return users
      .filter((user) => user.user_id !== this.identity.user_id)
      .map((user) => ({
        user_id: user.user_id,
        username: user.username,
        address: user.address,
        port: user.port,
        last_seen_at_ms: user.last_seen_at_ms,
        images: images
          .filter((image) => image.owner_id === user.user_id)
          .map((image) => ({
            image_id: image.image_id,
            title: image.title,
            width: image.preview.width,
            height: image.preview.height,
            media_type: image.preview.media_type,
            size_bytes: image.preview.size_bytes,
          })),
      }));
  }

  private async sessionTo(username: string): Promise<PeerSession> {
    const user = await this.ctx.keys.byUsername(username);
    if (user.user_id === this.identity.user_id)
      throw new CloudP2PError(
        'invalid_argument',
        'that is you; see your images with `cloudp2p peer images --own`',
        ExitCode.usage,
      );
    const peer = await this.onlinePeer(user.user_id);
    if (!peer)
      throw new CloudP2PError(
        'peer_offline',
        `${username} is not online; previews come straight from the owner's agent`,
        ExitCode.unavailable,
      );
    return this.p2p.connect(peer);
  }

  /** Use case 4: the previews `username` offers, asked from their agent directly. */
  async previews(username: string): Promise<PreviewView[]> {
    const session = await this.sessionTo(username);
    const reply = (await session.request({ type: 'PreviewListRequest' })).message;
    if (reply.type !== 'PreviewList')
      throw new CloudP2PError('peer_bad_reply', `${username} answered ${reply.type}`);
    return reply.images.map((image) => ({ owner: username, ...image }));
  }

  /** One preview JPEG from `username`'s agent (checked: a JPEG within the limits). */
  async preview(username: string, imageId: string): Promise<Uint8Array> {
    const cacheKey = `${username}/${imageId}`;
    const cached = this.previewCache.get(cacheKey);
    if (cached) return cached;
    const session = await this.sessionTo(username);
    const reply = await session.request({ type: 'PreviewRequest', image_id: imageId });
    if (reply.message.type !== 'Preview' || reply.message.image_id !== imageId)
      throw new CloudP2PError('peer_bad_reply', `${username} answered ${reply.message.type}`);
    await checkPreview(reply.binary, reply.message);
    if (this.previewCache.size >= MAX_PREVIEW_CACHE)
      this.previewCache.delete(this.previewCache.keys().next().value as string);
    this.previewCache.set(cacheKey, reply.binary);
    return reply.binary;
  }

  /** Use case 3: hide an image through the cloud, keep it, offer it. */
  async encrypt(bytes: Uint8Array, title: string, operation = 'encrypt'): Promise<EncryptResult> {
    try {
      return await this.owner.encrypt(bytes, title, (step) =>
        this.events.emit({ type: 'encrypt-progress', operation, step }),
      );
    } finally {
      // Lets a follower of the event stream know it has seen every step.
      this.events.emit({ type: 'encrypt-progress', operation, step: ENCRYPT_DONE_STEP });
    }
  }

  ownImages(): Promise<OwnImageView[]> {
    return this.owner.images();
  }

  ownStego(imageId: string): Uint8Array {
    return this.owner.stegoCopy(imageId);
  }

  ownPreview(imageId: string): Uint8Array {
    return this.owner.previewBytes(imageId);
  }

  /** Use case 6: requests to me (`owner`) or mine (`requester`). */
  async requests(
    role: 'owner' | 'requester',
    status?: 'pending' | 'accepted' | 'rejected',
  ): Promise<RequestView[]> {
    return (await this.directory.requests(role, status)).map(requestView);
  }

  /** Use cases 5 and 8: ask `owner` for views of an image (more views if already granted). */
  request(owner: string, imageId: string, views: number): Promise<RequestCreated> {
    return this.viewer.request(owner, imageId, views);
  }

  /** Use case 6: accept (makes and delivers the viewer's copy) or reject. */
  answer(requestId: string, decision: 'accepted' | 'rejected'): Promise<AnswerResult> {
    return this.owner.answer(requestId, decision);
  }

  /** Use case 9: grants I gave, with their delivery state. */
  grants(): Promise<GrantView[]> {
    return this.owner.grants();
  }

  /** Use case 9: give `username` a total of `quota` views (a new viewer gets a copy). */
  setGrant(imageId: string, username: string, quota: number): Promise<GrantView> {
    return this.owner.setGrant(imageId, username, quota);
  }

  revoke(imageId: string, username: string): Promise<GrantView> {
    return this.owner.revoke(imageId, username);
  }

  /** Use case 7: images received, with views left. */
  received(): ReceivedView[] {
    return this.viewer.received();
  }

  /** Use case 7: one view of `owner/imageId` (my own images are unlimited). */
  view(owner: string, imageId: string): Promise<ViewOutcome> {
    return this.viewer.view(owner, imageId, () => this.owner.stegoCopy(imageId));
  }

  viewFile(bytes: Uint8Array): Promise<ViewOutcome> {
    return this.viewer.viewFile(bytes);
  }

  /** Rebuilds permissions from the directory and catches up on everything pending. */
  async sync(): Promise<SyncReport> {
    const asViewer = await this.directory.grants('viewer');
    for (const grant of asViewer) this.viewer.applyDirectoryGrant(grant);
    await this.viewer.reconcileViews(asViewer);
    const asOwner = await this.owner.syncGrants();
    let offered = 0;
    try {
      offered = await this.owner.reofferMissing();
    } catch (err) {
      this.logger.warn('could not offer images again', { error: errorMessage(err) });
    }
    const applied = await this.pollUpdates();
    const fetched = await this.viewer.pullMissingCopies({ force: true });
    await this.owner.deliveryPass();
    this.setOnline(this.online, 'reachable');
    return {
      grants_as_owner: asOwner.grants,
      grants_as_viewer: asViewer.length,
      copies_built: asOwner.built,
      copies_fetched: fetched,
      updates_applied: applied,
      images_offered: offered,
    };
  }
}
