/**
 * Persists the core's HardState (highest term seen, current epoch) so a restarted server never
 * reuses an epoch or moves its epoch backwards. Written atomically (temp file + rename) and
 * synchronously, before the messages of the same Ready are sent, as the core requires.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HardState } from '../core/epoch.js';
import { MAX_TERM } from '../core/epoch.js';

export class HardStateStore {
  private readonly path: string;

  constructor(private readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'hard-state.json');
  }

  /** The saved state, or undefined when there is none or it is unreadable (logged by the caller). */
  load(): { state: HardState | undefined; problem: string | null } {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { state: undefined, problem: null };
      return { state: undefined, problem: `cannot read ${this.path}: ${(err as Error).message}` };
    }
    try {
      const value = JSON.parse(text) as Partial<HardState>;
      const valid = (n: unknown): n is number =>
        typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
      if (!valid(value.max_term) || !valid(value.epoch) || value.max_term > MAX_TERM) {
        return {
          state: undefined,
          problem: `${this.path} does not hold a valid hard state; starting fresh`,
        };
      }
      return { state: { max_term: value.max_term, epoch: value.epoch }, problem: null };
    } catch {
      return { state: undefined, problem: `${this.path} is not JSON; starting fresh` };
    }
  }

  save(state: HardState): void {
    const temp = `${this.path}.tmp`;
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, this.path);
  }
}
