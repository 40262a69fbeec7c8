/**
 * Worker thread of the stress driver's verifier: extracts the hidden image from a result PNG
 * and compares it byte for byte with the image that was sent. Extraction costs about 8 ms of
 * CPU per result; doing it here keeps the driver's event loop (which timestamps every request)
 * free, so verification never inflates the latencies it records.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { verifyResult } from '../client/payload.js';
import type { WorkerReply, WorkerRequest } from '../server/worker-pool.js';

export interface VerifyWorkerData {
  /** The sent images, in shared memory so every worker sees them without a copy. */
  images: SharedArrayBuffer[];
}

export interface VerifyJob {
  /** The result PNG, transferred to the worker. */
  png: ArrayBuffer;
  /** Index of the sent image in VerifyWorkerData.images. */
  image: number;
}

export interface VerifyOutcome {
  verify_ms: number;
}

const images = (workerData as VerifyWorkerData).images.map((shared) => new Uint8Array(shared));

async function verify(job: VerifyJob): Promise<VerifyOutcome> {
  const sent = images[job.image];
  if (!sent) throw new RangeError(`no image number ${job.image} in the verifier`);
  const started = performance.now();
  await verifyResult(new Uint8Array(job.png), sent);
  return { verify_ms: performance.now() - started };
}

parentPort?.on('message', ({ id, job }: WorkerRequest<VerifyJob>) => {
  verify(job).then(
    (result) =>
      parentPort?.postMessage({ id, ok: true, result } satisfies WorkerReply<VerifyOutcome>),
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      parentPort?.postMessage({
        id,
        ok: false,
        error: {
          code: typeof code === 'string' ? code : 'verify_failed',
          message: err instanceof Error ? err.message : String(err),
        },
      } satisfies WorkerReply<VerifyOutcome>);
    },
  );
});
