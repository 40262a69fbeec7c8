/**
 * What a node produced since the last `drain()`: commands, events, and whether the hard
 * state changed. Filled by ./send.ts, emptied by `ServerNode.drain()`.
 */
import type { Command, Ready } from '../commands.js';
import type { HardState } from '../epoch.js';
import type { NodeEvent } from '../events.js';

export class Outbox {
  commands: Command[] = [];
  events: NodeEvent[] = [];
  hardStateDirty = false;

  /** Everything collected so far, as one Ready (hard state first); starts a new batch. */
  take(hardState: HardState): Ready {
    const commands: Command[] = this.hardStateDirty
      ? [{ type: 'persistHardState', state: hardState }, ...this.commands]
      : this.commands;
    const ready: Ready = { commands, events: this.events };
    this.commands = [];
    this.events = [];
    this.hardStateDirty = false;
    return ready;
  }
}
