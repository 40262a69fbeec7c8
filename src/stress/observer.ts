/**
 * Watches the cloud during a stress run by polling every server's /status: it logs leader
 * changes (with how long the cloud went without an agreed leader), the servers the built-in
 * failure simulation silences, and any moment two servers claim leadership. Injectors ask it who
 * leads right now.
 *
 * "Agreed leader": every server that answers, is not silenced by the failure simulation and is
 * not cut off by an injected partition names the same leader in the same epoch, and that leader
 * is among them and says it leads.
 */
import type { RuntimeStatus } from '../server/runtime.js';
import type { StressEvent } from './run-files.js';

export interface StatusSource {
  /** Server ids to poll (the running ones). */
  ids(): number[];
  status(id: number, timeout_ms: number): Promise<RuntimeStatus | null>;
}

export interface ObserverOptions {
  poll_ms: number;
  /** Servers an injector has deliberately cut off: not counted for agreement. */
  isolated(id: number): boolean;
  emit(event: StressEvent): void;
}

interface Agreement {
  leader: number;
  epoch: number;
}

/** The agreed leader among `statuses`, or null (pure, for tests). */
export function agreedLeader(
  statuses: readonly RuntimeStatus[],
  counts: (status: RuntimeStatus) => boolean,
): Agreement | null {
  const voters = statuses.filter(counts);
  const first = voters[0];
  if (!first || first.leader_id === null) return null;
  const same = voters.every((s) => s.leader_id === first.leader_id && s.epoch === first.epoch);
  const leaderSaysSo = voters.some((s) => s.id === first.leader_id && s.role === 'leader');
  return same && leaderSaysSo ? { leader: first.leader_id, epoch: first.epoch } : null;
}

function sameAgreement(a: Agreement | null, b: Agreement | null): boolean {
  return a !== null && b !== null && a.leader === b.leader && a.epoch === b.epoch;
}

/** A server that misses polls keeps its last view this long (unless an injector hit it). */
const MISSED_POLL_GRACE_MS = 2000;

/** "server 1: leader 1 epoch 1.1; server 2: no leader; no answer from 3", for event details. */
export function describeViews(
  statuses: readonly RuntimeStatus[],
  unanswered: readonly number[],
): string {
  const parts = statuses.map(
    (s) =>
      `server ${s.id}: ${s.silent_for_ms !== null ? 'silent' : s.role}, ${s.leader_id === null ? 'no leader' : `leader ${s.leader_id}`}, epoch ${s.epoch_label}`,
  );
  if (unanswered.length > 0) parts.push(`no answer from ${unanswered.join(', ')}`);
  return parts.join('; ');
}

export class ClusterObserver {
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private agreed: Agreement | null = null;
  /** When the cloud lost its agreed leader (null while it has one). */
  private leaderlessSince: number | null = null;
  private readonly silent = new Set<number>();
  private lastSplit = '';
  private lastStatuses = new Map<number, RuntimeStatus>();
  /** Every server's last answer and when it came. */
  private readonly seen = new Map<number, { status: RuntimeStatus; at_ms: number }>();
  /** The last time an injector hit the leader, so a leader change is timed from the fault. */
  private leaderFaultAt: number | null = null;
  /** The leader the cloud last lost, for the next election's log line. */
  private lostLeader: number | null = null;
  readonly leaderChanges: { at_ms: number; leader: number; epoch: number }[] = [];

  constructor(
    private readonly source: StatusSource,
    private readonly options: ObserverOptions,
  ) {}

  start(): void {
    const tick = (): void => {
      this.polling = this.poll().finally(() => {
        if (this.timer !== null) this.timer = setTimeout(tick, this.options.poll_ms);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
  }

  /** The agreed leader right now, else the highest-epoch server that says it leads. */
  leader(): number | null {
    if (this.agreed) return this.agreed.leader;
    let best: RuntimeStatus | null = null;
    const now = Date.now();
    for (const { status, at_ms } of this.seen.values())
      if (
        now - at_ms <= MISSED_POLL_GRACE_MS &&
        status.role === 'leader' &&
        status.silent_for_ms === null &&
        (!best || status.epoch > best.epoch)
      )
        best = status;
    return best?.id ?? null;
  }

  get agreement(): Agreement | null {
    return this.agreed;
  }

  isSilent(id: number): boolean {
    return this.silent.has(id);
  }

  /** An injector just hit server `id`; if it led, the leaderless time starts now. */
  noteFault(id: number, at_ms: number): boolean {
    this.seen.delete(id);
    const wasLeader = this.leader() === id;
    if (wasLeader) this.leaderFaultAt = at_ms;
    return wasLeader;
  }

  /** One poll (exposed so a caller can force a fresh view). */
  async poll(): Promise<void> {
    const ids = this.source.ids();
    const answers = await Promise.all(
      ids.map((id) => this.source.status(id, Math.max(300, this.options.poll_ms * 2))),
    );
    const now = Date.now();
    const statuses = answers.filter((s): s is RuntimeStatus => s !== null);
    this.lastStatuses = new Map(statuses.map((s) => [s.id, s]));
    for (const status of statuses) this.seen.set(status.id, { status, at_ms: now });
    // A server that misses one poll (a busy machine: its /status answered late) keeps its last
    // view for a moment; one an injector just hit does not (noteFault forgets it).
    const unanswered = ids.filter((id) => !this.lastStatuses.has(id));
    const recent = unanswered
      .map((id) => this.seen.get(id))
      .filter((entry) => entry !== undefined && now - entry.at_ms <= MISSED_POLL_GRACE_MS)
      .map((entry) => (entry as { status: RuntimeStatus }).status);
    this.trackSilences(statuses, new Set(ids), now);
    this.trackSplit(statuses, now);
    // A server that names no leader (just restarted, or resyncing after a silence) has no
    // vote: it does not make the others' leader any less agreed.
    const votes = (st: RuntimeStatus): boolean =>
      st.silent_for_ms === null && !this.options.isolated(st.id) && st.leader_id !== null;
    // Fresh answers decide. The remembered views of servers that missed this poll only keep an
    // agreement that held already (they are older, so they never block a new leader).
    let agreement = agreedLeader(statuses, votes);
    if (agreement === null && this.agreed !== null && recent.length > 0) {
      const withMemory = agreedLeader([...statuses, ...recent], votes);
      agreement = sameAgreement(withMemory, this.agreed) ? withMemory : null;
    }
    this.trackLeader(agreement, now, () => describeViews(statuses, unanswered));
  }

  private trackSilences(
    statuses: readonly RuntimeStatus[],
    polled: ReadonlySet<number>,
    now: number,
  ): void {
    for (const status of statuses) {
      const silentNow = status.silent_for_ms !== null && status.silent_for_ms > 0;
      if (silentNow && !this.silent.has(status.id)) {
        this.silent.add(status.id);
        const wasLeader = this.agreed?.leader === status.id;
        if (wasLeader) this.leaderFaultAt = now;
        this.options.emit({
          at_ms: now,
          kind: 'silence_start',
          server: status.id,
          source: 'failure-sim',
          detail: `silent for ${status.silent_for_ms} ms more`,
          was_leader: wasLeader,
        });
      } else if (!silentNow && this.silent.has(status.id)) {
        this.silent.delete(status.id);
        this.options.emit({
          at_ms: now,
          kind: 'silence_end',
          server: status.id,
          source: 'failure-sim',
        });
      }
    }
    // A silenced server that is no longer polled (killed meanwhile) is no longer tracked as
    // silent; one that merely missed a poll (a busy machine) still is.
    for (const id of [...this.silent]) if (!polled.has(id)) this.silent.delete(id);
  }

  private trackSplit(statuses: readonly RuntimeStatus[], now: number): void {
    const leaders = statuses.filter((s) => s.role === 'leader' && s.silent_for_ms === null);
    const key = leaders
      .map((s) => `${s.id}@${s.epoch_label}`)
      .sort()
      .join(' ');
    if (leaders.length > 1 && key !== this.lastSplit) {
      const sameEpoch = new Set(leaders.map((s) => s.epoch)).size < leaders.length;
      this.options.emit({
        at_ms: now,
        kind: 'split_leaders',
        source: 'observer',
        detail: `${leaders.length} servers say they lead: ${key}${sameEpoch ? ' (SAME EPOCH: a safety violation)' : ' (different epochs: the older one is stale)'}`,
      });
    }
    this.lastSplit = leaders.length > 1 ? key : '';
  }

  private trackLeader(agreement: Agreement | null, now: number, views: () => string): void {
    const previous = this.agreed;
    if (agreement === null) {
      if (previous !== null) {
        this.lostLeader = previous.leader;
        this.leaderlessSince = Math.min(now, this.leaderFaultAt ?? now);
        this.options.emit({
          at_ms: this.leaderlessSince,
          kind: 'leader_lost',
          source: 'observer',
          leader: previous.leader,
          epoch: previous.epoch,
          detail: `the servers no longer agree on a live leader: ${views()}`,
        });
      }
      this.agreed = null;
      return;
    }
    const last = this.leaderChanges[this.leaderChanges.length - 1];
    const sameAsLast = last?.leader === agreement.leader && last.epoch === agreement.epoch;
    if (previous === null && sameAsLast) {
      // The servers disagreed for a while, then came back to the same leader and epoch:
      // not a leader change, but worth a line.
      this.options.emit({
        at_ms: now,
        kind: 'note',
        source: 'observer',
        server: agreement.leader,
        detail: `agreement on leader ${agreement.leader} restored after ${Math.round(now - (this.leaderlessSince ?? now))} ms, same epoch`,
      });
    }
    const changed =
      !sameAsLast &&
      (previous === null ||
        previous.leader !== agreement.leader ||
        previous.epoch !== agreement.epoch);
    if (changed) {
      const since = this.leaderlessSince ?? (previous ? this.leaderFaultAt : null);
      this.options.emit({
        at_ms: now,
        kind: 'leader_elected',
        source: 'observer',
        server: agreement.leader,
        leader: agreement.leader,
        epoch: agreement.epoch,
        leaderless_ms: since === null ? null : Math.max(0, now - since),
        detail: previous
          ? `took over from leader ${previous.leader} (epoch ${previous.epoch})`
          : this.lostLeader !== null
            ? `after leader ${this.lostLeader} was lost`
            : 'first agreed leader seen',
      });
      this.leaderChanges.push({ at_ms: now, leader: agreement.leader, epoch: agreement.epoch });
      this.leaderFaultAt = null;
    }
    this.leaderlessSince = null;
    this.agreed = agreement;
  }
}
