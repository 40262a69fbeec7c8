/**
 * What a {@link ServerNode} hands to its runtime after every input (`node.drain()`, after
 * etcd-io/raft's Ready): **commands**, which the runtime must carry out in order for the
 * cloud to work, and **events** (./events.ts), which only say what happened.
 *
 * One driver applies the commands (../core/driver/node-driver.ts), in production and in the
 * simulator alike.
 */
import type { HardState } from './epoch.js';
import type { Destination, NodeEvent } from './events.js';
import type { Assignment, ClientId, Message, TaskId } from './messages.js';

export type Command =
  /**
   * Write this hard state durably before carrying out any later command (sending in
   * particular): then a restarted server never reuses an epoch. Always first in a Ready.
   */
  | { type: 'persistHardState'; state: HardState }
  /**
   * Send `message` to one destination (broadcasts are already expanded). A server: the link
   * to that peer. A client: the connection that client id last used (none: drop it; the core
   * re-sends what matters). A TaskResponse that is `ok` carries the result bytes the runtime
   * keeps for that task.
   */
  | { type: 'send'; to: Destination; message: Message }
  /**
   * Run this task: queue it for a worker, report `taskStarted` when one takes it and
   * `taskFinished` with the outcome. The payload is the bytes that came with the TaskRequest
   * whose receipt produced this command (the bytes of a TaskRequest that produced none were
   * a duplicate, busy or misrouted request: discard them).
   */
  | {
      type: 'executeTask';
      client_id: ClientId;
      task_id: TaskId;
      assignment: Assignment;
      size_bytes: number;
    }
  /** Drop this task if no worker took it yet (its client already has a result). */
  | { type: 'cancelTask'; client_id: ClientId; task_id: TaskId }
  /** The result bytes of this task are no longer needed (acknowledged or evicted). */
  | { type: 'releaseResult'; client_id: ClientId; task_id: TaskId }
  /**
   * Failure simulation: ignore all communication until `until_ms` (drop connections, read
   * nothing, send nothing). The core ignores its inputs meanwhile too.
   */
  | { type: 'silence'; until_ms: number; duration_ms: number }
  /** The silence is over: communicate again (before the commands that follow it). */
  | { type: 'endSilence' };

/** One batch of outputs (see ServerNode.drain). */
export interface Ready {
  /** What the runtime must do, in order: `persistHardState` first if present, then as they arose. */
  commands: Command[];
  /** What happened, in order: for logs, metrics, the dashboard and the simulator's checks. */
  events: NodeEvent[];
}

/** The messages among some commands (tests and tools). */
export function sentMessages(
  commands: readonly Command[],
): Array<{ to: Destination; message: Message }> {
  const out: Array<{ to: Destination; message: Message }> = [];
  for (const c of commands) if (c.type === 'send') out.push({ to: c.to, message: c.message });
  return out;
}
