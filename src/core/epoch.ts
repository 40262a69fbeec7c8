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

/** Largest term we accept, so that every epoch stays an exact JavaScript integer. */
export const MAX_TERM = 1_000_000_000_000;

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
