import { describe, expect, it } from 'vitest';
import type { RuntimeStatus } from '../../../src/server/runtime.js';
import { ClusterObserver, agreedLeader } from '../../../src/stress/observer.js';
import type { StressEvent } from '../../../src/stress/run-files.js';

function status(
  id: number,
  leader: number | null,
  epoch: number,
  extra: Partial<RuntimeStatus> = {},
): RuntimeStatus {
  return {
    id,
    role: leader === id ? 'leader' : 'follower',
    leader_id: leader,
    epoch,
    epoch_label: `${Math.floor(epoch / 1000)}.${epoch % 1000}`,
    silent_for_ms: null,
    ...extra,
  } as RuntimeStatus;
}

describe('agreedLeader', () => {
  const all = (): boolean => true;

  it('needs every voter on the same leader and epoch, and the leader saying so', () => {
    expect(agreedLeader([status(1, 2, 2002), status(2, 2, 2002), status(3, 2, 2002)], all)).toEqual(
      {
        leader: 2,
        epoch: 2002,
      },
    );
    expect(
      agreedLeader([status(1, 2, 2002), status(2, 2, 2002), status(3, 2, 1001)], all),
    ).toBeNull();
    expect(agreedLeader([status(1, 2, 2002), status(3, 2, 2002)], all)).toBeNull(); // leader silent
    expect(agreedLeader([status(1, null, 0)], all)).toBeNull();
    expect(agreedLeader([], all)).toBeNull();
  });

  it('ignores the servers the caller excludes (silenced or partitioned)', () => {
    const statuses = [status(1, 1, 1001), status(2, 1, 1001), status(3, 3, 3003)];
    expect(agreedLeader(statuses, (s) => s.id !== 3)).toEqual({ leader: 1, epoch: 1001 });
  });
});

describe('ClusterObserver', () => {
  it('logs a leader change with the leaderless time measured from the fault', async () => {
    let views: RuntimeStatus[] = [status(1, 1, 1001), status(2, 1, 1001), status(3, 1, 1001)];
    const events: StressEvent[] = [];
    const observer = new ClusterObserver(
      {
        ids: () => views.map((v) => v.id),
        status: async (id) => views.find((v) => v.id === id) ?? null,
      },
      { poll_ms: 100, isolated: () => false, emit: (e) => events.push(e) },
    );
    await observer.poll();
    expect(observer.leader()).toBe(1);
    const faultAt = Date.now() - 500;
    expect(observer.noteFault(1, faultAt)).toBe(true);
    views = [status(2, null, 1001), status(3, null, 1001)];
    await observer.poll();
    views = [status(2, 2, 2002), status(3, 2, 2002)];
    await observer.poll();
    const kinds = events.map((e) => e.kind);
    expect(kinds).toEqual(['leader_elected', 'leader_lost', 'leader_elected']);
    expect(events[1]?.at_ms).toBe(faultAt);
    const elected = events[2] as StressEvent;
    expect(elected.leader).toBe(2);
    expect(elected.leaderless_ms).toBeGreaterThanOrEqual(500);
  });

  it('logs failure-simulation silences and two servers claiming leadership', async () => {
    let views: RuntimeStatus[] = [status(1, 1, 1001), status(2, 1, 1001), status(3, 1, 1001)];
    const events: StressEvent[] = [];
    const observer = new ClusterObserver(
      { ids: () => [1, 2, 3], status: async (id) => views.find((v) => v.id === id) ?? null },
      { poll_ms: 100, isolated: () => false, emit: (e) => events.push(e) },
    );
    await observer.poll();
    views = [
      status(1, 1, 1001),
      status(2, null, 1001, { silent_for_ms: 4000, role: 'silent' } as Partial<RuntimeStatus>),
      status(3, 1, 1001),
    ];
    await observer.poll();
    expect(observer.isSilent(2)).toBe(true);
    views = [status(1, 1, 1001), status(2, 2, 2002), status(3, 1, 1001)];
    await observer.poll();
    expect(events.map((e) => e.kind)).toEqual([
      'leader_elected',
      'silence_start',
      'silence_end',
      'split_leaders',
      'leader_lost',
    ]);
    expect(events[3]?.detail).toMatch(/different epochs/);
  });

  it('does not count a restarted server without a leader, nor a return to the same leader, as a change', async () => {
    let views: RuntimeStatus[] = [status(1, 1, 1001), status(2, 1, 1001), status(3, 1, 1001)];
    const events: StressEvent[] = [];
    const observer = new ClusterObserver(
      { ids: () => [1, 2, 3], status: async (id) => views.find((v) => v.id === id) ?? null },
      { poll_ms: 100, isolated: () => false, emit: (e) => events.push(e) },
    );
    await observer.poll();
    views = [status(1, 1, 1001), status(2, null, 0), status(3, 1, 1001)]; // 2 restarted
    await observer.poll();
    expect(observer.agreement).toEqual({ leader: 1, epoch: 1001 });
    views = [status(1, 1, 1001), status(2, 3, 1001), status(3, 1, 1001)]; // 2 confused
    await observer.poll();
    views = [status(1, 1, 1001), status(2, 1, 1001), status(3, 1, 1001)];
    await observer.poll();
    expect(events.map((e) => e.kind)).toEqual(['leader_elected', 'leader_lost', 'note']);
    expect(events[2]?.detail).toMatch(/restored .* same epoch/);
  });

  it('keeps a silence through a missed poll: one silence, not two', async () => {
    let views: (RuntimeStatus | null)[] = [
      status(1, 1, 1001),
      status(2, 1, 1001, { silent_for_ms: 5000 } as Partial<RuntimeStatus>),
    ];
    const events: StressEvent[] = [];
    const observer = new ClusterObserver(
      { ids: () => [1, 2], status: async (id) => views.find((v) => v?.id === id) ?? null },
      { poll_ms: 100, isolated: () => false, emit: (e) => events.push(e) },
    );
    await observer.poll();
    views = [status(1, 1, 1001), null]; // 2 answers too late once
    await observer.poll();
    views = [
      status(1, 1, 1001),
      status(2, 1, 1001, { silent_for_ms: 4000 } as Partial<RuntimeStatus>),
    ];
    await observer.poll();
    expect(events.filter((e) => e.kind === 'silence_start')).toHaveLength(1);
  });

  it('never lets an older remembered view block a new leader the fresh answers agree on', async () => {
    let ids = [1, 2, 3, 4];
    let views: (RuntimeStatus | null)[] = [1, 2, 3, 4].map((id) => status(id, 1, 1001));
    const events: StressEvent[] = [];
    const observer = new ClusterObserver(
      { ids: () => ids, status: async (id) => views.find((v) => v?.id === id) ?? null },
      { poll_ms: 100, isolated: () => false, emit: (e) => events.push(e) },
    );
    await observer.poll();
    observer.noteFault(1, Date.now());
    ids = [2, 3, 4]; // 1 killed; 4 answers late this time (its last view still names 1)
    views = [status(2, 2, 2002), status(3, 2, 2002), null];
    await observer.poll();
    expect(observer.agreement).toEqual({ leader: 2, epoch: 2002 });
    views = [status(2, 2, 2002), null, status(4, 2, 2002)]; // now 3 is late: agreement holds
    await observer.poll();
    expect(observer.agreement).toEqual({ leader: 2, epoch: 2002 });
    expect(events.map((e) => e.kind)).toEqual(['leader_elected', 'leader_elected']);
  });
});
