/**
 * The agent's presence in the directory (use cases 2 and 10): it signs in with the address
 * peers reach it at, heartbeats, signs in again when the directory dropped it (e.g. this
 * process was paused past the presence TTL), and signs out. It also keeps what the status
 * shows about it (online, directory reachable) and announces each change as a `status` event.
 */
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AgentStatus } from './api-types.js';
import type { EventBus } from './context.js';
import type { StoredIdentity } from './data-dir.js';
import { DirectoryRequestError } from './directory-client.js';
import type { PeerDirectory } from './directory.js';

export interface PresenceOptions {
  identity: StoredIdentity;
  directory: PeerDirectory;
  events: EventBus;
  logger: Logger;
  heartbeat_ms: number;
  /** The work of one heartbeat after presence was refreshed, told how many updates wait. */
  onBeat(pending_updates: number): Promise<void>;
}

export class Presence {
  private online = false;
  private directoryState: AgentStatus['directory'] = 'unknown';
  private published: { address: string; port: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  private stopped = false;

  constructor(private readonly options: PresenceOptions) {}

  get isOnline(): boolean {
    return this.online;
  }

  get directoryReachability(): AgentStatus['directory'] {
    return this.directoryState;
  }

  /** Signs in publishing `address:port` for peers. */
  async signIn(address: string, port: number): Promise<void> {
    const { identity, directory, logger } = this.options;
    const session = await directory.login(identity.username, identity.keys, { address, port });
    if (session.user_id !== identity.user_id)
      throw new CloudP2PError(
        'identity_mismatch',
        `the directory knows ${identity.username} as ${session.user_id}, but this data directory says ${identity.user_id}`,
        ExitCode.denied,
      );
    this.published = { address, port };
    this.setOnline(true, 'reachable');
    logger.info('signed in', { address, port, pending_updates: session.pending_updates });
  }

  /** Keeps the online state and says when the directory answered (or stopped answering). */
  setOnline(online: boolean, directory: AgentStatus['directory']): void {
    if (online === this.online && directory === this.directoryState) return;
    this.online = online;
    this.directoryState = directory;
    this.options.events.emit({ type: 'status', online, directory });
  }

  /** The directory answered a request: it is reachable (online unchanged). */
  directoryAnswered(): void {
    this.setOnline(this.online, 'reachable');
  }

  /** Heartbeats every `heartbeat_ms` until {@link stop}; one beat at a time. */
  startHeartbeats(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.beat().finally(() => this.startHeartbeats());
    }, this.options.heartbeat_ms);
    this.timer.unref();
  }

  /** One heartbeat: refresh presence (signing in again if dropped), then `onBeat`. */
  async beat(): Promise<void> {
    if (this.beating || this.stopped) return;
    this.beating = true;
    const { directory, logger } = this.options;
    try {
      let pending = 0;
      try {
        pending = (await directory.heartbeat()).pending_updates;
        this.setOnline(true, 'reachable');
      } catch (err) {
        if (err instanceof DirectoryRequestError && err.code === 'conflict' && this.published) {
          logger.info('presence expired; signing in again');
          await this.signIn(this.published.address, this.published.port);
          pending = 1;
        } else {
          this.setOnline(false, 'unreachable');
          logger.warn('heartbeat failed', { error: errorMessage(err) });
          return;
        }
      }
      await this.options.onBeat(pending);
    } catch (err) {
      logger.warn('heartbeat work failed', { error: errorMessage(err) });
    } finally {
      this.beating = false;
    }
  }

  /** Stops heartbeating and, if signed in, tells the directory (else its TTL will). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.online && this.published) {
      try {
        await this.options.directory.logout();
        this.options.logger.info('signed out');
      } catch (err) {
        this.options.logger.warn('could not tell the directory; the presence TTL will', {
          error: errorMessage(err),
        });
      }
    }
    this.online = false;
  }

  /** Tells the directory this user is offline (e.g. after a crash, without a running agent). */
  async signOut(): Promise<void> {
    await this.options.directory.logout();
    this.setOnline(false, 'reachable');
  }
}
