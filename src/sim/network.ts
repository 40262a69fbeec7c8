/**
 * The simulated network: per-message delay, loss, duplication and reordering, plus symmetric
 * and one-way partitions between servers. Links are FIFO like TCP unless a message is picked
 * for reordering. Clients always reach every server (partitions split the server mesh).
 */
import { chance, randomInt, type RandomSource } from '../core/random.js';

export interface NetworkConditions {
  min_delay_ms: number;
  max_delay_ms: number;
  /** Probability a message is lost. */
  loss: number;
  /** Probability a message is delivered twice. */
  duplicate: number;
  /** Probability a message ignores FIFO order and takes up to reorder_extra_ms longer. */
  reorder: number;
  reorder_extra_ms: number;
}

export const CALM_NETWORK: Readonly<NetworkConditions> = Object.freeze({
  min_delay_ms: 1,
  max_delay_ms: 5,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorder_extra_ms: 0,
});

/** Endpoint names: `s3` for server 3, `c:c1` for client c1. */
export function serverEndpoint(id: number): string {
  return `s${id}`;
}

export function clientEndpoint(id: string): string {
  return `c:${id}`;
}

export class Network {
  conditions: NetworkConditions = { ...CALM_NETWORK };
  private readonly blocked = new Set<string>();
  private readonly lastArrival = new Map<string, number>();

  constructor(private readonly random: RandomSource) {}

  /** Splits servers into groups that cannot reach each other (both directions). */
  partition(groups: readonly (readonly number[])[]): void {
    for (let g = 0; g < groups.length; g++) {
      for (let h = 0; h < groups.length; h++) {
        if (g === h) continue;
        for (const a of groups[g] ?? []) {
          for (const b of groups[h] ?? [])
            this.blocked.add(`${serverEndpoint(a)}>${serverEndpoint(b)}`);
        }
      }
    }
  }

  /** Messages from server `from` to server `to` are lost (the other direction still works). */
  blockOneWay(from: number, to: number): void {
    this.blocked.add(`${serverEndpoint(from)}>${serverEndpoint(to)}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  get isPartitioned(): boolean {
    return this.blocked.size > 0;
  }

  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  /** Arrival times for one message sent now (empty: lost or blocked; two: duplicated). */
  plan(from: string, to: string, now: number): number[] {
    if (this.isBlocked(from, to)) return [];
    const c = this.conditions;
    if (chance(this.random, c.loss)) return [];
    const first = this.arrival(from, to, now);
    if (!chance(this.random, c.duplicate)) return [first];
    return [first, this.arrival(from, to, now)];
  }

  private arrival(from: string, to: string, now: number): number {
    const c = this.conditions;
    const delay = randomInt(this.random, c.min_delay_ms, c.max_delay_ms);
    if (chance(this.random, c.reorder)) {
      return now + delay + randomInt(this.random, 0, c.reorder_extra_ms);
    }
    const link = `${from}>${to}`;
    const at = Math.max(now + delay, this.lastArrival.get(link) ?? 0);
    this.lastArrival.set(link, at);
    return at;
  }
}
