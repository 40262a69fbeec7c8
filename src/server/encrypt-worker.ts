/**
 * Worker thread that runs encryption tasks: it receives a task payload (a cloudp2p container,
 * see docs/STEGO-FORMAT.md), checks it, hides it in the default cover (scaled up when the
 * payload needs it) and returns the stego PNG. The cover raster arrives once, in workerData,
 * in shared memory: no worker decodes it and no request copies it.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CoverSet,
  containerSize,
  decodeContainer,
  embedContainer,
  encodePng,
} from '../stego/index.js';
import type { Raster } from '../stego/index.js';
import type { WorkerReply, WorkerRequest } from './worker-pool.js';

export interface EncryptWorkerData {
  cover: { width: number; height: number; channels: 3 | 4; data: SharedArrayBuffer };
  maxPixels: number;
  maxCachedCoverBytes: number;
}

export interface EncryptJob {
  /** The container bytes, transferred (not copied) to the worker. */
  payload: ArrayBuffer;
  /** A recycled buffer to write the PNG into, if one is free (see EncryptExecutor.recycle). */
  output?: ArrayBuffer;
}

export interface EncryptResult {
  png: Uint8Array;
  /** SHA-256 of the PNG, hex: computed here so the server's event loop does not have to. */
  digest: string;
}

const data = workerData as EncryptWorkerData;
const cover: Raster = {
  width: data.cover.width,
  height: data.cover.height,
  channels: data.cover.channels,
  data: new Uint8Array(data.cover.data),
};
const covers = new CoverSet(cover, {
  maxPixels: data.maxPixels,
  maxCachedBytes: data.maxCachedCoverBytes,
});

function encrypt(job: EncryptJob): Uint8Array {
  const payload = decodeContainer(new Uint8Array(job.payload));
  const prepared = covers.coverFor(containerSize(payload), true);
  const { raster } = embedContainer(prepared.raster, payload);
  return encodePng(raster, prepared.pngCache, job.output);
}

parentPort?.on('message', ({ id, job }: WorkerRequest<EncryptJob>) => {
  let reply: WorkerReply<EncryptResult>;
  try {
    const png = encrypt(job);
    reply = {
      id,
      ok: true,
      result: { png, digest: createHash('sha256').update(png).digest('hex') },
    };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    reply = {
      id,
      ok: false,
      error: {
        code: typeof code === 'string' ? code : 'encrypt_failed',
        message: err instanceof Error ? err.message : String(err),
      },
    };
  }
  const transfer = reply.ok ? [reply.result.png.buffer as ArrayBuffer] : [];
  parentPort?.postMessage(reply, transfer);
});
