/**
 * The viewer's side of sharing, in three parts: grants (asking, and what the directory
 * reports: viewer-grants.ts), receiving copies and signed rights from owners
 * (viewer-receive.ts), and viewing (viewer-views.ts).
 */
import type { AgentContext } from './context.js';
import { ViewerGrants } from './viewer-grants.js';
import { CopyReceiver } from './viewer-receive.js';
import { ViewerViews } from './viewer-views.js';

export class ViewerSide {
  readonly grants: ViewerGrants;
  readonly receiving: CopyReceiver;
  readonly viewing: ViewerViews;

  constructor(ctx: AgentContext) {
    this.grants = new ViewerGrants(ctx);
    this.receiving = new CopyReceiver(ctx);
    this.viewing = new ViewerViews(ctx);
  }
}
