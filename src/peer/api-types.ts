/**
 * The shapes the peer agent's local HTTP API returns and its event stream sends (see README.md
 * in this folder). Types only, no imports: the CLI, the API server and the web page (issue 6)
 * all compile against this file.
 */

export const API_VERSION = 1;

/** The last `encrypt-progress` step of an operation (sent also when it fails). */
export const ENCRYPT_DONE_STEP = 'done';

export interface AgentStatus {
  api_version: number;
  username: string;
  user_id: string;
  /** `running`: `cloudp2p peer start` (listens for peers, signed in); `one-shot`: a CLI command. */
  mode: 'running' | 'one-shot';
  /** Signed in and heartbeating (always false in one-shot mode). */
  online: boolean;
  /** Whether the last directory call succeeded. */
  directory: 'reachable' | 'unreachable' | 'unknown';
  p2p: { host: string; port: number } | null;
  data_dir: string;
  servers: string[];
  counts: {
    own_images: number;
    received: number;
    copies_waiting_for_delivery: number;
  };
  /**
   * What the last sign-in applied that others changed while this user was away (running mode;
   * null until that catch-up is done, and in one-shot mode).
   */
  away: AwayItem[] | null;
}

export interface OfferedImageView {
  image_id: string;
  title: string;
  width: number;
  height: number;
  media_type: string;
  size_bytes: number;
}

/** An online user and the images they offer. */
export interface PeerView {
  user_id: string;
  username: string;
  address: string;
  port: number;
  last_seen_at_ms: number;
  images: OfferedImageView[];
}

/** A preview the owner's agent offers (fetched peer to peer). */
export interface PreviewView {
  owner: string;
  image_id: string;
  title: string;
  /** Size of the full image. */
  width: number;
  height: number;
  preview_size_bytes: number;
}

/** Most offline views an owner may allow per grant, and the default (src/peer/offline-allowance.ts). */
export const MAX_OFFLINE_VIEWS = 10;
export const DEFAULT_OFFLINE_VIEWS = 1;
export const DEFAULT_OFFLINE_WINDOW_MS = 24 * 60 * 60 * 1000;
/** The shortest and longest offline window an owner may allow. */
export const OFFLINE_WINDOW_LIMITS_MS = { min: 60 * 60 * 1000, max: 7 * 24 * 60 * 60 * 1000 };

/** The owner's offline allowance of one grant (src/peer/offline-allowance.ts). */
export interface OfflineAllowance {
  /** Views usable while the viewer's agent cannot reach the cloud (0: none). */
  views: number;
  /** How long after the cloud last confirmed the count those views may be used. */
  window_ms: number;
}

export type Delivery =
  /** The viewer's agent holds the copy and the latest rights. */
  | 'delivered'
  /** Waiting for the viewer to come online (copy or rights update not delivered yet). */
  | 'pending'
  /** No copy was made (revoked before one was needed). */
  | 'none';

export interface GrantView {
  image_id: string;
  viewer: string;
  viewer_id: string;
  /** Total views allowed (views already used count against it). */
  quota: number;
  /**
   * Views the viewer has used, as their agent last reported to the directory (null: unknown,
   * e.g. an older cloud). Views left = quota - views_used.
   */
  views_used: number | null;
  version: number;
  revoked: boolean;
  delivery: Delivery;
  /** Why the viewer does not have it yet, when it is not just "offline". */
  problem?: string;
  /**
   * The offline allowance signed into the viewer's copy (views usable while the viewer's agent
   * cannot reach the cloud, within window_ms of its last contact); null until a copy is made.
   */
  offline: OfflineAllowance | null;
}

export interface OwnImageView {
  image_id: string;
  title: string;
  media_type: string;
  width: number;
  height: number;
  size_bytes: number;
  preview: { width: number; height: number; size_bytes: number };
  created_at_ms: number;
  /**
   * Whether the directory lists it (false and not withdrawn: it will be offered again at the
   * next sync).
   */
  offered: boolean;
  /** The owner withdrew it (`peer withdraw`): not offered any more; its grants stand. */
  withdrawn: boolean;
  grants: GrantView[];
}

/** What `peer withdraw` / DELETE /api/images/:image_id did. */
export interface WithdrawResult {
  image: OwnImageView;
  /** Grants revoked with it (only when asked: `revoke_grants`). */
  revoked: GrantView[];
}

export interface RequestView {
  request_id: string;
  owner: string;
  owner_id: string;
  requester: string;
  requester_id: string;
  image_id: string;
  views: number;
  kind: 'access' | 'more_views';
  status: 'pending' | 'accepted' | 'rejected';
  created_at_ms: number;
  answered_at_ms: number | null;
}

export interface RequestCreated {
  request: RequestView;
  /** The owner's agent was told at once (it was online); otherwise it sees it at sign-in. */
  owner_notified: boolean;
}

export interface AnswerResult {
  request: RequestView;
  grant?: GrantView;
}

export type ReceivedState =
  | 'viewable'
  | 'used_up'
  | 'revoked'
  /** Accepted, but the copy has not arrived yet (it comes when both agents are online). */
  | 'waiting_for_copy';

export interface ReceivedView {
  owner: string;
  owner_id: string;
  image_id: string;
  quota: number;
  consumed: number;
  views_left: number;
  revoked: boolean;
  /** Grant version the ledger holds. */
  version: number;
  state: ReceivedState;
  /** Rights version signed inside the stored copy (null without a copy). */
  file_version: number | null;
  size_bytes: number | null;
  /** The offline allowance the owner signed into the copy (null without a copy). */
  offline: OfflineAllowance | null;
  /** Views used offline since the cloud last confirmed the count. */
  offline_used: number;
  /** Offline views are allowed until then; null: the cloud never confirmed it on this agent. */
  offline_until_ms: number | null;
}

export type ViewReason =
  /** Shown, one view used. */
  | 'ok'
  /** Your own image: unlimited. */
  | 'own_image'
  | 'quota_used'
  | 'revoked'
  | 'not_named'
  | 'tampered'
  | 'wrong_owner_key'
  | 'damaged'
  | 'not_a_copy'
  | 'no_copy'
  /** Offline, and the owner's offline allowance is used until the agent reaches the cloud. */
  | 'offline_used'
  /** Offline, and the directory never confirmed the count on this agent, or too long ago. */
  | 'not_synced';

export interface ViewRecord {
  /** `shown`: the hidden image; `default`: the default image, for `reason`. */
  verdict: 'shown' | 'default';
  reason: ViewReason;
  message: string;
  owner: string | null;
  image_id: string | null;
  views_left: number | null;
  quota: number | null;
  consumed: number | null;
  media_type: 'image/png' | 'image/jpeg';
  size_bytes: number;
}

/** A view as the API returns it: the image itself is fetched once from `image_url`. */
export interface ApiViewRecord extends ViewRecord {
  view_id: string;
  image_url: string;
}

/**
 * One change others made while this user was signed out, applied at sign-in: a request that
 * arrived, an answer to one of theirs, a quota changed or access revoked. `text` says it in a
 * sentence (the CLI and the web page show it as is).
 */
export interface AwayItem {
  kind: 'request_received' | 'request_answered' | 'grant_changed' | 'grant_revoked';
  /** The other user: who asked, who answered, or the owner who changed the grant. */
  user: string;
  image_id: string;
  text: string;
}

export interface SyncReport {
  grants_as_owner: number;
  grants_as_viewer: number;
  copies_built: number;
  copies_fetched: number;
  updates_applied: number;
  images_offered: number;
}

export interface EncryptResult {
  image: OwnImageView;
  stego_size_bytes: number;
  server_id: number;
  latency_ms: number;
  reassignments: number;
}

/** Events on GET /api/events (server-sent events; `event:` is the type, `data:` the JSON). */
export type AgentEvent =
  | { type: 'status'; online: boolean; directory: AgentStatus['directory'] }
  | { type: 'request-received'; request: RequestView }
  | { type: 'request-answered'; request: RequestView }
  | { type: 'image-added'; image_id: string; title: string }
  | { type: 'image-received'; owner: string; image_id: string; views_left: number }
  /** The sign-in's catch-up is done: what others changed while this user was away. */
  | { type: 'signed-in'; away: AwayItem[] }
  | {
      type: 'rights-changed';
      owner: string;
      image_id: string;
      quota: number;
      version: number;
      revoked: boolean;
      views_left: number;
    }
  | { type: 'grant-changed'; grant: GrantView }
  | { type: 'image-viewed'; owner: string; image_id: string; views_left: number | null }
  | { type: 'encrypt-progress'; operation: string; step: string }
  | { type: 'stopping'; reason: string };
export type AgentEventType = AgentEvent['type'];
