/**
 * Putting commands and events in the outbox. A silent node sends nothing; a departed one
 * only answers clients.
 */
import type { Command } from '../commands.js';
import type { Destination, NodeEvent } from '../events.js';
import type { ClientId, Message, ServerId } from '../messages.js';
import type { NodeState } from './state.js';

/** Something happened (for observers only). */
export function emit(n: NodeState, event: NodeEvent): void {
  n.out.events.push(event);
}

/** The runtime must do this (sends go through `send`). */
export function command(
  n: NodeState,
  c: Exclude<Command, { type: 'send' | 'persistHardState' }>,
): void {
  n.out.commands.push(c);
}

export function send(n: NodeState, to: Destination, message: Message): void {
  if (n.role === 'silent') return;
  if (n.role === 'left' && to.kind === 'server') return;
  n.out.commands.push({ type: 'send', to, message });
  n.counters.messages_sent++;
}

export function sendTo(n: NodeState, id: ServerId, message: Message): void {
  send(n, { kind: 'server', id }, message);
}

export function toClient(n: NodeState, clientId: ClientId, message: Message): void {
  send(n, { kind: 'client', id: clientId }, message);
}

/** To every configured peer (or those `only` accepts), also those believed dead. */
export function broadcast(n: NodeState, message: Message, only?: (id: ServerId) => boolean): void {
  for (const id of n.config.peers) {
    if (only === undefined || only(id)) sendTo(n, id, message);
  }
}
