import { afterEach, describe, expect, it } from 'vitest';
import { WorkerPool } from '../../../src/server/worker-pool.js';

type Job =
  | { kind: 'square'; value: number }
  | { kind: 'sleep'; ms: number }
  | { kind: 'fail' }
  | { kind: 'crash' }
  | { kind: 'spin'; ms: number }
  | { kind: 'sum-bytes'; buffer: ArrayBuffer };

const script = new URL('./fixtures/test-worker.mjs', import.meta.url);
let pool: WorkerPool<Job, unknown> | undefined;

function makePool(size: number, maxQueue: number, jobTimeout_ms = 5000): WorkerPool<Job, unknown> {
  pool = new WorkerPool<Job, unknown>({ script, size, maxQueue, jobTimeout_ms });
  return pool;
}

afterEach(async () => {
  await pool?.close(0);
  pool = undefined;
});

describe('WorkerPool', () => {
  it('runs jobs on worker threads and returns their results', async () => {
    const p = makePool(2, 10);
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((value) => p.submit({ kind: 'square', value })),
    );
    expect(results).toEqual([1, 4, 9, 16, 25]);
    expect(p.stats()).toMatchObject({ completed: 5, failed: 0, running: 0, queued: 0 });
  });

  it('transfers ArrayBuffers instead of copying them', async () => {
    const p = makePool(1, 1);
    const bytes = new Uint8Array([1, 2, 3, 250]);
    const result = await p.submit({ kind: 'sum-bytes', buffer: bytes.buffer }, [bytes.buffer]);
    expect(result).toBe(256);
    expect(bytes.byteLength).toBe(0); // detached: ownership moved to the worker
  });

  it('answers busy at once when every worker runs and the queue is full', async () => {
    const p = makePool(1, 1);
    const running = p.submit({ kind: 'sleep', ms: 200 });
    const queued = p.submit({ kind: 'sleep', ms: 1 });
    await expect(p.submit({ kind: 'square', value: 2 })).rejects.toMatchObject({ code: 'busy' });
    expect(p.activeJobs).toBe(2);
    await expect(running).resolves.toBe(200);
    await expect(queued).resolves.toBe(1);
    expect(p.stats().rejectedBusy).toBe(1);
  });

  it('reports a job the worker refused with its code and message', async () => {
    const p = makePool(1, 1);
    await expect(p.submit({ kind: 'fail' })).rejects.toMatchObject({
      code: 'image_invalid',
      message: 'refused on purpose',
    });
  });

  it('fails only the job of a crashed worker and keeps serving with a replacement', async () => {
    const p = makePool(1, 5);
    const crash = p.submit({ kind: 'crash' });
    const after = p.submit({ kind: 'square', value: 7 });
    await expect(crash).rejects.toMatchObject({ code: 'worker_crashed' });
    await expect(after).resolves.toBe(49);
    expect(p.stats().workerRestarts).toBe(1);
  });

  it('stops a job that exceeds its timeout and replaces the worker', async () => {
    // The stuck job spins far longer than any test may run, so only the timeout can end it;
    // the job after it runs on the replacement, whose start-up does not count against it.
    const p = makePool(1, 5, 1000);
    const stuck = p.submit({ kind: 'spin', ms: 10 * 60_000 });
    const after = p.submit({ kind: 'square', value: 3 });
    await expect(stuck).rejects.toMatchObject({ code: 'task_timeout' });
    await expect(after).resolves.toBe(9);
    expect(p.stats()).toMatchObject({ workerRestarts: 1, failed: 1, completed: 1 });
  });

  it('drains accepted jobs on close and refuses new ones', async () => {
    const p = makePool(1, 5);
    const first = p.submit({ kind: 'sleep', ms: 50 });
    const closing = p.close(2000);
    await expect(p.submit({ kind: 'square', value: 1 })).rejects.toMatchObject({
      code: 'shutting_down',
    });
    await expect(first).resolves.toBe(50);
    await closing;
  });
});

describe('WorkerPool.start', () => {
  it('calls onStart when a worker picks the job and lets a waiting job be cancelled', async () => {
    const p = makePool(1, 5);
    const started: string[] = [];
    const first = p.start({ kind: 'sleep', ms: 100 }, { onStart: () => started.push('first') });
    const second = p.start({ kind: 'square', value: 4 }, { onStart: () => started.push('second') });
    expect(started).toEqual(['first']);
    expect(second.cancel()).toBe(true);
    await expect(second.result).rejects.toMatchObject({ code: 'cancelled' });
    expect(first.cancel()).toBe(false); // already running
    await expect(first.result).resolves.toBe(100);
    expect(started).toEqual(['first']);
  });
});
