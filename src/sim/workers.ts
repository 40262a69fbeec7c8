/**
 * Simulated worker threads of one server (one incarnation): the task runner the core's
 * NodeDriver drives in the simulator, as the worker-thread pool is in production. A task
 * waits in a queue until one of `pool_size` workers is free; the simulation then runs it as a
 * pair of timed events (start, done), so every run stays a pure function of its seed.
 */
import type { TaskRunner, TaskResult } from '../core/driver/ports.js';
import { taskKey, type TaskRef } from '../core/messages.js';

export interface SimJob {
  ref: TaskRef;
  on: { started(): void; finished(result: TaskResult): void };
}

export class SimWorkers implements TaskRunner {
  /** Tasks a worker has taken (start scheduled or running). */
  readonly running = new Set<string>();
  private queue: string[] = [];
  private readonly jobs = new Map<string, SimJob>();

  /**
   * @param poolSize      workers, as thread_pool_size
   * @param scheduleStart the simulation's event for "a worker takes task `key` now"
   */
  constructor(
    private readonly poolSize: number,
    private readonly scheduleStart: (key: string) => void,
  ) {}

  run(task: TaskRef, _payload: Uint8Array, on: SimJob['on']): { cancel(): boolean } {
    const key = taskKey(task.client_id, task.task_id);
    const job: SimJob = { ref: task, on };
    this.jobs.set(key, job);
    this.queue.push(key);
    this.startWorkers();
    return {
      cancel: () => {
        // Only a task still waiting can be cancelled; a running one goes on.
        const before = this.queue.length;
        this.queue = this.queue.filter((k) => k !== key);
        const cancelled = this.queue.length < before;
        if (cancelled && this.jobs.get(key) === job) this.jobs.delete(key);
        return cancelled;
      },
    };
  }

  /** Free workers take the next waiting tasks. */
  startWorkers(): void {
    while (this.running.size < this.poolSize && this.queue.length > 0) {
      const key = this.queue.shift();
      if (key === undefined) break;
      this.running.add(key);
      this.scheduleStart(key);
    }
  }

  job(key: string): SimJob | undefined {
    return this.jobs.get(key);
  }

  /** The worker is done with `key`: it is free again. */
  finish(key: string): SimJob | undefined {
    const job = this.jobs.get(key);
    this.running.delete(key);
    this.jobs.delete(key);
    return job;
  }
}

/** Size of every simulated result. */
export const RESULT_SIZE_BYTES = 1000;

/** Deterministic stand-in for the steganography result of a task. */
export function expectedDigest(client: string, task: string): string {
  let h = 0x811c9dc5;
  const s = `${client}/${task}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
