/**
 * The agent's log is appended to by every run: a failed `peer login` shows the lines its own
 * attempt wrote (from the size the file had before), never stale ones from earlier runs.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** Bytes read from the end at most (the last lines are what explains a failure). */
const MAX_TAIL_BYTES = 64 * 1024;

export function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The last `maxLines` non-empty lines written to `path` after byte `from`. */
export function logLinesSince(path: string, from: number, maxLines: number): string[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - MAX_TAIL_BYTES);
    if (size <= start) return [];
    const bytes = Buffer.alloc(size - start);
    readSync(fd, bytes, 0, bytes.length, start);
    return bytes.toString('utf8').split('\n').filter(Boolean).slice(-maxLines);
  } finally {
    closeSync(fd);
  }
}
