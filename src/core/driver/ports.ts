/**
 * What the NodeDriver needs from the world, as interfaces: the production runtime
 * (src/server) implements them with sockets, worker threads, a file and a clock; the
 * simulator (src/sim) with a simulated network, simulated workers and virtual time.
 */
import type { HardState } from '../epoch.js';
import type { Destination, NodeEvent } from '../events.js';
import type { Command } from '../commands.js';
import type { Message, TaskRef } from '../messages.js';

export interface DriverPorts {
  /** The monotonic clock, in ms (the same one for every call). */
  now(): number;
  /** Writes the hard state durably; throws if it cannot (the server must not go on). */
  persist(state: HardState): void;
  /**
   * Sends one message. `binary`: raw bytes after it (an ok TaskResponse's result), else
   * null. `written` must be called exactly once, when the transport no longer needs the
   * bytes (at once if the message was dropped).
   */
  send(to: Destination, message: Message, binary: Uint8Array | null, written: () => void): void;
  /** Runs tasks (worker threads in production, timed events in the simulator). */
  runner: TaskRunner;
  /** Failure simulation: stop all communication until `until_ms` (drop connections), or resume (null). */
  silence(until_ms: number | null): void;
  /** After every input and all it caused were handled: the core's next deadline, for the one timer. */
  settled(next_tick_ms: number): void;
  /** Observers (logs, metrics, dashboard, traces). */
  observer: DriverObserver;
}

export interface DriverObserver {
  /** Each command, just before it is carried out. */
  command?(c: Command): void;
  /** Each event, after the commands of the same batch were carried out. */
  event(e: NodeEvent): void;
  /** Something the glue could not do as the core asked (a bug somewhere): log it as an error. */
  problem(text: string, fields: Record<string, string | number>): void;
}

/** How a task ended, as the runner reports it. */
export type TaskResult =
  { ok: true; bytes: Uint8Array; digest: string } | { ok: false; error: string };

export interface TaskRunner {
  /**
   * Queues a task. The runner calls `started` when a worker takes it (maybe at once, from
   * inside `run`) and then `finished` exactly once, later, unless `cancel()` returned true
   * (it was still waiting and now never runs).
   */
  run(
    task: TaskRef,
    payload: Uint8Array,
    on: { started(): void; finished(result: TaskResult): void },
  ): { cancel(): boolean };
  /** The bytes of a result nobody needs any more (a chance to reuse the buffer). */
  recycle?(bytes: Uint8Array): void;
}
