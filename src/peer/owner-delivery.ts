/**
 * Delivering to viewers: the copy made for a viewer and the latest signed rights reach them
 * directly (P2P) when they are online, else wait; every heartbeat tries what waits again (a
 * viewer that failed is retried later, unless back at a new address). Also how far a grant's
 * delivery got, as the owner sees it.
 */
import { sign } from '../identity/keys.js';
import { toHex } from '../protocol/directory-protocol.js';
import { errorMessage } from '../util/errors.js';
import type { AgentDatabase, CopyOutRow } from './agent-db.js';
import type { Delivery, GrantView } from './api-types.js';
import type { AgentContext } from './context.js';
import { DEFAULT_OFFLINE_ALLOWANCE } from './offline-allowance.js';
import { rightsUpdateBytes } from './copies.js';
import type { WireGrant } from './directory-client.js';

/** How long an owner waits for a viewer to pull a whole copy. */
const DELIVERY_TIMEOUT_MS = 120_000;
/** After a failed delivery to an online viewer, wait this long before the next try. */
const RETRY_AFTER_FAILURE_MS = 15_000;
/** Failed deliveries remembered at most (forgotten all at once beyond: they are retried). */
const MAX_FAILED_DELIVERIES = 10_000;

/** Grants as the owner sees them, with how far each viewer's copy and rights got. */
export function grantViews(db: AgentDatabase, grants: WireGrant[]): GrantView[] {
  return grants.map((grant) => grantView(grant, db.copy(grant.image_id, grant.viewer_id)));
}

export function grantView(grant: WireGrant, copy: CopyOutRow | undefined): GrantView {
  let delivery: Delivery;
  // A copy revoked before it reached the viewer is never sent: there is nothing to deliver.
  if (!copy || (!copy.copy_delivered && grant.revoked))
    delivery = grant.revoked ? 'none' : 'pending';
  else
    delivery =
      copy.copy_delivered &&
      copy.rights_delivered_version >= Math.max(grant.version, copy.grant_version)
        ? 'delivered'
        : 'pending';
  return {
    image_id: grant.image_id,
    viewer: grant.viewer_username,
    viewer_id: grant.viewer_id,
    quota: grant.quota,
    views_used: grant.views_used ?? null,
    version: grant.version,
    revoked: grant.revoked,
    delivery,
    offline: copy ? (copy.offline ?? DEFAULT_OFFLINE_ALLOWANCE) : null,
  };
}

export class CopyDelivery {
  /** Failed deliveries: when, and to which address (a viewer back at a new address is retried at once). */
  private readonly failed = new Map<string, { at_ms: number; address: string }>();

  constructor(private readonly ctx: AgentContext) {}

  /**
   * Delivers what the viewer lacks (the copy, then the latest signed rights) if the viewer is
   * online; otherwise leaves it pending. Never throws: failures leave it pending too.
   */
  async deliver(imageId: string, viewerId: string): Promise<Delivery> {
    return this.ctx.serialize(`deliver:${imageId}:${viewerId}`, async () => {
      let address = '';
      const copy = this.ctx.db.copy(imageId, viewerId);
      if (!copy) return 'none';
      // Revoked before the viewer had the copy: the viewer would only be refused the copy, and
      // without it has nothing the revocation could apply to. Nothing waits for them.
      if (!copy.copy_delivered && copy.revoked) return 'none';
      if (copy.copy_delivered && copy.rights_delivered_version >= copy.grant_version)
        return 'delivered';
      try {
        const peer = await this.ctx.onlinePeer(viewerId);
        if (!peer) return 'pending';
        address = `${peer.address}:${peer.port}`;
        const session = await this.ctx.p2p.connect(peer);
        if (!copy.copy_delivered) {
          const reply = await session.request(
            { type: 'CopyAvailable', image_id: imageId, version: copy.copy_version },
            { timeout_ms: DELIVERY_TIMEOUT_MS },
          );
          if (reply.message.type !== 'Ack')
            throw new Error(`expected Ack, got ${reply.message.type}`);
          this.ctx.db.markCopyDelivered(imageId, viewerId, copy.copy_version);
        }
        const now = this.ctx.db.copy(imageId, viewerId) as CopyOutRow;
        if (now.rights_delivered_version < now.grant_version) {
          const signature = sign(
            this.ctx.me.keys,
            rightsUpdateBytes({
              owner: this.ctx.me.username,
              imageId,
              viewer: now.viewer_username,
              quota: now.quota,
              revoked: now.revoked,
              version: now.grant_version,
              imageDigest: now.image_digest,
              offline: now.offline,
            }),
          );
          const reply = await session.request({
            type: 'RightsUpdate',
            image_id: imageId,
            quota: now.quota,
            version: now.grant_version,
            revoked: now.revoked,
            signature: toHex(signature),
          });
          if (reply.message.type !== 'Ack')
            throw new Error(`expected Ack, got ${reply.message.type}`);
          this.ctx.db.markRightsDelivered(imageId, viewerId, now.grant_version);
        }
        this.ctx.logger.info('delivered to viewer', {
          image: imageId,
          viewer: copy.viewer_username,
        });
        this.failed.delete(`${imageId}/${viewerId}`);
        return 'delivered';
      } catch (err) {
        if (this.failed.size > MAX_FAILED_DELIVERIES) this.failed.clear();
        this.failed.set(`${imageId}/${viewerId}`, { at_ms: Date.now(), address });
        this.ctx.logger.info('delivery postponed', {
          image: imageId,
          viewer: copy.viewer_username,
          reason: errorMessage(err),
        });
        return 'pending';
      }
    });
  }

  /** Tries every undelivered copy or rights update once (viewers offline stay pending). */
  async deliverPending(): Promise<number> {
    let delivered = 0;
    const now = Date.now();
    for (const copy of this.ctx.db.undeliveredCopies()) {
      // A viewer who is online but refused or failed is tried again only later — unless they
      // signed in again at another address (the failure was the old, dead one).
      const failed = this.failed.get(`${copy.image_id}/${copy.viewer_id}`);
      if (failed && now - failed.at_ms < RETRY_AFTER_FAILURE_MS) {
        const peer = await this.ctx.onlinePeer(copy.viewer_id).catch(() => null);
        if (!peer || `${peer.address}:${peer.port}` === failed.address) continue;
      }
      if ((await this.deliver(copy.image_id, copy.viewer_id)) === 'delivered') {
        delivered++;
        // What waited for the viewer has reached them: say so (the web page's "waiting" mark).
        const now = this.ctx.db.copy(copy.image_id, copy.viewer_id) ?? copy;
        this.ctx.events.emit({
          type: 'grant-changed',
          grant: {
            image_id: now.image_id,
            viewer: now.viewer_username,
            viewer_id: now.viewer_id,
            quota: now.quota,
            views_used: null, // the copy's record does not hold it; `peer grants` asks the directory
            version: now.grant_version,
            revoked: now.revoked,
            delivery: 'delivered',
            offline: now.offline ?? DEFAULT_OFFLINE_ALLOWANCE,
          },
        });
      }
    }
    return delivered;
  }
}
