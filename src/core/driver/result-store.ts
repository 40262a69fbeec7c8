/**
 * Result bytes of finished tasks, held from `taskFinished` until the core's `releaseResult`,
 * and attached to every TaskResponse sent meanwhile. A released result's buffer goes back
 * to the runner for reuse once no transport write still reads it.
 */
import { taskKey, type ClientId, type TaskId } from '../messages.js';

interface StoredResult {
  bytes: Uint8Array;
  /** Sends of these bytes the transport has not finished with yet. */
  writesInFlight: number;
  released: boolean;
}

export class ResultStore {
  private readonly results = new Map<string, StoredResult>();

  constructor(private readonly recycle: (bytes: Uint8Array) => void) {}

  get size(): number {
    return this.results.size;
  }

  keep(client_id: ClientId, task_id: TaskId, bytes: Uint8Array): void {
    this.results.set(taskKey(client_id, task_id), { bytes, writesInFlight: 0, released: false });
  }

  /**
   * The bytes to send for this task, or null if none are held. Call the returned `written`
   * when the transport is done with them.
   */
  borrow(client_id: ClientId, task_id: TaskId): { bytes: Uint8Array; written: () => void } | null {
    const result = this.results.get(taskKey(client_id, task_id));
    if (result === undefined) return null;
    result.writesInFlight++;
    let done = false;
    return {
      bytes: result.bytes,
      written: () => {
        if (done) return;
        done = true;
        result.writesInFlight--;
        this.recycleIfDone(result);
      },
    };
  }

  release(client_id: ClientId, task_id: TaskId): void {
    const key = taskKey(client_id, task_id);
    const result = this.results.get(key);
    this.results.delete(key);
    if (result === undefined) return;
    result.released = true;
    this.recycleIfDone(result);
  }

  private recycleIfDone(result: StoredResult): void {
    if (!result.released || result.writesInFlight > 0) return;
    result.released = false; // recycle once
    this.recycle(result.bytes);
  }
}
