/**
 * The run's fingerprint: a rolling FNV-1a style hash of everything that happened (deliveries,
 * timers, faults). Equal fingerprints = identical runs; test/sim/replay.test.ts relies on it.
 */

/** Mixes `values` (as 32-bit integers) into the hash `h`. */
export function mixHash(h: number, values: readonly number[]): number {
  for (const v of values) h = Math.imul(h ^ (v | 0), 0x01000193);
  return h >>> 0;
}

const TYPE_CODES = new Map<string, number>();

/**
 * A small number per message type, in order of first use in this process (so fingerprints
 * compare runs made in the same order, as the replay test does).
 */
export function typeCode(type: string): number {
  let code = TYPE_CODES.get(type);
  if (code === undefined) {
    code = TYPE_CODES.size + 1;
    TYPE_CODES.set(type, code);
  }
  return code;
}
