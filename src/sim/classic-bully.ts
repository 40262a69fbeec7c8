/**
 * Textbook Bully election (Garcia-Molina 1982), used ONLY as the baseline in the election
 * measurements. Same shape as the core (sans-IO: receive/tick/drain), same failure
 * detection (the leader heartbeats everyone; silence for the failure timeout means dead),
 * so the comparison isolates the election itself.
 *
 * A process that notices the leader is gone sends Election to every higher-id process; each
 * of those answers and starts its own election; a process that hears no answer within the
 * election timeout becomes leader and tells everyone with Coordinator. When every survivor
 * notices the failure at about the same time, that is O(n²) messages.
 */

export type BullyMessage =
  | { type: 'Heartbeat'; from: number }
  | { type: 'Election'; from: number }
  | { type: 'Answer'; from: number }
  | { type: 'Coordinator'; from: number };

export interface BullyTimings {
  heartbeat_interval_ms: number;
  election_timeout_ms: number;
  failure_timeout_ms: number;
}

export class ClassicBullyNode {
  leader: number | null = null;
  private outbox: { to: number; message: BullyMessage }[] = [];
  private lastHeartbeat: number;
  private nextHeartbeat: number;
  private electing = false;
  private answered = false;
  private deadline: number | null = null;

  constructor(
    readonly id: number,
    private readonly peers: readonly number[],
    private readonly t: BullyTimings,
    now: number,
    leader: number | null,
  ) {
    this.leader = leader;
    this.lastHeartbeat = now;
    this.nextHeartbeat = now;
  }

  receive(m: BullyMessage, now: number): void {
    switch (m.type) {
      case 'Heartbeat':
        if (m.from === this.leader) this.lastHeartbeat = now;
        return;
      case 'Election':
        this.send(m.from, { type: 'Answer', from: this.id });
        if (!this.electing) this.startElection(now);
        return;
      case 'Answer':
        if (!this.electing) return;
        this.answered = true;
        // Wait for the higher process to announce itself; start over if it never does.
        this.deadline = now + 2 * this.t.election_timeout_ms;
        return;
      case 'Coordinator':
        this.leader = m.from;
        this.lastHeartbeat = now;
        this.electing = false;
        this.deadline = null;
        return;
    }
  }

  tick(now: number): void {
    if (this.leader === this.id) {
      if (now >= this.nextHeartbeat) {
        this.nextHeartbeat = now + this.t.heartbeat_interval_ms;
        for (const p of this.peers) this.send(p, { type: 'Heartbeat', from: this.id });
      }
      return;
    }
    if (!this.electing && now - this.lastHeartbeat >= this.t.failure_timeout_ms) {
      this.leader = null;
      this.startElection(now);
      return;
    }
    if (this.electing && this.deadline !== null && now >= this.deadline) {
      if (this.answered) this.startElection(now);
      else this.becomeLeader(now);
    }
  }

  nextDeadline(): number {
    if (this.leader === this.id) return this.nextHeartbeat;
    if (this.electing && this.deadline !== null) return this.deadline;
    return this.lastHeartbeat + this.t.failure_timeout_ms;
  }

  drain(): { to: number; message: BullyMessage }[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  private send(to: number, message: BullyMessage): void {
    this.outbox.push({ to, message });
  }

  private startElection(now: number): void {
    this.electing = true;
    this.answered = false;
    const higher = this.peers.filter((p) => p > this.id);
    if (higher.length === 0) {
      this.becomeLeader(now);
      return;
    }
    for (const p of higher) this.send(p, { type: 'Election', from: this.id });
    this.deadline = now + this.t.election_timeout_ms;
  }

  private becomeLeader(now: number): void {
    this.electing = false;
    this.deadline = null;
    this.leader = this.id;
    this.nextHeartbeat = now;
    for (const p of this.peers) this.send(p, { type: 'Coordinator', from: this.id });
  }
}
