/**
 * What the parts of the agent share: the user's identity, the data directory and database, the
 * directory, the P2P node, pinned keys, the event bus, a per-key queue and background work.
 * The owner side (owner-*.ts) and the viewer side (viewer-*.ts) take one AgentContext.
 */
import type { CloudClient } from '../client/cloud-client.js';
import { fromHex } from '../protocol/directory-protocol.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AgentDatabase } from './agent-db.js';
import type { AgentEvent, RequestView } from './api-types.js';
import type { DataDir } from './data-dir.js';
import type { WireRequest, WireUser } from './directory-client.js';
import type { PeerDirectory } from './directory.js';
import type { P2PNode } from './p2p-node.js';
import { PeerRefusal, type LocalPeer, type PeerIdentity } from './p2p-session.js';

export type OnlinePeer = PeerIdentity & { address: string; port: number };

export interface AgentContext {
  me: LocalPeer;
  dataDir: DataDir;
  db: AgentDatabase;
  directory: PeerDirectory;
  p2p: P2PNode;
  keys: KeyBook;
  events: EventBus;
  logger: Logger;
  mode: 'running' | 'one-shot';
  cloud(): Promise<CloudClient>;
  /** The user's agent address if they are online now, else null. */
  onlinePeer(userId: string): Promise<OnlinePeer | null>;
  /** Runs `task` after every earlier task with the same key (one copy build per viewer...). */
  serialize<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Best-effort work nobody waits for (errors ignored); stop() lets it finish briefly. */
  inBackground(task: Promise<unknown>): void;
}

/** Runs tasks with the same key one after another (one copy build per viewer, ...). */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return run;
  }

  /** Resolves when every task queued so far has finished. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }
}

/** Best-effort work nobody waits for (errors ignored), given a moment to finish at stop. */
export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>();

  add(task: Promise<unknown>): void {
    const running = task.catch(() => undefined);
    this.running.add(running);
    void running.then(() => this.running.delete(running));
  }

  /** Waits for the work running now, at most `within_ms`. */
  async settle(within_ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, within_ms);
      }),
    ]);
    clearTimeout(timer);
  }
}

export class EventBus {
  private readonly listeners = new Set<(event: AgentEvent) => void>();

  on(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: AgentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener (a closed stream) must not stop the agent's work.
      }
    }
  }
}

/**
 * Other users' public keys: pinned in agent.sqlite the first time they are seen, so later
 * checks (copies, rights updates, handshakes) work offline and a directory that starts
 * answering a different key for a known user is noticed.
 */
export class KeyBook {
  constructor(
    private readonly db: AgentDatabase,
    private readonly directory: PeerDirectory,
  ) {}

  async byId(userId: string): Promise<PeerIdentity> {
    const pinned = this.db.keyById(userId);
    if (pinned) return pinned;
    return this.pin(await this.directory.userById(userId));
  }

  async byUsername(username: string): Promise<PeerIdentity> {
    const pinned = this.db.keyByUsername(username);
    if (pinned) return pinned;
    return this.pin(await this.directory.userByUsername(username));
  }

  /** Pins a key the directory gave (e.g. in the online list); refuses one that changed. */
  check(user: { user_id: string; username: string; public_key: string }): PeerIdentity {
    return this.pin(user);
  }

  private pin(user: Pick<WireUser, 'user_id' | 'username' | 'public_key'>): PeerIdentity {
    const publicKey = fromHex(user.public_key, 32) as Uint8Array;
    const pinned = this.db.keyById(user.user_id);
    if (pinned) {
      if (
        pinned.username !== user.username ||
        !Buffer.from(pinned.public_key).equals(Buffer.from(publicKey))
      )
        throw new PeerRefusal(
          'key_changed',
          `the directory now gives ${user.username} (${user.user_id}) a different key or name than the one pinned on ${new Date(pinned.pinned_at_ms).toISOString()}; refusing to trust it`,
        );
      return pinned;
    }
    this.db.pinKey({ user_id: user.user_id, username: user.username, public_key: publicKey });
    return { user_id: user.user_id, username: user.username, public_key: publicKey };
  }
}

export function requestView(request: WireRequest): RequestView {
  return {
    request_id: request.request_id,
    owner: request.owner_username,
    owner_id: request.owner_id,
    requester: request.requester_username,
    requester_id: request.requester_id,
    image_id: request.image_id,
    views: request.views,
    kind: request.kind,
    status: request.status,
    created_at_ms: request.created_at_ms,
    answered_at_ms: request.answered_at_ms,
  };
}

export function notFound(message: string): CloudP2PError {
  return new CloudP2PError('not_found', message, ExitCode.badInput);
}
