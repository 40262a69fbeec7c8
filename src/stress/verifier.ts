/**
 * Verifies results off the driver's event loop, in a small pool of worker threads (see
 * verify-worker.ts). `verify` resolves with the time extraction took, or rejects with the
 * reason the result is wrong.
 */
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../server/worker-pool.js';
import { packagePath } from '../util/package-info.js';
import type { VerifyJob, VerifyOutcome, VerifyWorkerData } from './verify-worker.js';

/** Results waiting for a verifier thread; beyond this the clients wait before sending more. */
export const MAX_VERIFY_BACKLOG = 256;
const VERIFY_TIMEOUT_MS = 60_000;

export class Verifier {
  private readonly pool: WorkerPool<VerifyJob, VerifyOutcome>;
  private waiting = 0;

  constructor(images: readonly Uint8Array[], threads: number) {
    const shared = images.map((bytes) => {
      const buffer = new SharedArrayBuffer(bytes.length);
      new Uint8Array(buffer).set(bytes);
      return buffer;
    });
    this.pool = new WorkerPool<VerifyJob, VerifyOutcome>({
      script: workerScript(),
      size: threads,
      maxQueue: MAX_VERIFY_BACKLOG * 4,
      jobTimeout_ms: VERIFY_TIMEOUT_MS,
      workerData: { images: shared } satisfies VerifyWorkerData,
    });
  }

  /** Results handed over and not verified yet. */
  get backlog(): number {
    return this.waiting;
  }

  async verify(png: Uint8Array, image: number): Promise<number> {
    // Copy into a buffer of our own: the PNG may be a view into a socket's larger buffer.
    // (new Uint8Array copies; Buffer#slice would not, and .buffer would start at the wrong offset.)
    const copy = new Uint8Array(png).buffer as ArrayBuffer;
    this.waiting++;
    try {
      const outcome = await this.pool.submit({ png: copy, image }, [copy]);
      return outcome.verify_ms;
    } finally {
      this.waiting--;
    }
  }

  close(): Promise<void> {
    return this.pool.close(VERIFY_TIMEOUT_MS);
  }
}

/** The compiled worker; from TypeScript sources (tests) the build in dist/ is used. */
function workerScript(): string | URL {
  if (fileURLToPath(import.meta.url).endsWith('.ts'))
    return packagePath('dist', 'stress', 'verify-worker.js');
  return new URL('./verify-worker.js', import.meta.url);
}
