/**
 * What the server runtime makes of its node's events and task commands: log lines (in
 * words, with the epoch as `term.leader`) and Prometheus metrics. Observability only: the
 * commands themselves are carried out by the core's NodeDriver.
 */
import { performance } from 'node:perf_hooks';
import type { Command } from '../core/commands.js';
import { formatEpoch, OWN_TERM_LEAD_MAX, PEER_TERM_LEAD_MAX } from '../core/epoch.js';
import type { NodeEvent } from '../core/events.js';
import type { Logger } from '../util/log.js';
import type { ServerMetrics } from './metrics.js';

/** Per-task commands at debug level (they come at task rate). */
export function logTaskCommand(log: Logger, c: Command): void {
  if (c.type === 'executeTask' || c.type === 'cancelTask' || c.type === 'releaseResult')
    log.debug(c.type, { client: c.client_id, task: c.task_id });
}

export function countNodeEvent(metrics: ServerMetrics, event: NodeEvent): void {
  switch (event.type) {
    case 'becameLeader':
      metrics.isLeader.set(1);
      metrics.leaderChanges.inc();
      metrics.epoch.set(event.epoch);
      break;
    case 'steppedDown':
      metrics.isLeader.set(0);
      break;
    case 'leaderAcknowledged':
      metrics.leaderChanges.inc();
      metrics.epoch.set(event.epoch);
      break;
    case 'electionStarted':
      metrics.elections.inc();
      break;
    case 'peerFailed':
      metrics.peerFailures.inc();
      break;
    case 'taskAssigned':
      metrics.tasksAssigned.inc();
      break;
    case 'taskReassigned':
      metrics.tasksReassigned.inc();
      break;
    case 'messageRejected':
    case 'termRefused':
      metrics.badFrames.inc({ reason: 'rejected_by_core' });
      break;
    default:
      break;
  }
}

/**
 * Lets one warning per key through per interval and counts the ones held back, so a member
 * that keeps sending the same bad thing is visible without flooding the log.
 */
export class WarningGate {
  private readonly last = new Map<string, { at_ms: number; held: number }>();

  constructor(
    private readonly interval_ms = 10_000,
    private readonly now_ms: () => number = () => performance.now(),
  ) {}

  /** null: hold this one back; otherwise how many were held back since the last let through. */
  pass(key: string): number | null {
    const now = this.now_ms();
    const seen = this.last.get(key);
    if (seen && now - seen.at_ms < this.interval_ms) {
      seen.held++;
      return null;
    }
    this.last.set(key, { at_ms: now, held: 0 });
    return seen?.held ?? 0;
  }
}

/** `warnings` limits the warnings a misbehaving member can cause (keys: server ids). */
export function logNodeEvent(log: Logger, event: NodeEvent, warnings: WarningGate): void {
  const epoch = 'epoch' in event ? formatEpoch(event.epoch) : undefined;
  switch (event.type) {
    case 'becameLeader':
      log.info('won election: now leader', { epoch, reason: event.reason });
      break;
    case 'steppedDown':
      log.info('stepped down as leader', { epoch, reason: event.reason });
      break;
    case 'leaderAcknowledged':
      log.info('leader acknowledged', { leader: event.leader_id, epoch });
      break;
    case 'leaderLost':
      log.warn('leader lost', { leader: event.leader_id, epoch });
      break;
    case 'electionStarted':
      log.info('election started', { round: event.round });
      break;
    case 'peerSuspected':
      log.info('peer suspected', { peer: event.peer });
      break;
    case 'peerFailed':
      log.warn('peer failed', { peer: event.peer });
      break;
    case 'peerRecovered':
      log.info('peer recovered', { peer: event.peer });
      break;
    case 'peerLeft':
      log.info('peer left', { peer: event.peer });
      break;
    case 'taskReassigned':
      log.info('task reassigned', {
        client: event.client_id,
        task: event.task_id,
        from: event.from_server,
        to: event.assignment.server_id,
      });
      break;
    case 'silenceStarted':
      log.warn('failure simulation: going silent', { duration_ms: event.duration_ms });
      break;
    case 'silenceEnded':
      log.info('failure simulation: silence over, rejoining');
      break;
    case 'failureSimulationScheduled':
      log.info('failure simulation: server chosen to go silent', {
        target: event.target,
        duration_ms: event.duration_ms,
      });
      break;
    case 'resynced':
      log.info('history resynced from leader', { entries: event.entries });
      break;
    case 'stallDetected':
      log.warn('process was stalled', { stalled_ms: event.stalled_ms });
      break;
    case 'handover':
      log.info('handing leadership over', { to: event.to });
      break;
    case 'messageRejected':
      log.debug('message rejected', { reason: event.reason });
      break;
    case 'termRefused': {
      const fields = {
        from: event.from,
        message: event.message_type,
        term: event.term,
        ceiling: event.ceiling,
      };
      // A server that starts with no hard state sets its highest term to its clock +
      // OWN_TERM_LEAD_MAX, one PEER_TERM_LEAD_MAX above what we accept: we refuse its max_term
      // for about a second after every cold start. Normal, so not a warning; and kept apart
      // from far-ahead terms, so a start-up never holds back a warning that matters.
      const nearCeiling = event.term <= event.ceiling + (OWN_TERM_LEAD_MAX - PEER_TERM_LEAD_MAX);
      const held = warnings.pass(`${nearCeiling ? 'term-near' : 'term'}:${event.from}`);
      if (held === null) log.debug('refused a term beyond our clock', fields);
      else if (nearCeiling)
        log.info(
          'refused a term just beyond our clock: normal for a second after that server starts with no saved state; if it goes on, its clock is ahead of ours',
          { ...fields, ...(held > 0 ? { also_refused_since_last_message: held } : {}) },
        );
      else
        log.warn("refused a term beyond our clock: is that server's clock far ahead?", {
          ...fields,
          ...(held > 0 ? { also_refused_since_last_warning: held } : {}),
        });
      break;
    }
    case 'taskAssigned':
      log.debug(event.type, { client: event.client_id, task: event.task_id });
      break;
  }
}
