/**
 * A message in: check who sent it (the codec already checked what it is), then hand it to
 * the handlers. Server messages pass the epoch rules, then the step function of our role.
 */
import { epochTerm } from '../epoch.js';
import type { Source } from '../events.js';
import {
  isClientToServerMessage,
  isServerMessage,
  type ClientToServerMessage,
  type Message,
  type ServerMessage,
} from '../messages.js';
import { onStatusQuery, onTaskAck } from './acks.js';
import { onAssignmentRequest } from './assignment.js';
import { checkEpoch, termsWithinReach } from './epoch-rules.js';
import { noteTerm } from './epochs.js';
import { onTaskRequest } from './local-tasks.js';
import { touchMember } from './membership.js';
import { emit } from './send.js';
import type { NodeState } from './state.js';
import { stepCandidate, stepFollower, stepLeader } from './step-roles.js';

export function receive(n: NodeState, from: Source, m: Message): void {
  n.counters.messages_received++;
  if (n.role === 'silent') {
    n.counters.dropped_while_silent++;
    return;
  }
  const problem = senderProblem(n, from, m);
  if (problem !== null) {
    n.counters.rejected_unknown_sender++;
    emit(n, { type: 'messageRejected', from, reason: problem });
    return;
  }
  if (isServerMessage(m)) stepServerMessage(n, m);
  else if (isClientToServerMessage(m)) stepClientMessage(n, m);
}

/**
 * Who may send what: server messages only from configured peers over their own connection,
 * client messages only for the client id of the connection, server-to-client types never.
 */
function senderProblem(n: NodeState, from: Source, m: Message): string | null {
  if (isServerMessage(m)) {
    if (from.kind !== 'server') return `${m.type} must come from a server connection`;
    if (!n.peerSet.has(from.id)) return `server ${from.id} is not a configured peer`;
    if (m.from !== from.id) return `${m.type}.from ${m.from} does not match sender ${from.id}`;
    return null;
  }
  if (isClientToServerMessage(m)) {
    if (from.kind !== 'client') return `${m.type} must come from a client connection`;
    if (m.client_id !== from.id) return `${m.type}.client_id does not match sender ${from.id}`;
    return null;
  }
  return `${m.type} is a server-to-client message`;
}

function stepServerMessage(n: NodeState, m: ServerMessage): void {
  if (!termsWithinReach(n, m)) return;
  noteTerm(n, epochTerm(m.epoch));
  if (n.role === 'leader') touchMember(n, m.from);
  if (n.role === 'left') return;
  if (!checkEpoch(n, m)) return;
  switch (n.role) {
    case 'leader':
      return stepLeader(n, m);
    case 'follower':
      return stepFollower(n, m);
    case 'candidate':
      return stepCandidate(n, m);
  }
}

function stepClientMessage(n: NodeState, m: ClientToServerMessage): void {
  switch (m.type) {
    case 'TaskAssignmentRequest':
      return onAssignmentRequest(n, m);
    case 'TaskRequest':
      return onTaskRequest(n, m);
    case 'TaskAck':
      return onTaskAck(n, m);
    case 'TaskStatusQuery':
      return onStatusQuery(n, m);
  }
}
