/**
 * Who should lead next (Gholipour's improved Bully): the leader publishes its best live,
 * synced followers in priority order; when the list is used up, survivors rank themselves
 * among the servers the last leader saw alive to stagger a full election.
 */
import { betterCandidate } from '../score.js';
import type { ServerId } from '../messages.js';
import { myScore } from './load.js';
import type { Member, NodeState } from './state.js';

/** A member the leader may give work or leadership to. */
export function isEligible(m: Member): boolean {
  return m.state === 'alive' && m.synced;
}

/** Leader: the next-best servers by (score, id), at most successor_list_length. */
export function computeSuccessors(n: NodeState): ServerId[] {
  const eligible = [...n.members.values()].filter((m) => isEligible(m) && m.load !== null);
  eligible.sort((a, b) => {
    const sa = a.load?.score ?? 0;
    const sb = b.load?.score ?? 0;
    return sa !== sb ? sa - sb : a.id - b.id;
  });
  return eligible.slice(0, n.config.successor_list_length).map((m) => m.id);
}

/** Our place by (score, id) among the servers the last leader saw alive, minus `excluded`. */
export function fallbackRank(n: NodeState, excluded: ReadonlySet<ServerId>): number {
  const mine = myScore(n);
  let rank = 0;
  for (const v of n.leaderView) {
    if (excluded.has(v.id) || v.id === n.id || v.state !== 'alive' || v.load === null) continue;
    if (betterCandidate(v.load.score, v.id, mine, n.id)) rank++;
  }
  return rank;
}
