/**
 * The owner's side of sharing, in four parts: own images (encrypt, keep, offer: owner-images.ts),
 * grants and the viewers' copies (owner-grants.ts), delivery to viewers (owner-delivery.ts), and
 * what is served to other agents (owner-serving.ts).
 */
import type { AgentContext } from './context.js';
import { CopyDelivery } from './owner-delivery.js';
import { OwnerGrants } from './owner-grants.js';
import { OwnImages } from './owner-images.js';
import { OwnerServing } from './owner-serving.js';

export class OwnerSide {
  readonly images: OwnImages;
  readonly delivery: CopyDelivery;
  readonly grants: OwnerGrants;
  readonly serving: OwnerServing;

  constructor(ctx: AgentContext) {
    this.images = new OwnImages(ctx);
    this.delivery = new CopyDelivery(ctx);
    this.grants = new OwnerGrants(ctx, this.images, this.delivery);
    this.serving = new OwnerServing(ctx, this.images);
  }
}
