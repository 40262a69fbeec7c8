/**
 * The viewer's grants (use cases 5 and 8, and the directory's side of 7): asking an owner for
 * an image or for more views (telling the owner's agent at once when it is online), taking the
 * grants the directory reports into the ledger, and exchanging view counts with the directory
 * so that views used offline are reported and a lost ledger cannot give views back.
 */
import { randomUUID } from 'node:crypto';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { viewsLeft } from './agent-db.js';
import type { RequestCreated } from './api-types.js';
import { requestView, type AgentContext } from './context.js';

export class ViewerGrants {
  constructor(private readonly ctx: AgentContext) {}

  async request(ownerName: string, imageId: string, views: number): Promise<RequestCreated> {
    if (!Number.isSafeInteger(views) || views < 1 || views > 10_000)
      throw new CloudP2PError(
        'invalid_argument',
        'views must be an integer from 1 to 10000',
        ExitCode.usage,
      );
    const owner = await this.ctx.keys.byUsername(ownerName);
    if (owner.user_id === this.ctx.me.user_id)
      throw new CloudP2PError(
        'invalid_argument',
        'that is your own image: you can view it any time',
        ExitCode.usage,
      );
    const request = await this.ctx.directory
      .createRequest({
        owner_id: owner.user_id,
        image_id: imageId,
        views,
        request_id: randomUUID(),
      })
      .catch((err: unknown) => {
        // The likely slip: one's own image id under another user's name.
        if (
          err instanceof CloudP2PError &&
          err.code === 'not_found' &&
          this.ctx.db.ownImage(imageId)
        )
          throw new CloudP2PError(
            'not_found',
            `${ownerName} does not offer ${imageId}; ${imageId} is your own image (${this.ctx.me.username}/${imageId}): you can view it any time`,
            err.exitCode,
          );
        throw err;
      });
    let notified = false;
    try {
      const peer = await this.ctx.onlinePeer(owner.user_id);
      if (peer) {
        const session = await this.ctx.p2p.connect(peer);
        await session.request(
          { type: 'RequestNotice', request_id: request.request_id },
          { timeout_ms: 5000 },
        );
        notified = true;
      }
    } catch (err) {
      this.ctx.logger.info('owner not told at once; it will see the request at sign-in', {
        owner: ownerName,
        reason: errorMessage(err),
      });
    }
    return { request: requestView(request), owner_notified: notified };
  }

  /**
   * Exchanges view counts with the directory for every grant I hold: reports views it has not
   * seen (used while offline) and takes back a higher count (after this agent lost its ledger).
   */
  async reconcileViews(
    grants: Array<{
      owner_id: string;
      owner_username: string;
      image_id: string;
      viewer_id: string;
    }>,
  ): Promise<void> {
    for (const grant of grants) {
      if (grant.viewer_id !== this.ctx.me.user_id) continue;
      const local = this.ctx.db.ledger(grant.owner_id, grant.image_id)?.consumed ?? 0;
      try {
        const known = await this.ctx.directory.recordViews({
          owner_id: grant.owner_id,
          image_id: grant.image_id,
          consumed: local,
        });
        if (known > local)
          this.ctx.db.mergeLedger(
            {
              owner_id: grant.owner_id,
              image_id: grant.image_id,
              owner_username: grant.owner_username,
            },
            null,
            known,
          );
        // The directory now holds every view this agent used: the offline window starts again.
        this.ctx.db.markOnline(grant.owner_id, grant.image_id);
      } catch (err) {
        this.ctx.logger.warn('could not exchange view counts with the directory', {
          image: grant.image_id,
          error: errorMessage(err),
        });
      }
    }
  }

  /** A grant as the directory reports it to me as the viewer. */
  applyDirectoryGrant(grant: {
    owner_id: string;
    owner_username: string;
    image_id: string;
    viewer_id: string;
    quota: number;
    version: number;
    revoked: boolean;
  }): boolean {
    if (grant.viewer_id !== this.ctx.me.user_id) return false;
    const before = this.ctx.db.ledger(grant.owner_id, grant.image_id);
    const ledger = this.ctx.db.mergeLedger(
      { owner_id: grant.owner_id, image_id: grant.image_id, owner_username: grant.owner_username },
      grant,
    );
    if (before && before.version >= grant.version) return false;
    this.ctx.events.emit({
      type: 'rights-changed',
      owner: grant.owner_username,
      image_id: grant.image_id,
      quota: ledger.quota,
      version: ledger.version,
      revoked: ledger.revoked,
      views_left: viewsLeft(ledger),
    });
    return true;
  }
}
