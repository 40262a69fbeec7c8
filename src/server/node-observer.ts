/**
 * What the server runtime makes of its node's events and task commands: log lines (in
 * words, with the epoch as `term.leader`) and Prometheus metrics. Observability only: the
 * commands themselves are carried out by the core's NodeDriver.
 */
import type { Command } from '../core/commands.js';
import { formatEpoch } from '../core/epoch.js';
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
      metrics.badFrames.inc({ reason: 'rejected_by_core' });
      break;
    default:
      break;
  }
}

export function logNodeEvent(log: Logger, event: NodeEvent): void {
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
    case 'taskAssigned':
      log.debug(event.type, { client: event.client_id, task: event.task_id });
      break;
  }
}
