/**
 * ServerNode: everything one cloud server decides, as a sans-IO state machine.
 *
 * Inputs: `receive` (a message), `tick` (time passed), `setLocalLoad`, `taskStarted`,
 * `taskFinished`, `setFailureSimulation`, `shutdown`. Outputs: `drain()` returns commands
 * (send, persist hard state, run or cancel a task, release a result, silence) and events
 * (for observers); `nextDeadline_ms()` says when to call `tick` next. The node never
 * reads a clock, never sleeps and never touches a socket, so the simulator can run whole
 * clusters of it in virtual time and the runtime only moves bytes.
 *
 * This class is only the shell: it moves the clock, hands each input to the algorithms in
 * ./node/ and collects their output. Where each algorithm lives is in ./README.md; the
 * reasoning is in docs/ELECTION.md.
 */
import {
  resolveServerNodeConfig,
  type ServerNodeConfig,
  type ServerNodeConfigInput,
} from './config.js';
import type { HardState } from './epoch.js';
import type { Ready } from './commands.js';
import type { Source, TaskOutcome } from './events.js';
import type {
  ClientId,
  HistoryEntry,
  LoadReport,
  Message,
  NodeRole,
  ServerId,
  TaskId,
} from './messages.js';
import type { RandomSource } from './random.js';
import type { LocalLoad } from './score.js';
import { hardState } from './node/epochs.js';
import { checkDeepInvariants, checkInvariants } from './node/invariants.js';
import { shutdown, startNode } from './node/lifecycle.js';
import { loadReport, setLocalLoad } from './node/load.js';
import * as tasks from './node/local-tasks.js';
import { NodeState, type NodeCounters } from './node/state.js';
import { nodeStatus, type NodeStatus } from './node/status.js';
import { receive } from './node/step.js';
import { enterInput, nextDeadline, tick } from './node/tick.js';

export { InvariantViolation } from './assert.js';
export type { NodeCounters } from './node/state.js';
export type { NodeStatus } from './node/status.js';

export class ServerNode {
  readonly config: ServerNodeConfig;
  private readonly n: NodeState;

  /**
   * @param config   validated settings (or the input to resolve; throws UsageError if invalid)
   * @param random   randomness for jitter and failure-simulation picks
   * @param now_ms   the runtime's monotonic clock now
   * @param restored hard state saved by a previous run of this server, if any
   * @param wall_clock_ms the wall-clock time (ms since 1970) at `now_ms`: terms are then
   *   bounded by it, and a server with no hard state starts its terms above its clock
   *   (docs/ELECTION.md, "Bounded terms"); without it `now_ms` stands in and there is no floor
   */
  constructor(
    config: ServerNodeConfigInput | ServerNodeConfig,
    random: RandomSource,
    now_ms: number,
    restored?: HardState,
    wall_clock_ms?: number,
  ) {
    this.config = resolveServerNodeConfig(config);
    this.n = new NodeState(this.config, random, now_ms);
    if (wall_clock_ms !== undefined) this.n.wallClockOffset_ms = wall_clock_ms - now_ms;
    startNode(this.n, restored);
  }

  get id(): ServerId {
    return this.n.id;
  }

  get epoch(): number {
    return this.n.epoch;
  }

  get leaderId(): ServerId | null {
    return this.n.leaderId;
  }

  get currentRole(): NodeRole {
    return this.n.role;
  }

  get isSynced(): boolean {
    return this.n.isSynced;
  }

  get counters(): NodeCounters {
    return this.n.counters;
  }

  hardState(): HardState {
    return hardState(this.n);
  }

  /**
   * A message arrived from `from` (server id from the peer handshake, or the client id).
   * `m` was validated by the codec; here only the sender is checked (who may send what).
   */
  receive(from: Source, m: Message, now_ms: number): void {
    this.input(now_ms, (n) => receive(n, from, m));
  }

  /** Time passed; call at (or after) `nextDeadline_ms()`. */
  tick(now_ms: number): void {
    this.input(now_ms, tick);
  }

  /** New local measurements (CPU, memory, optional load average). Task counts come from the task callbacks. */
  setLocalLoad(load: LocalLoad, now_ms: number): void {
    this.input(now_ms, (n) => setLocalLoad(n, load));
  }

  /** A worker picked the task up (after an `executeTask` command). */
  taskStarted(client_id: ClientId, task_id: TaskId, now_ms: number): void {
    this.input(now_ms, (n) => tasks.taskStarted(n, client_id, task_id));
  }

  /**
   * The task finished. True: keep the result bytes until `releaseResult`. False: the node no
   * longer knows the task (cancelled, or reported twice); discard them.
   */
  taskFinished(
    client_id: ClientId,
    task_id: TaskId,
    outcome: TaskOutcome,
    now_ms: number,
  ): boolean {
    let taken = false;
    this.input(now_ms, (n) => {
      taken = tasks.taskFinished(n, client_id, task_id, outcome);
    });
    return taken;
  }

  /** Turns the built-in failure simulation on or off at run time (config gives the default). */
  setFailureSimulation(enabled: boolean, now_ms: number): void {
    this.input(now_ms, (n) => {
      n.failureSimulationOn = enabled;
    });
  }

  /** Graceful shutdown: tell every peer, stop taking work; results in flight are still sent. */
  shutdown(now_ms: number): void {
    this.input(now_ms, shutdown);
  }

  /** Everything produced since the last drain. */
  drain(): Ready {
    return this.n.out.take(hardState(this.n));
  }

  /** The latest time by which `tick` must be called. */
  nextDeadline_ms(): number {
    return nextDeadline(this.n);
  }

  status(now_ms: number = this.n.now): NodeStatus {
    return nodeStatus(this.n, now_ms);
  }

  loadReport(): LoadReport {
    return loadReport(this.n);
  }

  /** Every history entry on this replica (for the simulator's checks and debugging). */
  historyEntries(): HistoryEntry[] {
    return this.n.history.allEntries();
  }

  /**
   * The expensive invariant checks (counters against tables, digest against entries), for
   * the tests and the simulator; the cheap ones run after every input anyway. Throws
   * InvariantViolation.
   */
  checkDeepInvariants(): void {
    checkDeepInvariants(this.n);
  }

  /** Every input: move the clock (noticing stalls), run the step, check the invariants. */
  private input(now_ms: number, step: (n: NodeState) => void): void {
    enterInput(this.n, now_ms);
    step(this.n);
    checkInvariants(this.n);
  }
}
