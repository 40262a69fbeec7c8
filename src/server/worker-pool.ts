/**
 * A fixed pool of worker threads with a bounded queue. CPU-heavy work (steganography, PNG
 * encoding) runs here so the event loop stays free for heartbeats and frames.
 *
 * - `submit` rejects at once with a `busy` error when `size` jobs run and `maxQueue` wait, so the
 *   caller can send the client elsewhere instead of queueing without bound.
 * - A job that exceeds its timeout gets its worker terminated and replaced; a worker that crashes
 *   fails only the job it was running. No job is ever silently dropped. The timeout counts from
 *   when the job reaches a running worker: a replacement's start-up is not the job's fault.
 */
import { Worker } from 'node:worker_threads';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { toErrorCode } from '../util/error-codes.js';

export interface WorkerRequest<Job> {
  id: number;
  job: Job;
}

export type WorkerReply<Result> =
  | { id: number; ok: true; result: Result }
  | { id: number; ok: false; error: { code: string; message: string } };

export interface WorkerPoolOptions {
  /** Path or file URL of the worker module; it must answer WorkerRequest with WorkerReply. */
  script: string | URL;
  size: number;
  maxQueue: number;
  jobTimeout_ms: number;
  /** Passed to every worker as workerData (e.g. the cover image path). */
  workerData?: unknown;
}

export interface WorkerPoolStats {
  size: number;
  running: number;
  queued: number;
  maxQueue: number;
  completed: number;
  failed: number;
  rejectedBusy: number;
  workerRestarts: number;
}

interface PendingJob<Job, Result> {
  id: number;
  job: Job;
  transfer: ArrayBuffer[];
  onStart: (() => void) | undefined;
  resolve: (result: Result) => void;
  reject: (err: Error) => void;
}

interface Slot<Job, Result> {
  worker: Worker;
  current: PendingJob<Job, Result> | null;
  timer: NodeJS.Timeout | null;
  /** The worker runs its script (its 'online' event came); until then a job's clock waits. */
  online: boolean;
}

export class WorkerPool<Job, Result> {
  private readonly slots: Slot<Job, Result>[] = [];
  private readonly queue: PendingJob<Job, Result>[] = [];
  private nextJobId = 1;
  private closed = false;
  private readonly counters = { completed: 0, failed: 0, rejectedBusy: 0, workerRestarts: 0 };

  constructor(private readonly options: WorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new RangeError(`pool size must be >= 1, got ${options.size}`);
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0)
      throw new RangeError(`maxQueue must be >= 0, got ${options.maxQueue}`);
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn());
  }

  /** Jobs accepted and not yet finished (running + waiting): the server's active task count. */
  get activeJobs(): number {
    return this.queue.length + this.slots.filter((slot) => slot.current).length;
  }

  get isFull(): boolean {
    return this.queue.length >= this.options.maxQueue && this.slots.every((slot) => slot.current);
  }

  stats(): WorkerPoolStats {
    return {
      size: this.options.size,
      running: this.slots.filter((slot) => slot.current).length,
      queued: this.queue.length,
      maxQueue: this.options.maxQueue,
      ...this.counters,
    };
  }

  submit(job: Job, transfer: ArrayBuffer[] = []): Promise<Result> {
    return this.start(job, { transfer }).result;
  }

  /**
   * Like submit, with a hook called when a worker picks the job up, and a `cancel` that
   * withdraws the job if it is still waiting (returns false once it runs or finished).
   */
  start(
    job: Job,
    options: { transfer?: ArrayBuffer[]; onStart?: () => void } = {},
  ): { result: Promise<Result>; cancel: () => boolean } {
    let jobId = 0;
    const result = this.enqueue(job, options.transfer ?? [], options.onStart, (id) => (jobId = id));
    return { result, cancel: () => this.cancelQueued(jobId) };
  }

  private cancelQueued(jobId: number): boolean {
    const index = this.queue.findIndex((pending) => pending.id === jobId);
    if (index < 0) return false;
    const [pending] = this.queue.splice(index, 1);
    pending?.reject(new CloudP2PError('cancelled', 'task cancelled before it started'));
    return true;
  }

  private enqueue(
    job: Job,
    transfer: ArrayBuffer[],
    onStart: (() => void) | undefined,
    onId: (id: number) => void,
  ): Promise<Result> {
    if (this.closed)
      return Promise.reject(
        new CloudP2PError(
          'shutting_down',
          'the worker pool is shutting down',
          ExitCode.unavailable,
        ),
      );
    if (this.isFull) {
      this.counters.rejectedBusy++;
      return Promise.reject(
        new CloudP2PError(
          'busy',
          `server busy: ${this.options.size} tasks running and ${this.queue.length} queued (max_queue_size ${this.options.maxQueue})`,
          ExitCode.unavailable,
        ),
      );
    }
    const id = this.nextJobId++;
    onId(id);
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ id, job, transfer, onStart, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops taking jobs, waits for running and queued ones (up to `drain_ms`), then terminates workers. */
  async close(drain_ms = 10_000): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + drain_ms;
    while (this.activeJobs > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    for (const pending of this.queue.splice(0))
      pending.reject(
        new CloudP2PError(
          'shutting_down',
          'server shutting down before the task started',
          ExitCode.unavailable,
        ),
      );
    await Promise.all(
      this.slots.map(async (slot) => {
        this.clearTimer(slot);
        if (slot.current)
          slot.current.reject(
            new CloudP2PError(
              'shutting_down',
              'server shut down during the task',
              ExitCode.unavailable,
            ),
          );
        slot.current = null;
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot<Job, Result> {
    const worker = new Worker(this.options.script, { workerData: this.options.workerData });
    const slot: Slot<Job, Result> = { worker, current: null, timer: null, online: false };
    worker.once('online', () => {
      slot.online = true;
      if (slot.current) this.startTimer(slot);
    });
    worker.on('message', (reply: WorkerReply<Result>) => this.onReply(slot, reply));
    worker.on('error', (err) => this.onWorkerDeath(slot, `worker crashed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!this.closed) this.onWorkerDeath(slot, `worker exited with code ${code}`);
    });
    // Idle workers must not keep the process alive on their own.
    worker.unref();
    return slot;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.current) continue;
      const next = this.queue.shift();
      if (!next) return;
      slot.current = next;
      slot.worker.ref();
      if (slot.online) this.startTimer(slot);
      const request: WorkerRequest<Job> = { id: next.id, job: next.job };
      slot.worker.postMessage(request, next.transfer);
      next.onStart?.();
    }
  }

  private startTimer(slot: Slot<Job, Result>): void {
    this.clearTimer(slot);
    slot.timer = setTimeout(() => this.onTimeout(slot), this.options.jobTimeout_ms);
  }

  private onReply(slot: Slot<Job, Result>, reply: WorkerReply<Result>): void {
    const pending = slot.current;
    if (!pending || pending.id !== reply.id) return; // a reply from a job we already gave up on
    this.finish(slot);
    if (reply.ok) {
      this.counters.completed++;
      pending.resolve(reply.result);
    } else {
      this.counters.failed++;
      pending.reject(
        new CloudP2PError(toErrorCode(reply.error.code, 'internal'), reply.error.message),
      );
    }
    this.dispatch();
  }

  private onTimeout(slot: Slot<Job, Result>): void {
    const pending = slot.current;
    if (!pending) return;
    this.replace(
      slot,
      new CloudP2PError(
        'task_timeout',
        `task exceeded its ${this.options.jobTimeout_ms} ms limit and was stopped`,
      ),
    );
  }

  private onWorkerDeath(slot: Slot<Job, Result>, reason: string): void {
    if (!this.slots.includes(slot)) return;
    this.replace(slot, new CloudP2PError('worker_crashed', reason));
  }

  /** Fails the slot's job (if any), terminates its worker and puts a fresh one in its place. */
  private replace(slot: Slot<Job, Result>, error: CloudP2PError): void {
    const pending = slot.current;
    this.finish(slot);
    if (pending) {
      this.counters.failed++;
      pending.reject(error);
    }
    const index = this.slots.indexOf(slot);
    if (index < 0 || this.closed) return;
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    this.counters.workerRestarts++;
    this.slots[index] = this.spawn();
    this.dispatch();
  }

  private finish(slot: Slot<Job, Result>): void {
    this.clearTimer(slot);
    slot.current = null;
    slot.worker.unref();
  }

  private clearTimer(slot: Slot<Job, Result>): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
  }
}
