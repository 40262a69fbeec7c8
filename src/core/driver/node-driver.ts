/**
 * The one place where a ServerNode's commands are carried out, used by the production
 * runtime (src/server/runtime.ts) and by the simulator (src/sim/cluster.ts) alike, so the
 * simulator exercises the very glue production runs: payload bytes kept for the task they
 * came with, result bytes held until released and attached to every TaskResponse, cancelled
 * tasks, silence, hard state written before anything is sent.
 *
 * It stays sans-IO: every effect goes through DriverPorts (./ports.ts), and time comes from
 * the injected clock, so it runs in virtual time as well as in real time.
 *
 * Use: call an input method (receive, tick, ...); the driver hands it to the node, then
 * drains the node and carries out its commands in order (a command may feed the node a new
 * input, e.g. a task refused at once: the driver drains again until nothing is left), then
 * passes the events to the observer and reports the next deadline through `settled`.
 */
import type { Command } from '../commands.js';
import type { Source } from '../events.js';
import { MESSAGE_LIMITS, taskKey, type ClientId, type Message, type TaskId } from '../messages.js';
import type { LocalLoad } from '../score.js';
import type { ServerNode } from '../server-node.js';
import type { DriverPorts, TaskResult } from './ports.js';
import { ResultStore } from './result-store.js';

/** Most drain rounds per input (each round's commands may feed the node new inputs). */
const MAX_ROUNDS = 100;

interface Job {
  handle: { cancel(): boolean };
}

export class NodeDriver {
  private readonly results: ResultStore;
  private readonly running = new Map<string, Job>();
  /** The payload of the TaskRequest being received, for the `executeTask` it may cause. */
  private pendingPayload: { key: string; bytes: Uint8Array } | null = null;
  private silentUntil: number | null = null;
  private flushing = false;

  constructor(
    readonly node: ServerNode,
    private readonly ports: DriverPorts,
  ) {
    this.results = new ResultStore((bytes) => ports.runner.recycle?.(bytes));
  }

  /** Failure simulation: silent until this time (null: not silent). */
  get silentUntil_ms(): number | null {
    return this.silentUntil;
  }

  /** Tasks handed to the runner and not finished or cancelled yet. */
  get tasksInRunner(): number {
    return this.running.size;
  }

  /** Result buffers held for tasks whose result was not released yet. */
  get resultsHeld(): number {
    return this.results.size;
  }

  /** A message from a peer or a client; `payload`: the bytes that came with a TaskRequest. */
  receive(from: Source, message: Message, payload?: Uint8Array): void {
    if (message.type === 'TaskRequest' && payload !== undefined) {
      this.pendingPayload = { key: taskKey(message.client_id, message.task_id), bytes: payload };
    }
    try {
      this.node.receive(from, message, this.ports.now());
      this.flush();
    } finally {
      this.pendingPayload = null;
    }
  }

  tick(): void {
    this.node.tick(this.ports.now());
    this.flush();
  }

  setLocalLoad(load: LocalLoad): void {
    this.node.setLocalLoad(load, this.ports.now());
    this.flush();
  }

  setFailureSimulation(enabled: boolean): void {
    this.node.setFailureSimulation(enabled, this.ports.now());
    this.flush();
  }

  shutdown(): void {
    this.node.shutdown(this.ports.now());
    this.flush();
  }

  /**
   * Carries out everything the node produced, then reports its next deadline. Inputs call
   * it themselves; call it once at start (a new node may already have work for its runtime).
   */
  flush(): void {
    if (this.flushing) return; // an input fed from a command: the outer flush drains it
    this.flushing = true;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const ready = this.node.drain();
        if (ready.commands.length === 0 && ready.events.length === 0) break;
        for (const c of ready.commands) {
          this.ports.observer.command?.(c);
          this.apply(c);
        }
        for (const e of ready.events) this.ports.observer.event(e);
      }
    } finally {
      this.flushing = false;
    }
    this.ports.settled(this.node.nextDeadline_ms());
  }

  private apply(c: Command): void {
    switch (c.type) {
      case 'persistHardState':
        return this.ports.persist(c.state);
      case 'send':
        return this.send(c.to, c.message);
      case 'executeTask':
        return this.execute(c.client_id, c.task_id);
      case 'cancelTask':
        return this.cancel(c.client_id, c.task_id);
      case 'releaseResult':
        return this.results.release(c.client_id, c.task_id);
      case 'silence':
        this.silentUntil = c.until_ms;
        return this.ports.silence(c.until_ms);
      case 'endSilence':
        this.silentUntil = null;
        return this.ports.silence(null);
    }
  }

  private send(to: Source, message: Message): void {
    if (this.silentUntil !== null) return; // the core sends nothing while silent; neither do we
    if (message.type === 'TaskResponse' && message.ok) {
      const held = this.results.borrow(message.client_id, message.task_id);
      if (held === null) {
        this.ports.observer.problem('result bytes missing for a finished task', {
          client: message.client_id,
          task: message.task_id,
        });
        return;
      }
      this.ports.send(to, message, held.bytes, held.written);
      return;
    }
    this.ports.send(to, message, null, NOTHING);
  }

  private execute(client_id: ClientId, task_id: TaskId): void {
    const key = taskKey(client_id, task_id);
    const payload = this.pendingPayload?.key === key ? this.pendingPayload.bytes : null;
    this.pendingPayload = null;
    if (payload === null) {
      // The core only asks to execute in reaction to a TaskRequest carrying the bytes.
      this.ports.observer.problem('executeTask without payload bytes', {
        client: client_id,
        task: task_id,
      });
      this.node.taskFinished(
        client_id,
        task_id,
        failed('internal error: payload missing'),
        this.ports.now(),
      );
      return;
    }
    const job: Job = { handle: { cancel: () => false } };
    job.handle = this.ports.runner.run({ client_id, task_id }, payload, {
      started: () => {
        this.node.taskStarted(client_id, task_id, this.ports.now());
        this.flush();
      },
      finished: (result) => this.finished(key, job, client_id, task_id, result),
    });
    this.running.set(key, job);
  }

  private cancel(client_id: ClientId, task_id: TaskId): void {
    const key = taskKey(client_id, task_id);
    const job = this.running.get(key);
    // A task already running goes on; its result is discarded when it comes (the node says so).
    if (job?.handle.cancel() === true) this.running.delete(key);
  }

  private finished(
    key: string,
    job: Job,
    client_id: ClientId,
    task_id: TaskId,
    result: TaskResult,
  ): void {
    if (this.running.get(key) === job) this.running.delete(key);
    const outcome = result.ok
      ? {
          ok: true,
          result_size_bytes: result.bytes.length,
          result_digest: result.digest,
          error: null,
        }
      : failed(result.error);
    const taken = this.node.taskFinished(client_id, task_id, outcome, this.ports.now());
    if (result.ok) {
      if (taken) this.results.keep(client_id, task_id, result.bytes);
      else this.ports.runner.recycle?.(result.bytes);
    }
    this.flush();
  }
}

function failed(error: string): {
  ok: false;
  result_size_bytes: number;
  result_digest: string;
  error: string;
} {
  return {
    ok: false,
    result_size_bytes: 0,
    result_digest: '',
    error: error.slice(0, MESSAGE_LIMITS.max_error_length),
  };
}

const NOTHING = (): void => {};
