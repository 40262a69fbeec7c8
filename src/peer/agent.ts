/**
 * The peer agent: one per user, with its own data directory. `running` mode (`cloudp2p peer
 * start`) listens for peers on an OS-chosen port, signs in to the directory with that address,
 * heartbeats, applies queued updates, and delivers copies and rights to viewers as they come
 * online. `one-shot` mode serves a single CLI command when no agent runs: it acts for the user
 * through signed directory requests and outgoing P2P connections, without signing in.
 *
 * Every use case is one method here; the local HTTP API (api-server.ts) and the CLI call them.
 * The work is done by the parts it wires together: registration.ts, presence.ts (sign in,
 * heartbeats, sign out), update-poller.ts (what waited in the directory), online-peers.ts
 * (who is online, previews), owner.ts and viewer.ts (the two sides of sharing).
 */
import { randomBytes } from 'node:crypto';
import { CloudClient } from '../client/cloud-client.js';
import { resolveCloudTrust } from '../client/cloud-trust.js';
import type { PeerMessage } from '../protocol/peer-protocol.js';
import type { Endpoint } from '../transport/endpoint.js';
import type { CloudTrust } from '../transport/tls.js';
import { ExitCode, UsageError, errorMessage } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { AgentDatabase } from './agent-db.js';
import { explainWrongCloud, sameTrust, savedCloudCa, trustOfSaved } from './cloud-ca.js';
import type {
  OfflineAllowance,
  AgentStatus,
  AwayItem,
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
  WithdrawResult,
} from './api-types.js';
import { API_VERSION, ENCRYPT_DONE_STEP } from './api-types.js';
import {
  BackgroundWork,
  EventBus,
  KeyBook,
  KeyedQueue,
  requestView,
  type AgentContext,
} from './context.js';
import type { DataDir, StoredIdentity } from './data-dir.js';
import { PeerDirectory } from './directory.js';
import { OnlinePeers } from './online-peers.js';
import { P2PNode } from './p2p-node.js';
import { PeerRefusal, type PeerSession, type Reply } from './p2p-session.js';
import type { P2PTransportKind } from './p2p-tls.js';
import { OwnerSide } from './owner.js';
import { Presence } from './presence.js';
import { registerUser, type Registered, type RegistrationRequest } from './registration.js';
import { UpdatePoller } from './update-poller.js';
import { ViewerSide } from './viewer.js';
import type { ViewOutcome } from './viewer-views.js';

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
  /**
   * The cloud's CA named now (--cloud-ca / --cloud-fingerprint): overrides and, at sign-in,
   * replaces the one saved at registration (cloud-ca.ts).
   */
  cloudTrust?: CloudTrust;
  /** Where the P2P listener binds (default 127.0.0.1) and the address published for it. */
  listenHost?: string;
  advertiseHost?: string;
  listenPort?: number;
  /** The port published for the listener when something forwards to it (default: its own). */
  advertisePort?: number;
  /** `tls` (default); `plaintext-benchmark-only` is for `npm run bench:peer` alone. */
  p2pTransport?: P2PTransportKind;
  heartbeat_ms?: number;
  directoryTimeout_ms?: number;
  /** An image or copy task fails only after this long without a result from the cloud. */
  cloudDeadline_ms?: number;
  logger?: Logger;
}

/** How long stop() waits for best-effort work (view reports) to reach the directory. */
const BACKGROUND_GRACE_MS = 2000;

export class PeerAgent {
  readonly events = new EventBus();
  private readonly ctx: AgentContext;
  private readonly owner: OwnerSide;
  private readonly viewer: ViewerSide;
  private readonly directory: PeerDirectory;
  private readonly db: AgentDatabase;
  private readonly p2p: P2PNode;
  private readonly logger: Logger;
  private readonly presence: Presence;
  private readonly updates: UpdatePoller;
  private readonly onlinePeers: OnlinePeers;
  private readonly queue = new KeyedQueue();
  /** Best-effort work that stop() gives a moment to finish (view reports). */
  private readonly background = new BackgroundWork();
  private cloudClient: Promise<CloudClient> | null = null;
  private releaseLock: (() => void) | null = null;
  private stopped = false;
  /** What the sign-in applied that others changed meanwhile (null until it has caught up). */
  private away: AwayItem[] | null = null;

  private constructor(
    private readonly options: PeerAgentOptions,
    readonly identity: StoredIdentity,
    private readonly servers: Endpoint[],
    private readonly clusterId: number,
    /** Undefined: none named or saved; resolved (env, local cloud) when first needed. */
    private readonly cloudTrust: CloudTrust | undefined,
  ) {
    this.logger = options.logger ?? createLogger(`peer/${identity.username}`);
    this.db = new AgentDatabase(options.dataDir.databasePath);
    this.directory = new PeerDirectory({
      servers,
      clusterId,
      ...(cloudTrust ? { trust: cloudTrust } : {}),
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
      ...(options.p2pTransport ? { transport: options.p2pTransport } : {}),
    });
    this.onlinePeers = new OnlinePeers({
      userId: identity.user_id,
      directory: this.directory,
      keys,
      p2p: this.p2p,
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
      onlinePeer: (userId) => this.onlinePeers.find(userId),
      serialize: (key, task) => this.queue.run(key, task),
      inBackground: (task) => this.background.add(task),
    };
    this.owner = new OwnerSide(this.ctx);
    this.viewer = new ViewerSide(this.ctx);
    this.presence = new Presence({
      identity,
      directory: this.directory,
      events: this.events,
      logger: this.logger,
      heartbeat_ms: options.heartbeat_ms ?? 5000,
      onBeat: (pending) => this.afterHeartbeat(pending),
    });
    this.updates = new UpdatePoller({
      userId: identity.user_id,
      directory: this.directory,
      grants: this.viewer.grants,
      receiving: this.viewer.receiving,
      events: this.events,
      logger: this.logger,
      fetchCopies: options.mode === 'running',
      stopped: () => this.stopped,
    });
  }

  // ---- Use case 1: register ------------------------------------------------------------------

  /** Registers a new user in `dataDir` (registration.ts). */
  static register(args: RegistrationRequest): Promise<Registered> {
    return registerUser(args);
  }

  /** Opens the agent of the user registered in `dataDir` (no network yet). */
  static open(options: PeerAgentOptions): PeerAgent {
    const identity = options.dataDir.readIdentity();
    const settings = options.dataDir.readSettings();
    const servers = options.servers ?? settings?.servers ?? DEFAULT_PEER_SERVERS;
    const clusterId = options.clusterId ?? settings?.cluster_id ?? 1;
    const trust =
      options.cloudTrust ??
      (settings?.cloud_ca
        ? trustOfSaved(settings.cloud_ca, options.dataDir.configPath)
        : undefined);
    options.dataDir.securePermissions();
    return new PeerAgent(options, identity, servers, clusterId, trust);
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
      await this.presence.signIn(advertise, this.options.advertisePort ?? bound.port);
      this.saveCloudTrust();
    } catch (err) {
      await this.stop('start failed');
      throw explainWrongCloud(err);
    }
    this.updates
      .describeWhile(() => this.sync())
      .then(({ away }) => {
        this.away = away;
        this.events.emit({ type: 'signed-in', away });
      })
      .catch((err: unknown) =>
        this.logger.warn('sync at sign-in failed; retried on the next heartbeats', {
          error: errorMessage(err),
        }),
      );
    this.presence.startHeartbeats();
  }

  /** The work of a heartbeat: take updates, retry copies and deliveries, fetch missing copies. */
  private async afterHeartbeat(pendingUpdates: number): Promise<void> {
    if (pendingUpdates > 0) await this.updates.poll();
    await this.owner.grants.retryCopies();
    await this.owner.delivery.deliverPending();
    await this.viewer.receiving.pullMissingCopies();
  }

  /** Logs out (running mode), closes every connection and the database. Idempotent. */
  async stop(reason = 'stopped'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.events.emit({ type: 'stopping', reason });
    await this.presence.stop();
    await this.p2p.close();
    if (this.cloudClient) {
      const client = await this.cloudClient.catch(() => null);
      client?.close();
    }
    // Let in-flight work that still holds the database finish its current statement, and
    // view reports reach the directory if they can within a moment.
    await this.queue.settled();
    await this.background.settle(BACKGROUND_GRACE_MS);
    this.directory.close();
    this.db.close();
    if (this.options.mode === 'running') this.options.dataDir.removeAgentInfo();
    this.releaseLock?.();
  }

  /** Tells the directory this user is offline (e.g. after a crash, without a running agent). */
  signOut(): Promise<void> {
    return this.presence.signOut();
  }

  // ---- Shared plumbing ---------------------------------------------------------------------------

  /**
   * After a sign-in: the CA that just worked is saved with the settings, so the agent keeps
   * trusting this cloud (and only it) wherever it runs, whatever the environment says later.
   */
  private saveCloudTrust(): void {
    const dataDir = this.options.dataDir;
    const settings = dataDir.readSettings();
    if (!settings) return;
    const trust = this.cloudTrust ?? resolveCloudTrust();
    const saved = settings.cloud_ca ? trustOfSaved(settings.cloud_ca, dataDir.configPath) : null;
    if (saved && sameTrust(saved, trust)) return;
    dataDir.writeSettings({ ...settings, cloud_ca: savedCloudCa(trust) });
    this.logger.info('saved the cloud CA this agent trusts', { kind: trust.kind });
  }

  private cloud(): Promise<CloudClient> {
    if (!this.cloudClient) {
      const connecting = CloudClient.connect({
        clientId: `peer-${this.identity.username}-${randomBytes(4).toString('hex')}`,
        servers: this.servers,
        clusterId: this.clusterId,
        taskDeadline_ms: this.options.cloudDeadline_ms ?? 120_000,
        connectTimeout_ms: 15_000,
        ...(this.cloudTrust ? { trust: this.cloudTrust } : {}),
      });
      this.cloudClient = connecting;
      connecting.catch(() => {
        if (this.cloudClient === connecting) this.cloudClient = null;
      });
    }
    return this.cloudClient;
  }

  private async handlePeer(session: PeerSession, message: PeerMessage): Promise<Reply> {
    if (this.stopped)
      throw new PeerRefusal('stopping', 'the agent is shutting down', ExitCode.unavailable);
    if (message.type === 'RequestNotice') {
      // The request itself is in the directory: take it from there (a forged notice costs us
      // one directory call, coalesced with any other).
      void this.updates.poll().catch(() => undefined);
      return { message: { type: 'Ack' } };
    }
    const reply =
      (await this.owner.serving.handle(session, message)) ??
      (await this.viewer.receiving.handle(session, message));
    if (!reply)
      throw new PeerRefusal('unsupported', `${message.type} is not served here`, ExitCode.badInput);
    return reply;
  }

  // ---- The use cases --------------------------------------------------------------------------

  status(): AgentStatus {
    return {
      api_version: API_VERSION,
      username: this.identity.username,
      user_id: this.identity.user_id,
      mode: this.options.mode,
      online: this.presence.isOnline,
      directory: this.presence.directoryReachability,
      p2p: this.p2p.address,
      data_dir: this.options.dataDir.root,
      servers: this.servers.map((s) => `${s.host}:${s.port}`),
      counts: {
        own_images: this.db.ownImages().length,
        received: this.db.receivedAll().length,
        copies_waiting_for_delivery: this.db.undeliveredCopies().length,
      },
      away: this.away,
    };
  }

  /** Use case 4: online users and what they offer (yourself excluded). */
  async peers(): Promise<PeerView[]> {
    const peers = await this.onlinePeers.list();
    this.presence.directoryAnswered();
    return peers;
  }

  /** Use case 4: the previews `username` offers, asked from their agent directly. */
  previews(username: string): Promise<PreviewView[]> {
    return this.onlinePeers.previews(username);
  }

  /** One preview JPEG from `username`'s agent (checked: a JPEG within the limits). */
  preview(username: string, imageId: string): Promise<Uint8Array> {
    return this.onlinePeers.preview(username, imageId);
  }

  /** Use case 3: hide an image through the cloud, keep it, offer it. */
  encrypt(bytes: Uint8Array, title: string, operation = 'encrypt'): Promise<EncryptResult> {
    return this.reportingSteps(operation, (progress) =>
      this.owner.images.encrypt(bytes, title, progress),
    );
  }

  /**
   * Runs `work`, sending each step it reports as an `encrypt-progress` event of `operation`,
   * and ENCRYPT_DONE_STEP last (also when it fails), so a follower of the event stream knows
   * it has seen every step.
   */
  private async reportingSteps<T>(
    operation: string,
    work: (progress: (step: string) => void) => Promise<T>,
  ): Promise<T> {
    try {
      return await work((step) => this.events.emit({ type: 'encrypt-progress', operation, step }));
    } finally {
      this.events.emit({ type: 'encrypt-progress', operation, step: ENCRYPT_DONE_STEP });
    }
  }

  ownImages(): Promise<OwnImageView[]> {
    return this.owner.images.images();
  }

  ownStego(imageId: string): Uint8Array {
    return this.owner.images.stegoCopy(imageId);
  }

  ownPreview(imageId: string): Uint8Array {
    return this.owner.images.previewBytes(imageId);
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
    return this.viewer.grants.request(owner, imageId, views);
  }

  /**
   * Use case 6: accept (makes and delivers the viewer's copy) or reject. With `operation`, the
   * steps are emitted as `encrypt-progress` events of that operation (the copy goes through
   * the cloud as an encryption does), ending with ENCRYPT_DONE_STEP.
   */
  answer(
    requestId: string,
    decision: 'accepted' | 'rejected',
    offline?: OfflineAllowance,
    operation?: string,
  ): Promise<AnswerResult> {
    if (operation === undefined) return this.owner.grants.answer(requestId, decision, offline);
    return this.reportingSteps(operation, (progress) =>
      this.owner.grants.answer(requestId, decision, offline, progress),
    );
  }

  /** Use case 9: grants I gave, with their delivery state. */
  grants(): Promise<GrantView[]> {
    return this.owner.grants.grants();
  }

  /** Use case 9: give `username` a total of `quota` views (a new viewer gets a copy). */
  setGrant(
    imageId: string,
    username: string,
    quota: number,
    offline?: OfflineAllowance,
  ): Promise<GrantView> {
    return this.owner.grants.setGrant(imageId, username, quota, offline);
  }

  revoke(imageId: string, username: string): Promise<GrantView> {
    return this.owner.grants.revoke(imageId, username);
  }

  /** Stops offering an own image (OwnerGrants.withdraw). */
  withdraw(imageId: string, options: { revokeGrants?: boolean } = {}): Promise<WithdrawResult> {
    return this.owner.grants.withdraw(imageId, options);
  }

  /** Use case 7: images received, with views left. */
  received(): ReceivedView[] {
    return this.viewer.viewing.received();
  }

  /** Use case 7: one view of `owner/imageId` (my own images are unlimited). */
  view(owner: string, imageId: string): Promise<ViewOutcome> {
    return this.viewer.viewing.view(owner, imageId, () => this.owner.images.stegoCopy(imageId));
  }

  viewFile(bytes: Uint8Array): Promise<ViewOutcome> {
    return this.viewer.viewing.viewFile(bytes);
  }

  /** Rebuilds permissions from the directory and catches up on everything pending. */
  async sync(): Promise<SyncReport> {
    const asViewer = await this.directory.grants('viewer');
    for (const grant of asViewer) this.viewer.grants.applyDirectoryGrant(grant);
    await this.viewer.grants.reconcileViews(asViewer);
    const asOwner = await this.owner.grants.syncGrants();
    let offered = 0;
    try {
      offered = await this.owner.images.reofferMissing();
    } catch (err) {
      this.logger.warn('could not offer images again', { error: errorMessage(err) });
    }
    const applied = await this.updates.poll();
    const fetched = await this.viewer.receiving.pullMissingCopies({ force: true });
    await this.owner.delivery.deliverPending();
    this.presence.directoryAnswered();
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
