/**
 * Randomness as an input. The core never calls Math.random: every ServerNode and
 * ClientSession takes a {@link RandomSource}, so the simulator can replay a run exactly from
 * its seed, while the real runtime passes a SeededRandom seeded from crypto.
 */

/** A source of uniformly distributed floats in [0, 1). */
export interface RandomSource {
  next(): number;
}

/**
 * Small, fast, seedable PRNG (sfc32, seeded through splitmix32). Not cryptographic; good
 * statistical quality for jitter, fault injection and picks.
 */
export class SeededRandom implements RandomSource {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = split();
    this.b = split();
    this.c = split();
    this.d = split();
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** A new independent generator derived from this one (for sub-systems). */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 4294967296));
  }
}

/** Integer uniformly drawn from min..max inclusive. */
export function randomInt(random: RandomSource, min: number, max: number): number {
  return min + Math.floor(random.next() * (max - min + 1));
}

/** True with probability p. */
export function chance(random: RandomSource, p: number): boolean {
  return p > 0 && random.next() < p;
}

/** One element of a non-empty array. */
export function pick<T>(random: RandomSource, items: readonly T[]): T {
  const item = items[Math.floor(random.next() * items.length)];
  if (item === undefined) throw new Error('pick: empty list');
  return item;
}
