/**
 * The replicated task history `(client, task) -> server, epoch, attempt`, with tombstones
 * for acknowledged tasks and an order-independent digest for anti-entropy.
 *
 * Every server holds one replica. Only the leader changes it on purpose (assignment,
 * reassignment, removal after an ack, merge of an offered history); followers apply the
 * leader's numbered changes or install its snapshot. Tombstones are bounded (oldest dropped
 * first) and keep a merged-in stale entry from resurrecting a task its client already
 * acknowledged.
 */
import {
  isNewerAssignment,
  taskKey,
  type HistoryEntry,
  type HistoryInfo,
  type TaskRef,
} from './messages.js';

/** FNV-1a over the entry's fields; sums of these form the digest. */
export function entryHash(e: HistoryEntry): number {
  const text = `${e.client_id}/${e.task_id}|${e.assignment.server_id}|${e.assignment.epoch}|${e.assignment.attempt}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface StoredEntry {
  entry: HistoryEntry;
  hash: number;
  /** Local time this replica learned the entry (for the leader's TTL). */
  learned_at_ms: number;
}

export class TaskHistory {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly tombstones = new Map<string, TaskRef>();
  private digestSum = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxTombstones: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Order-independent digest of the entries (tombstones excluded). */
  get digest(): number {
    return this.digestSum >>> 0;
  }

  isFull(): boolean {
    return this.entries.size >= this.maxEntries;
  }

  info(seq: number): HistoryInfo {
    return { seq, digest: this.digest, size: this.size };
  }

  get(key: string): HistoryEntry | undefined {
    return this.entries.get(key)?.entry;
  }

  learnedAt(key: string): number | undefined {
    return this.entries.get(key)?.learned_at_ms;
  }

  isTombstoned(key: string): boolean {
    return this.tombstones.has(key);
  }

  /**
   * Adds or replaces an entry. Returns false (and changes nothing) when the task is
   * tombstoned, or when the history is full and the entry is new.
   */
  set(entry: HistoryEntry, now_ms: number): boolean {
    const key = taskKey(entry.client_id, entry.task_id);
    if (this.tombstones.has(key)) return false;
    const old = this.entries.get(key);
    if (old === undefined && this.isFull()) return false;
    if (old !== undefined) this.digestSum = (this.digestSum - old.hash) | 0;
    const hash = entryHash(entry);
    this.digestSum = (this.digestSum + hash) | 0;
    this.entries.set(key, { entry, hash, learned_at_ms: old?.learned_at_ms ?? now_ms });
    return true;
  }

  /** Like {@link set}, but only if `entry` is newer than what is stored. */
  setIfNewer(entry: HistoryEntry, now_ms: number): boolean {
    const old = this.get(taskKey(entry.client_id, entry.task_id));
    if (old !== undefined && !isNewerAssignment(entry.assignment, old.assignment)) return false;
    return this.set(entry, now_ms);
  }

  /** Removes the entry (if any) and remembers the task as acknowledged. */
  remove(ref: TaskRef): HistoryEntry | undefined {
    const key = taskKey(ref.client_id, ref.task_id);
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.digestSum = (this.digestSum - old.hash) | 0;
    }
    this.addTombstone(key, ref);
    return old?.entry;
  }

  private addTombstone(key: string, ref: TaskRef): void {
    if (this.maxTombstones === 0) return;
    this.tombstones.delete(key);
    this.tombstones.set(key, { client_id: ref.client_id, task_id: ref.task_id });
    while (this.tombstones.size > this.maxTombstones) {
      const oldest = this.tombstones.keys().next().value;
      if (oldest === undefined) break;
      this.tombstones.delete(oldest);
    }
  }

  /** Entries assigned to `serverId`. */
  onServer(serverId: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (const { entry } of this.entries.values()) {
      if (entry.assignment.server_id === serverId) out.push(entry);
    }
    return out;
  }

  /** Entries the leader learned before `cutoff_ms` (TTL expiry). */
  olderThan(cutoff_ms: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (const stored of this.entries.values()) {
      if (stored.learned_at_ms < cutoff_ms) out.push(stored.entry);
    }
    return out;
  }

  allEntries(): HistoryEntry[] {
    return [...this.entries.values()].map((s) => s.entry);
  }

  allTombstones(): TaskRef[] {
    return [...this.tombstones.values()];
  }

  /** Replaces the whole replica with a snapshot (tombstones are merged, not replaced). */
  install(entries: readonly HistoryEntry[], tombstones: readonly TaskRef[], now_ms: number): void {
    this.entries.clear();
    this.digestSum = 0;
    for (const t of tombstones) this.addTombstone(taskKey(t.client_id, t.task_id), t);
    for (const e of entries) {
      const key = taskKey(e.client_id, e.task_id);
      // The snapshot is authoritative: an entry in it overrides a local tombstone.
      this.tombstones.delete(key);
      this.set(e, now_ms);
    }
  }
}

/** Digest of a list of entries, computed the same way as {@link TaskHistory.digest}. */
export function digestOf(entries: readonly HistoryEntry[]): number {
  let sum = 0;
  for (const e of entries) sum = (sum + entryHash(e)) | 0;
  return sum >>> 0;
}
