/**
 * The peer page's logic that needs no browser: how the agent's answers and events are put
 * into words, which lists an event makes stale, what the address bar means, and checks on what
 * the person typed or picked. Pure (no DOM), so test/unit/web/ runs it in Node.
 */
import type {
  AgentEvent,
  GrantView,
  OfflineAllowance,
  ReceivedView,
  RequestView,
  ViewReason,
  ViewRecord,
} from '../../../peer/api-types.js';
import { describeAllowance } from '../../../peer/allowance-words.js';
import { USERNAME_PATTERN } from '../../../protocol/ids.js';

// ---- Errors in words ------------------------------------------------------------------------

/** An error the page shows: a short title and a sentence saying what to do. */
export interface Problem {
  /** HTTP status (0: the agent did not answer at all). */
  status: number;
  code: string;
  title: string;
  detail: string;
  /** A command to run in a terminal that fixes it (shown on its own line), when there is one. */
  command?: string;
}

/** "the owner is offline" → "The owner is offline." */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?)]$/.test(first) ? first : `${first}.`;
}

/** The command in a message: the last `cloudp2p …` between backticks. */
function commandIn(message: string): string | null {
  const commands = [...message.matchAll(/`(cloudp2p [^`]{1,300})`/g)];
  return commands.at(-1)?.[1] ?? null;
}

/** "username “alice” is already taken." → "Username “alice” is already taken" (a title). */
function titleOf(said: string): string {
  return said.replace(/\.$/, '');
}

/**
 * Short titles for codes whose own words need one; the agent's sentence is the detail. Codes
 * not named here get the agent's sentence itself as the title: it says what is wrong, where a
 * title by HTTP status ("That cannot be done now") would not.
 */
const TITLES: Record<string, string> = {
  username_taken: 'That username is taken',
  already_registered: 'Already registered on this computer',
  already_signed_in: 'Already signed in',
  limit_exceeded: 'A limit was reached',
  not_here: 'Not possible from this page',
  image_invalid: 'The image could not be read',
  image_unsupported: 'That kind of image cannot be used',
  image_too_large: 'That image is too large',
  capacity_exceeded: 'The image does not fit in the cover',
  file_too_large: 'That file is too large',
  body_too_large: 'That file is too large',
};

/** What the person can do about a failure the agent did not foresee. */
function adviceFor(status: number): string {
  return status >= 500 ? 'Try again; if it keeps failing, the agent’s log says more.' : '';
}

/**
 * Turns an API error (status, and the `{ error: { code, message } }` body when there is one)
 * into words. The agent's messages are already sentences about the problem; this adds what
 * the person can do about it.
 */
export function explainProblem(status: number, code: string, message: string): Problem {
  const said = sentence(message);
  const make = (title: string, detail: string): Problem => ({ status, code, title, detail });
  if (status === 0)
    return make(
      'The cloudp2p program is not answering',
      'It may have stopped. Start it again with `cloudp2p peer ui` and open the new link.',
    );
  if (code === 'link_used')
    return {
      ...make(
        'This link was already used or has expired',
        'Each link opens the page once, within 10 minutes. For a new link, run this in a terminal:',
      ),
      command: commandIn(message) ?? 'cloudp2p peer ui',
    };
  if (status === 401)
    return make(
      'This page is no longer connected',
      'The cloudp2p program was restarted or this tab never got its link. Run `cloudp2p peer ui` and open the link it prints.',
    );
  if (code === 'signed_out') return make('You are signed out', 'Sign in again to continue.');
  if (status === 429) return make('Too many actions at once', 'Wait a moment and try again.');
  if (status === 415)
    return make('That kind of file cannot be used', 'Choose a PNG or JPEG image.');
  if (code === 'directory_unreachable' || code === 'cloud_unreachable')
    return make(
      'The cloud cannot be reached',
      `${said} Check that the cloud servers are running, then try again.`,
    );
  if (code === 'peer_offline' || code === 'peer_unreachable')
    return make('That person is not reachable right now', said);
  if (status === 503)
    return make(
      'The cloud or the other person could not be reached',
      `${said} Try again in a moment.`,
    );
  const advice = adviceFor(status);
  const title = TITLES[code];
  if (title) return make(title, [said, advice].filter(Boolean).join(' '));
  if (said) return make(titleOf(said), advice);
  return make(
    'The agent did not say what went wrong',
    `It answered with status ${status}${code.startsWith('http_') ? '' : ` (${code})`}. ${advice}`.trim(),
  );
}

// ---- Navigation -----------------------------------------------------------------------------

export const SECTIONS = ['images', 'people', 'requests', 'received'] as const;
export type Section = (typeof SECTIONS)[number];

export const SECTION_LABELS: Record<Section, string> = {
  images: 'My images',
  people: 'People online',
  requests: 'Requests',
  received: 'Received',
};

/** `#ticket=<code>` (the one-time link `cloudp2p peer ui` prints), else null. */
export function ticketFromHash(hash: string): string | null {
  const match = /^#ticket=([A-Za-z0-9_-]{24})$/.exec(hash);
  return match ? (match[1] as string) : null;
}

/** `#/people` → people; `#/` or no fragment → images; other fragments (`#main`) → null. */
export function sectionFromHash(hash: string): Section | null {
  if (hash === '' || hash === '#' || hash === '#/') return 'images';
  const match = /^#\/([a-z]+)$/.exec(hash);
  const name = match?.[1] ?? '';
  return (SECTIONS as readonly string[]).includes(name) ? (name as Section) : null;
}

// ---- What an event changes --------------------------------------------------------------------

/** The lists the page keeps; an event makes some of them stale. */
export type Resource = 'status' | 'images' | 'peers' | 'inbox' | 'sent' | 'received';

export function staleAfter(event: AgentEvent): Resource[] {
  switch (event.type) {
    case 'status':
      return ['status', 'peers'];
    case 'request-received':
      return ['inbox'];
    case 'request-answered':
      return ['sent', 'received', 'status'];
    case 'image-added':
      return ['images', 'status'];
    case 'image-received':
      return ['received', 'status'];
    case 'rights-changed':
      return ['received'];
    case 'grant-changed':
      return ['images', 'status'];
    case 'image-viewed':
      return ['received'];
    case 'signed-in':
      // The sign-in caught up with what others did meanwhile (status says what, in `away`).
      return ['status', 'inbox', 'sent', 'received', 'images'];
    default:
      return [];
  }
}

/** How an image is named in a sentence: “Title” when known, else its id. */
export type ImageNamer = (owner: string | null, imageId: string) => string;

export const idOnly: ImageNamer = (_owner, imageId) => imageId;

/** A line for the activity list and the screen reader (null: not worth announcing). */
export function noticeFor(event: AgentEvent, name: ImageNamer = idOnly): string | null {
  switch (event.type) {
    case 'request-received': {
      const r = event.request;
      const views = plural(r.views, r.kind === 'more_views' ? 'more view' : 'view');
      return `${r.requester} asks for ${views} of ${name(r.owner, r.image_id)}.`;
    }
    case 'request-answered': {
      const r = event.request;
      return `${r.owner} ${r.status === 'accepted' ? 'accepted' : 'declined'} your request for ${name(r.owner, r.image_id)}.`;
    }
    case 'image-added':
      return `“${event.title}” is encrypted and offered to others.`;
    case 'image-received':
      return `You received ${event.owner}’s image ${name(event.owner, event.image_id)} with ${plural(event.views_left, 'view')}.`;
    case 'rights-changed':
      return event.revoked
        ? `${event.owner} took back your access to ${name(event.owner, event.image_id)}.`
        : `${event.owner} changed your views of ${name(event.owner, event.image_id)}: ${plural(event.views_left, 'view')} left.`;
    case 'grant-changed': {
      const g = event.grant;
      const what = g.revoked ? 'access revoked' : `${plural(g.quota, 'view')} in total`;
      const image = name(null, g.image_id);
      return g.delivery === 'pending'
        ? `${image} for ${g.viewer}: ${what} — waits until ${g.viewer} is online.`
        : `${image} for ${g.viewer}: ${what}${g.delivery === 'delivered' ? ' — delivered.' : '.'}`;
    }
    case 'status':
      return event.online
        ? 'You are online.'
        : 'The cloud’s directory cannot be reached; retrying.';
    default:
      return null;
  }
}

// ---- Describing things ----------------------------------------------------------------------

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** State of a received image: a word, an icon (shape, not only colour) and a sentence. */
export interface Badge {
  tone: 'ok' | 'wait' | 'bad' | 'neutral';
  icon: string;
  label: string;
  detail: string;
}

export function receivedBadge(r: ReceivedView): Badge {
  switch (r.state) {
    case 'viewable':
      return {
        tone: 'ok',
        icon: '✓',
        label: `${r.views_left} of ${r.quota} left`,
        detail: `You may open it ${plural(r.views_left, 'more time')}.`,
      };
    case 'used_up':
      return {
        tone: 'bad',
        icon: '✕',
        label: 'No views left',
        detail: `All ${plural(r.quota, 'view')} used; opening it shows the default image.`,
      };
    case 'revoked':
      return {
        tone: 'bad',
        icon: '✕',
        label: 'Access revoked',
        detail: `${r.owner} took back your access; opening it shows the default image.`,
      };
    case 'waiting_for_copy':
      return {
        tone: 'wait',
        icon: '◔',
        label: 'Copy on its way',
        detail: `${plural(r.views_left, 'view')} granted; the copy arrives when ${r.owner} is online.`,
      };
  }
}

/**
 * The offline allowance in words, as the CLI says it (src/peer/allowance-words.ts):
 * "1 offline view within 24 hours of the last contact with the cloud" (null: no copy yet).
 */
export function describeOffline(allowance: OfflineAllowance | null): string | null {
  return allowance ? describeAllowance(allowance) : null;
}

/**
 * What the viewer may still see offline: the owner's allowance, and how much of it this agent
 * used since the cloud last confirmed the count (null: no copy yet, so nothing offline).
 */
export function receivedOfflineText(r: ReceivedView, now_ms: number): string | null {
  const allowance = describeOffline(r.offline);
  if (!allowance || !r.offline) return null;
  const owner = `${r.owner} allows ${allowance}`;
  if (r.offline.views === 0) return `Offline: ${owner}.`;
  if (r.offline_until_ms === null)
    return `Offline: ${owner}; none on this agent until it has reached the cloud once.`;
  if (now_ms >= r.offline_until_ms)
    return `Offline: ${owner}; the window has passed: none until this agent reaches the cloud again.`;
  const left = Math.max(0, r.offline.views - r.offline_used);
  return `Offline: ${owner}; ${plural(left, 'offline view')} left until ${formatUntil(r.offline_until_ms)}.`;
}

/** A moment within the next days, in the reader's locale: "3 Dec 2026, 14:05". */
export function formatUntil(at_ms: number): string {
  return new Date(at_ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "2 of 5 used · 3 left" for the owner's grants table (null: the agent did not say). */
export function viewsUsedText(g: GrantView): string | null {
  if (g.views_used === undefined || g.views_used === null) return null;
  const left = Math.max(0, g.quota - g.views_used);
  return `${g.views_used} of ${g.quota} used · ${left} left`;
}

export function grantBadge(g: GrantView): Badge {
  if (g.delivery === 'pending')
    return {
      tone: 'wait',
      icon: '◔',
      label: 'Waiting for viewer',
      detail: g.problem ?? `${g.viewer} is offline: the change reaches them when they sign in.`,
    };
  if (g.revoked)
    return { tone: 'bad', icon: '✕', label: 'Revoked', detail: `${g.viewer} has no access.` };
  if (g.delivery === 'none')
    return { tone: 'neutral', icon: '–', label: 'No copy', detail: 'No copy was made.' };
  return {
    tone: 'ok',
    icon: '✓',
    label: 'Up to date',
    detail: `${g.viewer} has the copy and the latest views.`,
  };
}

const REASONS: Record<ViewReason, string> = {
  ok: 'One view was used.',
  own_image: 'Your own image: you can open it as often as you like.',
  quota_used: 'No views are left, so the default image is shown instead.',
  revoked: 'The owner took back your access, so the default image is shown instead.',
  not_named: 'This copy was made for someone else, so the default image is shown instead.',
  tampered:
    'This copy was changed after its owner signed it and cannot be trusted, so the default image is shown instead.',
  wrong_owner_key:
    'This copy is not signed by its owner’s key, so the default image is shown instead.',
  damaged: 'This copy is damaged, so the default image is shown instead.',
  not_a_copy: 'This file is not a shared copy, so the default image is shown instead.',
  no_copy:
    'The copy has not arrived yet (it comes when the owner is online), so the default image is shown instead.',
  offline_used:
    'The cloud cannot be reached and the views the owner allows offline are used, so the default image is shown instead.',
  not_synced:
    'The cloud cannot be reached and this agent has not reached it recently enough to view offline, so the default image is shown instead.',
};

/** What a view says beside the picture. */
export function viewCaption(record: ViewRecord): { title: string; detail: string } {
  if (record.verdict === 'shown') {
    if (record.reason === 'own_image') return { title: 'Your image', detail: REASONS.own_image };
    const left = record.views_left ?? 0;
    return {
      title: left === 0 ? 'Shown — that was the last view' : `Shown — ${plural(left, 'view')} left`,
      detail: REASONS.ok,
    };
  }
  return { title: 'Default image', detail: REASONS[record.reason] ?? sentence(record.message) };
}

/**
 * The viewer dialog's heading. The real image's title appears only once the real image is
 * shown: the default image is not that picture, so it never carries its title.
 */
export function viewerHeading(
  target: { owner: string; image_id: string; title: string | null; own: boolean } | null,
  record: Pick<ViewRecord, 'verdict'> | null,
): string {
  if (!target) return '';
  const whose = target.own ? 'your image' : `${target.owner}’s image`;
  if (!record) return `Opening ${whose}…`;
  if (record.verdict !== 'shown') return `The default image, not ${whose}`;
  const name = target.title ? `“${target.title}”` : target.image_id;
  return target.own ? `Your image ${name}` : `${target.owner}’s image ${name}`;
}

/** The request page's groups: to answer, answered by me, and mine. */
export function splitRequests(inbox: RequestView[]): {
  waiting: RequestView[];
  answered: RequestView[];
} {
  const byNewest = (a: RequestView, b: RequestView): number => b.created_at_ms - a.created_at_ms;
  return {
    waiting: inbox.filter((r) => r.status === 'pending').sort(byNewest),
    answered: inbox.filter((r) => r.status !== 'pending').sort(byNewest),
  };
}

// ---- Checking input ---------------------------------------------------------------------------

export const USERNAME_RULE =
  '3 to 32 characters: lowercase letters, digits, _ and -, starting with a letter';

/** Null when fine, else what is wrong. */
export function usernameProblem(name: string): string | null {
  if (name === '') return 'Enter a username.';
  if (USERNAME_PATTERN.test(name)) return null;
  return `“${name.slice(0, 40)}” cannot be a username: use ${USERNAME_RULE}.`;
}

/** Parses a whole number in [min, max] typed in a field; returns it or what is wrong. */
export function parseCount(
  text: string,
  min: number,
  max: number,
): { value: number } | { problem: string } {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return { problem: `Enter a whole number from ${min} to ${max}.` };
  const value = Number(trimmed);
  if (value < min || value > max) return { problem: `Enter a whole number from ${min} to ${max}.` };
  return { value };
}

/** Largest image the agent takes (src/peer/images.ts: 12 MiB). */
export const MAX_UPLOAD_BYTES = 12 * 1024 * 1024;

export function uploadProblem(file: { name: string; type: string; size: number }): string | null {
  if (file.type !== 'image/png' && file.type !== 'image/jpeg')
    return `“${file.name}” is not a PNG or JPEG image; choose one of those.`;
  if (file.size === 0) return `“${file.name}” is empty.`;
  if (file.size > MAX_UPLOAD_BYTES)
    return `“${file.name}” is ${formatBytes(file.size)}; at most ${formatBytes(MAX_UPLOAD_BYTES)} can be shared.`;
  return null;
}

/** A title from a file name: "holiday-photo.jpg" → "holiday-photo". */
export function titleFromFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = name.replace(/\.[A-Za-z0-9]{1,5}$/, '').replace(/[\u0000-\u001f\u007f]/g, '');
  return cleaned.slice(0, 200) || 'Untitled';
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A random operation id for POST /api/images, to follow its progress events. */
export function operationId(random: () => number): string {
  let id = 'up';
  for (let i = 0; i < 10; i++) id += Math.floor(random() * 36).toString(36);
  return id;
}
