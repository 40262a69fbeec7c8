/**
 * "While you were away": what a queued update that the sign-in applied changed for this user,
 * in one sentence the CLI and the web page show as is (src/peer/update-poller.ts collects them).
 */
import { count } from '../util/words.js';
import type { AwayItem } from './api-types.js';
import type { WireUpdate } from './directory-client.js';

/** The update in words, or null when it is not this user's news (e.g. their own request). */
export function awayItem(update: WireUpdate, me: string): AwayItem | null {
  switch (update.kind) {
    case 'request_created': {
      const r = update.request;
      if (r.owner_id !== me) return null;
      const views = count(r.views, r.kind === 'more_views' ? 'more view' : 'view');
      return {
        kind: 'request_received',
        user: r.requester_username,
        image_id: r.image_id,
        text: `${r.requester_username} asked for ${views} of ${r.image_id}`,
      };
    }
    case 'request_answered': {
      const r = update.request;
      if (r.requester_id !== me) return null;
      const views =
        r.status === 'accepted' && update.grant && !update.grant.revoked
          ? `: ${count(update.grant.quota, 'view')} in total`
          : '';
      return {
        kind: 'request_answered',
        user: r.owner_username,
        image_id: r.image_id,
        text: `${r.owner_username} ${r.status === 'accepted' ? 'accepted' : 'declined'} your request for ${r.image_id}${views}`,
      };
    }
    case 'grant_updated':
    case 'grant_revoked': {
      const g = update.grant;
      if (g.viewer_id !== me) return null;
      return g.revoked || update.kind === 'grant_revoked'
        ? {
            kind: 'grant_revoked',
            user: g.owner_username,
            image_id: g.image_id,
            text: `${g.owner_username} revoked your access to ${g.image_id}`,
          }
        : {
            kind: 'grant_changed',
            user: g.owner_username,
            image_id: g.image_id,
            text: `${g.owner_username} changed your views of ${g.image_id}: ${count(g.quota, 'view')} in total`,
          };
    }
    default:
      return null;
  }
}
