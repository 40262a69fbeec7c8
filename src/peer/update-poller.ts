/**
 * Queued updates (offline best effort): what others did while this user was away — requests
 * to them, answers to their requests, grants changed or revoked — waits in the directory.
 * The poller takes it in batches, applies each update once (idempotent), acknowledges the
 * batch, and starts fetching copies that became available.
 */
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { requestView, type EventBus } from './context.js';
import type { WireUpdate } from './directory-client.js';
import type { PeerDirectory } from './directory.js';
import type { ViewerGrants } from './viewer-grants.js';
import type { CopyReceiver } from './viewer-receive.js';

const UPDATE_BATCH = 100;
/** Batches taken in one run at most; more wait for the next heartbeat. */
const MAX_BATCHES_PER_RUN = 20;

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
