/**
 * The course's failure simulation: now and then the leader picks one server (maybe itself)
 * to ignore all communication for a while; it then rejoins and resyncs. Only a leader that
 * sees a majority picks, never the last live server, and never while an earlier silence
 * (plus the time to notice it) may still last, so two servers are never silent at once.
 */
import type { FailureSimulationMessage, ServerId } from '../messages.js';
import { pick, randomInt } from '../random.js';
import { resetReplication } from './history-follower.js';
import { becomeLeaderless, listenBeforeElecting, stepDown } from './leadership.js';
import { broadcast, command, emit } from './send.js';
import { silenceGuard_ms, type NodeState } from './state.js';

/** Follower: our leader announced a silence (maybe ours). */
export function onFailureSimulation(n: NodeState, m: FailureSimulationMessage): void {
  n.failureSimBusyUntil = n.now + silenceGuard_ms(n, m.duration_ms);
  noteSilence(n, m.target, m.duration_ms);
  if (m.target === n.id && n.failureSimulationOn) goSilent(n, m.duration_ms);
}

/** Remembers who the failure simulation silenced, so its timeout reads "silent", not "failed". */
function noteSilence(n: NodeState, target: ServerId, duration_ms: number): void {
  if (target === n.id) return;
  n.silencedPeers.set(target, n.now + silenceGuard_ms(n, duration_ms));
}

/** Leader, at housekeeping: time to pick the next server to silence? */
export function maybeScheduleFailureSimulation(n: NodeState): void {
  const f = n.config.failure_simulation;
  if (!n.failureSimulationOn || n.role !== 'leader') return;
  if (n.now < n.failureSimNextPickAt || n.now < n.failureSimBusyUntil) return;
  n.failureSimNextPickAt = n.now + f.interval_ms;
  const candidates: ServerId[] = [n.id];
  for (const m of n.members.values()) if (m.state === 'alive' && m.synced) candidates.push(m.id);
  // Only a leader that sees a majority of the cluster (and never the last live server)
  // picks: in a partition at most one side can, so silences never overlap.
  const clusterSize = n.config.peers.length + 1;
  if (candidates.length < 2 || candidates.length * 2 <= clusterSize) return;
  const target = pick(n.random, candidates);
  const duration = randomInt(n.random, f.min_silence_ms, f.max_silence_ms);
  n.failureSimBusyUntil = n.now + silenceGuard_ms(n, duration);
  emit(n, { type: 'failureSimulationScheduled', target, duration_ms: duration });
  noteSilence(n, target, duration);
  const msg: FailureSimulationMessage = {
    type: 'FailureSimulation',
    from: n.id,
    epoch: n.epoch,
    target,
    duration_ms: duration,
  };
  broadcast(n, msg);
  if (target === n.id) goSilent(n, duration);
}

function goSilent(n: NodeState, duration_ms: number): void {
  if (n.role === 'leader') stepDown(n, 'silence');
  n.role = 'silent';
  n.leaderId = null;
  n.election = null;
  n.claimAt = null;
  n.electionAt = null;
  n.silentUntil = n.now + duration_ms;
  command(n, { type: 'silence', until_ms: n.silentUntil, duration_ms });
  emit(n, { type: 'silenceStarted', until_ms: n.silentUntil, duration_ms });
}

/** The silence is over: forget what we believed, listen for the leader, resync. */
export function endSilence(n: NodeState): void {
  command(n, { type: 'endSilence' });
  n.silentUntil = null;
  n.role = 'follower';
  resetReplication(n);
  for (const m of n.members.values()) {
    if (m.state === 'alive' || m.state === 'suspected') m.last_heard_ms = n.now;
  }
  becomeLeaderless(n, null, []);
  listenBeforeElecting(n);
  emit(n, { type: 'silenceEnded' });
}
