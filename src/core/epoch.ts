/**
 * Epochs: one number per leadership, unique across the cluster by construction.
 *
 * An epoch is `term * EPOCH_ID_SPACE + leader_id`. Only server `leader_id` can mint epochs
 * ending in its own id, and it always picks a term above every term it has seen, so two
 * servers can never claim the same epoch, and one server never claims the same epoch twice
 * (as long as it keeps its {@link HardState} across restarts). Comparing epochs as plain
 * numbers orders them by term first, then by id, which is how concurrent claims of the
 * same term are settled: the higher epoch wins and the other leader steps down.
 *
 * Epoch 0 means "no leadership seen yet".
 */

/** Server ids must be in 1..EPOCH_ID_SPACE-1 so they fit in the low digits of an epoch. */
export const EPOCH_ID_SPACE = 1000;

/**
 * Largest term we accept, so that every epoch stays an exact JavaScript integer
 * (9e12 * 1000 + 999 < 2^53). Terms are bounded by the wall clock in milliseconds (below),
 * so this lasts until the year 2255.
 */
export const MAX_TERM = 9_000_000_000_000;

/**
 * Terms are bounded by the wall clock (docs/ELECTION.md, "Bounded terms"): one term per
 * millisecond since 1970 is the most the cloud can ever use up, whatever its members send.
 *
 * - A term from a peer (an epoch's term or a `max_term`) more than PEER_TERM_LEAD_MAX above
 *   our clock is refused whole: a buggy or compromised member cannot push us further ahead.
 * - We mint a term at most OWN_TERM_LEAD_MAX above our clock (else the claim waits for the
 *   clock), which leaves room above the peer ceiling so a member pushing us to that ceiling
 *   can never block our own claims.
 * - A server with no hard state starts its highest term at OWN_TERM_LEAD_MAX above its clock:
 *   above every term it could have minted before (all at most that far above its clock then),
 *   so losing every hard-state file never makes a server reuse an epoch.
 */
export const PEER_TERM_LEAD_MAX = 1_000;
export const OWN_TERM_LEAD_MAX = 2_000;

/** The term a wall-clock time stands for: one term per millisecond. */
export function clockTerm(wall_ms: number): number {
  return Math.floor(wall_ms);
}

/** The epoch that server `leaderId` claims for `term`. */
export function makeEpoch(term: number, leaderId: number): number {
  return term * EPOCH_ID_SPACE + leaderId;
}

/** The term of an epoch (0 for epoch 0). */
export function epochTerm(epoch: number): number {
  return Math.floor(epoch / EPOCH_ID_SPACE);
}

/** The server that leads an epoch (0 for epoch 0). */
export function epochLeader(epoch: number): number {
  return epoch % EPOCH_ID_SPACE;
}

/** Human-readable form used in logs and traces: `term.leader`, e.g. `3.2`. */
export function formatEpoch(epoch: number): string {
  return epoch === 0 ? '0' : `${epochTerm(epoch)}.${epochLeader(epoch)}`;
}

/**
 * What a server must keep across restarts so it never reuses an epoch and its epoch never
 * goes backwards. Tiny; the runtime writes it (e.g. as JSON) whenever a Ready carries it,
 * before sending that Ready's messages.
 */
export interface HardState {
  /** Highest term this server has seen or claimed. */
  max_term: number;
  /** The epoch this server last accepted (0 if none). */
  epoch: number;
}
