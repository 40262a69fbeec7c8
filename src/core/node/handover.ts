/**
 * Hysteresis: a live leader is never replaced because someone is momentarily less loaded.
 * It hands over only if its score exceeds the best follower's by more than the margin,
 * continuously for sustain_ms, and it has led at least that long.
 */
import type { HandoverMessage, ServerId } from '../messages.js';
import { betterCandidate } from '../score.js';
import { becomeLeaderless, claimLeadership, stepDown } from './leadership.js';
import { myScore } from './load.js';
import { emit, sendTo } from './send.js';
import type { Member, NodeState } from './state.js';
import { computeSuccessors, isEligible } from './successors.js';

/** Leader, at housekeeping. */
export function checkHysteresis(n: NodeState): void {
  const h = n.config.hysteresis;
  let best: Member | null = null;
  for (const m of n.members.values()) {
    if (!isEligible(m) || m.load === null) continue;
    if (best === null || betterCandidate(m.load.score, m.id, best.load?.score ?? 0, best.id))
      best = m;
  }
  const mine = myScore(n);
  if (best === null || best.load === null || mine <= best.load.score + h.margin) {
    n.overloadedSince = null;
    return;
  }
  n.overloadedSince ??= n.now;
  const sustained = n.now - n.overloadedSince >= h.sustain_ms;
  if (!sustained || n.now - n.leadingSince < h.sustain_ms) return;
  handover(n, best.id);
}

function handover(n: NodeState, to: ServerId): void {
  emit(n, { type: 'handover', to });
  sendTo(n, to, { type: 'Handover', from: n.id, epoch: n.epoch, to });
  const successors = [to, ...computeSuccessors(n).filter((s) => s !== to)];
  stepDown(n, 'handover');
  becomeLeaderless(n, n.id, successors);
}

/** Follower: our leader (or, leaderless, the last one) hands leadership to us. */
export function onHandover(n: NodeState, m: HandoverMessage): void {
  if (m.to !== n.id) return;
  if (n.leaderId === m.from || n.leaderId === null) claimLeadership(n, 'handover');
}
