/**
 * The JSON shapes of the peer web page's own routes (`/ui/...`, served by ui.ts next to the
 * agent API). Types only, no imports: the page compiles against this file.
 */

/** Where the page was served from, and so what "sign out" means there. */
export type UiHostKind =
  /** `cloudp2p peer ui`: the page stays after sign-out; it can register and sign in again. */
  | 'ui'
  /** An agent started by `peer start` / `peer login`: signing out stops it (and the page). */
  | 'agent';

export type UiSessionState =
  /** No identity in the data directory yet: the page offers to register. */
  | 'unregistered'
  /** Registered, no agent running: the page offers to sign in. */
  | 'signed-out'
  | 'signing-in'
  /** The agent runs: every `/api/...` resource answers. */
  | 'signed-in'
  | 'signing-out';

export interface UiSession {
  state: UiSessionState;
  host: UiHostKind;
  username: string | null;
  user_id: string | null;
  /** The data directory (null while unregistered with no directory chosen yet). */
  data_dir: string | null;
  /** Cloud servers used for registration and sign-in, "host:port". */
  servers: string[];
  /** A username the page should suggest when registering (e.g. from `--user`). */
  suggested_username: string | null;
  /** Why the last register / sign-in / sign-out failed, in words (null when it did not). */
  problem: string | null;
}

/** `POST /ui/ticket` body: the one-time code from the link's fragment. */
export interface UiTicketExchange {
  ticket: string;
}

/** `POST /ui/ticket` answer: the API token the page sends from now on. */
export interface UiTicketGranted {
  token: string;
}

/** `POST /ui/tickets` answer (token required): a fresh one-time link to open the page. */
export interface UiTicketIssued {
  ticket: string;
  url: string;
  expires_in_ms: number;
}

/** `POST /ui/register` body. */
export interface UiRegisterRequest {
  username: string;
}
