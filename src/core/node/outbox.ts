/**
 * What a node produced since the last `drain()`: messages, events and whether the hard state
 * changed. Filled by ./send.ts, emptied by `ServerNode.drain()`.
 */
import type { HardState } from '../epoch.js';
import type { NodeEvent, Outgoing, Ready } from '../events.js';

export class Outbox {
  messages: Outgoing[] = [];
  events: NodeEvent[] = [];
  hardStateDirty = false;

  /** Everything collected so far, as one Ready; starts a new batch. */
  take(hardState: HardState): Ready {
    const ready: Ready = {
      messages: this.messages,
      events: this.events,
      hard_state: this.hardStateDirty ? hardState : null,
    };
    this.messages = [];
    this.events = [];
    this.hardStateDirty = false;
    return ready;
  }
}
