/**
 * Safety and liveness checks the simulator applies to every run. Each violation is a
 * sentence naming the time, the nodes and what went wrong; a run passes with none.
 */
import { formatEpoch } from '../core/epoch.js';

export interface Violation {
  time_ms: number;
  rule: string;
  detail: string;
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** epoch -> "server#incarnation" that claimed it. */
  private readonly epochOwners = new Map<number, string>();
  private readonly lastEpoch = new Map<number, number>();
  private readonly deliveries = new Map<string, number>();
  /** server -> planned end of its current silence. */
  private readonly silentUntil = new Map<number, number>();

  private violate(time_ms: number, rule: string, detail: string): void {
    if (this.violations.length < 100) this.violations.push({ time_ms, rule, detail });
  }

  /** At most one leader per epoch, ever (also across restarts of the same server). */
  onBecameLeader(time_ms: number, server: number, incarnation: number, epoch: number): void {
    const who = `s${server}#${incarnation}`;
    const owner = this.epochOwners.get(epoch);
    if (owner !== undefined) {
      this.violate(
        time_ms,
        'one-leader-per-epoch',
        `epoch ${formatEpoch(epoch)} claimed by ${owner} and again by ${who}`,
      );
    }
    this.epochOwners.set(epoch, who);
    if (epoch % 1000 !== server) {
      this.violate(
        time_ms,
        'epoch-owner',
        `s${server} claimed epoch ${formatEpoch(epoch)} minted for another id`,
      );
    }
  }

  /** Epochs never go backwards on any server. */
  onEpochObserved(time_ms: number, server: number, epoch: number): void {
    const last = this.lastEpoch.get(server) ?? 0;
    if (epoch < last) {
      this.violate(
        time_ms,
        'epoch-monotonic',
        `s${server} went from epoch ${formatEpoch(last)} back to ${formatEpoch(epoch)}`,
      );
    }
    if (epoch > last) this.lastEpoch.set(server, epoch);
  }

  /** A client delivers each task once, with the one correct result. */
  onDelivered(
    time_ms: number,
    client: string,
    task: string,
    digest: string,
    expected: string,
  ): void {
    const key = `${client}/${task}`;
    const n = (this.deliveries.get(key) ?? 0) + 1;
    this.deliveries.set(key, n);
    if (n > 1) this.violate(time_ms, 'deliver-once', `${key} delivered ${n} times`);
    if (digest !== expected) {
      this.violate(
        time_ms,
        'right-result',
        `${key} delivered result ${digest}, expected ${expected}`,
      );
    }
  }

  onConflictingResult(time_ms: number, client: string, task: string, detail: string): void {
    this.violate(time_ms, 'one-result', `${client}/${task}: ${detail}`);
  }

  /**
   * The failure simulation silences at most one server at a time. A silence counts until its
   * planned end: a server that is also paused (a separate fault) cannot end it on time, and
   * that is not the failure simulation overlapping two silences.
   */
  onSilenceStarted(time_ms: number, server: number, until_ms: number): void {
    for (const [other, until] of this.silentUntil) {
      if (other !== server && until > time_ms) {
        this.violate(
          time_ms,
          'one-silent-at-a-time',
          `s${server} went silent while s${other} is silent until ${until}ms`,
        );
      }
    }
    this.silentUntil.set(server, until_ms);
  }

  onSilenceEnded(server: number): void {
    this.silentUntil.delete(server);
  }

  /** A crash or restart ends any silence of that server. */
  onServerReset(server: number): void {
    this.silentUntil.delete(server);
  }

  fail(time_ms: number, rule: string, detail: string): void {
    this.violate(time_ms, rule, detail);
  }

  deliveredCount(key: string): number {
    return this.deliveries.get(key) ?? 0;
  }
}

export function formatViolation(v: Violation): string {
  return `[${v.time_ms}ms] ${v.rule}: ${v.detail}`;
}
