/**
 * Terms and epochs as one server holds them, and the answers a stale sender gets.
 *
 * `maxTerm` (the highest term seen) and `epoch` (the one we follow or lead) are the hard
 * state: every change is flagged for the runtime to persist before it sends anything, so a
 * restarted server never reuses an epoch and its epoch never goes backwards.
 */
import { invariant } from '../assert.js';
import {
  clockTerm,
  epochTerm,
  formatEpoch,
  MAX_TERM,
  OWN_TERM_LEAD_MAX,
  PEER_TERM_LEAD_MAX,
  type HardState,
} from '../epoch.js';
import type { ServerId, ServerMessage, StaleEpochMessage } from '../messages.js';
import { emit, sendTo } from './send.js';
import type { NodeState } from './state.js';

/**
 * A server's terms at start: what its previous run persisted, or, with no hard state and a
 * wall clock, a floor above every term it can ever have minted (OWN_TERM_LEAD_MAX above its
 * clock then), saved at once so a second loss cannot undo it. Without a wall clock (the
 * simulator, most unit tests) a server with no hard state starts at 0.
 */
export function startTerms(n: NodeState, restored: HardState | undefined): void {
  if (restored !== undefined) restoreHardState(n, restored);
  else if (n.wallClockOffset_ms !== null) noteTerm(n, ownTermCeiling(n));
}

/** The wall-clock time now (the node's own clock when the runtime gave no wall clock). */
function wallNow(n: NodeState): number {
  return n.now + (n.wallClockOffset_ms ?? 0);
}

/** Highest term we accept from a peer now. */
export function peerTermCeiling(n: NodeState): number {
  return Math.min(MAX_TERM, clockTerm(wallNow(n)) + PEER_TERM_LEAD_MAX);
}

/** Highest term we may mint now (above the peer ceiling: a push to it never blocks us). */
export function ownTermCeiling(n: NodeState): number {
  return Math.min(MAX_TERM, clockTerm(wallNow(n)) + OWN_TERM_LEAD_MAX);
}

/** Takes over what a previous run of this server persisted (ignoring impossible values). */
export function restoreHardState(n: NodeState, state: HardState): void {
  const term = Number.isInteger(state.max_term) ? state.max_term : 0;
  const epoch = Number.isInteger(state.epoch) ? state.epoch : 0;
  n.maxTerm = Math.max(0, Math.min(MAX_TERM, Math.max(term, epochTerm(epoch))));
  n.epoch = epoch >= 0 && epochTerm(epoch) <= MAX_TERM ? epoch : 0;
}

export function hardState(n: NodeState): HardState {
  return { max_term: n.maxTerm, epoch: n.epoch };
}

export function noteTerm(n: NodeState, term: number): void {
  if (term > n.maxTerm) {
    n.maxTerm = Math.min(term, MAX_TERM);
    n.out.hardStateDirty = true;
  }
}

export function setEpoch(n: NodeState, epoch: number): void {
  invariant(epoch >= n.epoch, 'epochs never decrease', () => ({
    server: n.id,
    from: formatEpoch(n.epoch),
    to: formatEpoch(epoch),
  }));
  if (epoch !== n.epoch) {
    n.epoch = epoch;
    noteTerm(n, epochTerm(epoch));
    n.out.hardStateDirty = true;
  }
}

/** Replies StaleEpoch to a sender behind us, at most once per heartbeat interval each. */
export function replyStale(n: NodeState, to: ServerId, rejectedType: string): void {
  n.counters.rejected_stale_epoch++;
  const last = n.hintSentAt.get(to);
  if (last !== undefined && n.now - last < n.config.heartbeat_interval_ms) return;
  n.hintSentAt.set(to, n.now);
  sendLeaderHint(n, to, rejectedType);
}

/** StaleEpoch doubles as "my leader is alive" when answering an Election in our epoch. */
export function sendLeaderHint(n: NodeState, to: ServerId, rejectedType: string): void {
  const msg: StaleEpochMessage = {
    type: 'StaleEpoch',
    from: n.id,
    epoch: n.epoch,
    leader_id: n.leaderId,
    rejected_type: rejectedType,
  };
  sendTo(n, to, msg);
}

/** A well-formed message that makes no sense (e.g. an epoch its sender could not mint). */
export function rejectInvalid(n: NodeState, m: ServerMessage, reason: string): void {
  n.counters.rejected_invalid++;
  emit(n, {
    type: 'messageRejected',
    from: { kind: 'server', id: m.from },
    reason: `${m.type}: ${reason}`,
  });
}
