/** One-line descriptions of requests, grants and received images, as the `peer` commands print them. */
import type { GrantView, ReceivedView, RequestView, ViewReason } from '../../../peer/api-types.js';
import { printable } from '../../../util/printable.js';
import { count } from '../../../util/words.js';

export function describeRequest(r: RequestView): string {
  const what = r.kind === 'more_views' ? `${count(r.views, 'more view')}` : count(r.views, 'view');
  return `${r.request_id}  ${r.requester} asks ${r.owner} for ${what} of ${r.image_id}  [${r.status}]`;
}

export function describeGrant(g: GrantView): string {
  const state = g.revoked
    ? `revoked${g.views_used ? ` (${count(g.views_used, 'view')} used before)` : ''}`
    : `${count(g.quota, 'view')}${viewsUsed(g)}`;
  const delivery = g.problem
    ? `  (pending: ${printable(g.problem)})`
    : g.delivery === 'pending'
      ? '  (pending: waits for the viewer to come online)'
      : '';
  return `${g.image_id} -> ${g.viewer}: ${state}, version ${g.version}${delivery}`;
}

/** ` (2 used, 3 left)` from the viewer's last report to the directory; empty when unknown. */
function viewsUsed(g: GrantView): string {
  if (typeof g.views_used !== 'number') return '';
  const used = Math.min(g.views_used, g.quota);
  return ` (${used} used, ${g.quota - used} left)`;
}

export function describeReceived(r: ReceivedView): string {
  const state = {
    viewable: `${r.views_left} of ${count(r.quota, 'view')} left`,
    used_up: `no views left (${r.quota} used)`,
    revoked: 'access revoked',
    waiting_for_copy: `${count(r.views_left, 'view')} granted; the copy arrives when ${r.owner} is online`,
  }[r.state];
  return `${r.owner}/${r.image_id}: ${state}`;
}

/** Why a view showed the default image because access was refused (exit 7), not damage (exit 5). */
export const DENIED_REASONS: ReadonlySet<ViewReason> = new Set<ViewReason>([
  'quota_used',
  'revoked',
  'not_named',
  'tampered',
  'wrong_owner_key',
  'not_a_copy',
  'no_copy',
  'offline_used',
  'not_synced',
]);
