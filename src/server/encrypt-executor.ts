/**
 * The production TaskExecutor: a WorkerPool of encrypt-worker threads sharing one decoded cover.
 */
import { fileURLToPath } from 'node:url';
import { loadCoverSet } from '../stego/index.js';
import { packagePath } from '../util/package-info.js';
import type { TaskExecutor } from './runtime.js';
import type { EncryptJob, EncryptResult, EncryptWorkerData } from './encrypt-worker.js';
import { WorkerPool } from './worker-pool.js';

export interface EncryptExecutorOptions {
  threads: number;
  maxQueue: number;
  coverPath: string | undefined;
  jobTimeout_ms: number;
  maxPixels?: number;
  maxCachedCoverBytes?: number;
}

export async function createEncryptExecutor(
  options: EncryptExecutorOptions,
): Promise<TaskExecutor> {
  // Decode the cover once, here, and share its pixels with every worker.
  const base = (await loadCoverSet(options.coverPath)).cover.raster;
  const shared = new SharedArrayBuffer(base.data.length);
  new Uint8Array(shared).set(base.data);
  const workerData: EncryptWorkerData = {
    cover: { width: base.width, height: base.height, channels: base.channels, data: shared },
    maxPixels: options.maxPixels ?? 40_000_000,
    maxCachedCoverBytes: options.maxCachedCoverBytes ?? 128 * 1024 * 1024,
  };
  const pool = new WorkerPool<EncryptJob, EncryptResult>({
    script: workerScript(),
    size: options.threads,
    maxQueue: options.maxQueue,
    jobTimeout_ms: options.jobTimeout_ms,
    workerData,
  });
  const spare: ArrayBuffer[] = [];
  return {
    start(payload, onStart) {
      const output = spare.pop();
      // Copy into a buffer of its own so it can be transferred without detaching socket memory.
      // (Not payload.slice(): on a Buffer that is a view of the socket's memory, not a copy, and
      // its .buffer would start at the wrong offset.)
      const copy = new Uint8Array(payload).buffer as ArrayBuffer;
      const job = pool.start(output ? { payload: copy, output } : { payload: copy }, {
        transfer: output ? [copy, output] : [copy],
        onStart,
      });
      return { result: job.result, cancel: job.cancel };
    },
    recycle(buffer) {
      // Keep a few sent results' buffers for the next PNGs: a new multi-megabyte buffer per
      // image would trigger a full garbage collection every few hundred milliseconds.
      if (spare.length < MAX_SPARE_BUFFERS && buffer.byteLength > 0) spare.push(buffer);
    },
    stats: () => pool.stats(),
    close: (drain_ms) => pool.close(drain_ms),
  };
}

/** Spare PNG buffers kept for reuse (each as large as the largest recent result). */
const MAX_SPARE_BUFFERS = 8;

/** The compiled worker; from TypeScript sources (tests) use the build in dist/. */
function workerScript(): string | URL {
  if (fileURLToPath(import.meta.url).endsWith('.ts'))
    return packagePath('dist', 'server', 'encrypt-worker.js');
  return new URL('./encrypt-worker.js', import.meta.url);
}
