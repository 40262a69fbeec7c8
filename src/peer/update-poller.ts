/**
 * Queued updates (offline best effort): what others did while this user was away — requests
 * to them, answers to their requests, grants changed or revoked — waits in the directory.
 * The poller takes it in batches, applies each update once (idempotent), acknowledges the
 * batch, and starts fetching copies that became available.
 */
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AwayItem } from './api-types.js';
import { awayItem } from './away.js';
import { requestView, type EventBus } from './context.js';
import type { WireUpdate } from './directory-client.js';
import type { PeerDirectory } from './directory.js';
import type { ViewerGrants } from './viewer-grants.js';
import type { CopyReceiver } from './viewer-receive.js';

const UPDATE_BATCH = 100;
/** Batches taken in one run at most; more wait for the next heartbeat. */
const MAX_BATCHES_PER_RUN = 20;
/** Lines of a "while you were away" summary kept at most (later ones are applied, not listed). */
export const MAX_AWAY_ITEMS = 50;
/** Updates described while catching up at most (memory bound; one batch run is at most 2000). */
const MAX_UPDATES_DESCRIBED = UPDATE_BATCH * MAX_BATCHES_PER_RUN;

export interface UpdatePollerOptions {
  userId: string;
  directory: PeerDirectory;
  grants: Pick<ViewerGrants, 'applyDirectoryGrant'>;
  receiving: Pick<CopyReceiver, 'pullMissingCopies'>;
  events: EventBus;
  logger: Logger;
  /** Copies are fetched after updates only by a running agent (one-shot commands do not). */
  fetchCopies: boolean;
  stopped(): boolean;
}

export class UpdatePoller {
  private polling: Promise<number> | null = null;
  private pollAgain = false;
  /** While a sign-in catches up: what the updates applied changed, in words. */
  private away: AwayItem[] | null = null;

  constructor(private readonly options: UpdatePollerOptions) {}

  /** Takes and applies the directory's queued updates; concurrent calls share one run. */
  poll(): Promise<number> {
    if (this.polling) {
      this.pollAgain = true;
      return this.polling;
    }
    const run = (async () => {
      let applied = 0;
      do {
        this.pollAgain = false;
        applied += await this.drain();
      } while (this.pollAgain && !this.options.stopped());
      return applied;
    })();
    this.polling = run;
    void run.then(
      () => (this.polling = null),
      () => (this.polling = null),
    );
    return run;
  }

  /**
   * Runs `catchUp` (the sign-in's sync, which polls) and says what the updates it applied
   * changed: the "while you were away" of a sign-in. Several updates of one grant are one
   * line (the last); at most MAX_AWAY_ITEMS lines.
   */
  async describeWhile<T>(catchUp: () => Promise<T>): Promise<{ result: T; away: AwayItem[] }> {
    const collected: AwayItem[] = [];
    this.away = collected;
    try {
      const result = await catchUp();
      const byGrant = new Map<string, AwayItem>();
      const items: AwayItem[] = [];
      for (const item of collected) {
        const grantNews = item.kind === 'grant_changed' || item.kind === 'grant_revoked';
        if (!grantNews) items.push(item);
        else byGrant.set(`${item.user}/${item.image_id}`, item);
      }
      return { result, away: [...items, ...byGrant.values()].slice(0, MAX_AWAY_ITEMS) };
    } finally {
      this.away = null;
    }
  }

  private async drain(): Promise<number> {
    const { directory, logger } = this.options;
    let applied = 0;
    let fetchCopies = false;
    for (let round = 0; round < MAX_BATCHES_PER_RUN; round++) {
      const updates = await directory.takeUpdates(UPDATE_BATCH);
      for (const update of updates) {
        try {
          if (this.apply(update)) fetchCopies = true;
          applied++;
          const item = this.away ? awayItem(update, this.options.userId) : null;
          if (item && this.away && this.away.length < MAX_UPDATES_DESCRIBED) this.away.push(item);
        } catch (err) {
          logger.error('could not apply a queued update; dropping it', {
            update: update.update_id,
            kind: update.kind,
            error: errorMessage(err),
          });
        }
      }
      if (updates.length > 0) await directory.ackUpdates(updates.map((u) => u.update_id));
      if (updates.length < UPDATE_BATCH) break;
    }
    if (fetchCopies && this.options.fetchCopies)
      void this.options.receiving.pullMissingCopies({ force: true }).catch(() => undefined);
    return applied;
  }

  /** Applies one update (idempotent); true when a copy may now be fetched. */
  private apply(update: WireUpdate): boolean {
    const { userId: me, events, grants } = this.options;
    if (update.recipient_id !== me) return false;
    switch (update.kind) {
      case 'request_created':
        if (update.request.owner_id === me)
          events.emit({ type: 'request-received', request: requestView(update.request) });
        return false;
      case 'request_answered': {
        if (update.request.requester_id !== me) return false;
        events.emit({ type: 'request-answered', request: requestView(update.request) });
        if (update.grant) {
          grants.applyDirectoryGrant(update.grant);
          return !update.grant.revoked;
        }
        return false;
      }
      case 'grant_updated':
      case 'grant_revoked':
        grants.applyDirectoryGrant(update.grant);
        return !update.grant.revoked;
      default:
        return false;
    }
  }
}
