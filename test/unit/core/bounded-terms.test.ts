/**
 * Terms are bounded by the wall clock (docs/ELECTION.md, "Bounded terms"): a member naming a
 * term far ahead cannot push the cloud there, and a server that lost its hard state never
 * mints an epoch it minted before. Every clock here is injected.
 */
import { describe, expect, it } from 'vitest';
import {
  epochTerm,
  makeEpoch,
  MAX_TERM,
  OWN_TERM_LEAD_MAX,
  PEER_TERM_LEAD_MAX,
} from '../../../src/core/epoch.js';
import type { Message } from '../../../src/core/messages.js';
import { SeededRandom } from '../../../src/core/random.js';
import { ServerNode } from '../../../src/core/server-node.js';
import { EXAMPLE_LOAD } from './message-examples.js';

const server = (id: number) => ({ kind: 'server' as const, id });
const history = { seq: 0, digest: 0, size: 0 };
/** 2026-12-02T10:00:00Z: a plausible wall clock, in ms. */
const WALL = 1_796_205_600_000;

function coordinator(from: number, term: number, max_term = term): Message {
  return {
    type: 'Coordinator',
    from,
    epoch: makeEpoch(term, from),
    max_term,
    reason: 'election',
    successors: [],
    history,
  };
}

function leaderHeartbeat(from: number, term: number): Message {
  return {
    type: 'Heartbeat',
    from,
    epoch: makeEpoch(term, from),
    leader_id: from,
    role: 'leader',
    load: EXAMPLE_LOAD,
    synced: true,
    history,
    successors: [],
    members: [],
  };
}

function election(from: number, max_term: number): Message {
  return { type: 'Election', from, epoch: 0, max_term, round: 1, score: 1 };
}

/** Ticks `n` at its deadlines until `done` (at most 1,000 ticks); returns the clock then. */
function tickUntil(n: ServerNode, from_ms: number, done: () => boolean): number {
  let now = from_ms;
  for (let i = 0; i < 1_000 && !done(); i++) {
    now = Math.max(now, n.nextDeadline_ms());
    n.tick(now);
  }
  n.drain();
  return now;
}

/** A follower of three that knows the wall clock; `now` is its monotonic clock. */
function follower(now = 1_000, wall = WALL): ServerNode {
  const n = new ServerNode({ id: 1, peers: [2, 3] }, new SeededRandom(1), now, undefined, wall);
  n.drain();
  return n;
}

describe('bounded terms: a peer cannot push our terms ahead of the clock', () => {
  it('refuses a Coordinator whose term is far above our clock, adopting nothing', () => {
    const n = follower();
    const before = n.hardState();
    n.receive(server(2), coordinator(2, MAX_TERM), 1_010);
    n.receive(server(2), leaderHeartbeat(2, WALL + 10 * PEER_TERM_LEAD_MAX), 1_020);
    n.receive(server(3), election(3, MAX_TERM), 1_030);
    expect(n.hardState()).toEqual(before);
    expect(n.leaderId).toBeNull();
    expect(n.counters.rejected_invalid).toBe(3);
    const refused = n.drain().events.flatMap((e) => (e.type === 'termRefused' ? [e] : []));
    const ceiling = WALL + 10 + PEER_TERM_LEAD_MAX; // our clock is 10 ms past WALL at the first
    expect(refused.map((e) => [e.from, e.message_type, e.term])).toEqual([
      [2, 'Coordinator', MAX_TERM],
      [2, 'Heartbeat', WALL + 10 * PEER_TERM_LEAD_MAX],
      [3, 'Election', MAX_TERM],
    ]);
    expect(refused[0]?.ceiling).toBe(ceiling);
  });

  it('follows a leader whose term is within reach of the clock (legitimate progression)', () => {
    const n = follower();
    const term = WALL + 10; // a peer whose clock agrees with ours, minting in step with it
    n.receive(server(2), coordinator(2, term), 1_010);
    expect(n.leaderId).toBe(2);
    expect(n.epoch).toBe(makeEpoch(term, 2));
    // A small cloud's terms (1, 2, 3 ...) are always within reach.
    const old = new ServerNode({ id: 1, peers: [2, 3] }, new SeededRandom(1), 0, {
      max_term: 3,
      epoch: 3003,
    });
    old.receive(server(2), coordinator(2, 4), 10);
    expect(old.epoch).toBe(4002);
  });

  it('a member pushing every message to the ceiling moves us only as fast as the clock', () => {
    const n = follower();
    let now = 1_000;
    for (let i = 0; i < 1_000; i++) {
      now += 7;
      const wallNow = WALL + (now - 1_000);
      n.receive(server(2), election(2, wallNow + PEER_TERM_LEAD_MAX), now);
      n.receive(server(2), election(2, wallNow + PEER_TERM_LEAD_MAX + 1), now);
      expect(n.hardState().max_term).toBeLessThanOrEqual(wallNow + OWN_TERM_LEAD_MAX);
    }
    // 7 s of clock moved the ceiling by 7,000 terms; the space lasts until the clock reaches it.
    expect(n.hardState().max_term).toBe(WALL + 7_000 + PEER_TERM_LEAD_MAX);
  });

  it('still claims leadership after being pushed to the ceiling', () => {
    const saved = { max_term: 5, epoch: 5002 };
    const n = new ServerNode({ id: 1, peers: [2] }, new SeededRandom(1), 0, saved, WALL);
    n.receive(server(2), election(2, WALL + PEER_TERM_LEAD_MAX), 0);
    const now = tickUntil(n, 0, () => n.currentRole === 'leader');
    expect(n.currentRole).toBe('leader');
    expect(epochTerm(n.epoch)).toBe(WALL + PEER_TERM_LEAD_MAX + 1);
    expect(epochTerm(n.epoch)).toBeLessThanOrEqual(WALL + now + OWN_TERM_LEAD_MAX);
  });

  it('without a wall clock the monotonic clock bounds terms (the simulator)', () => {
    const n = new ServerNode({ id: 1, peers: [2, 3] }, new SeededRandom(1), 0);
    n.receive(server(2), coordinator(2, 5_000), 10);
    expect(n.epoch).toBe(0);
    n.receive(server(2), coordinator(2, 5_000), 4_500);
    expect(n.epoch).toBe(makeEpoch(5_000, 2));
  });
});

describe('bounded terms: losing every hard-state file never reuses an epoch', () => {
  it('a server with no hard state starts above its clock and saves that at once', () => {
    const n = new ServerNode({ id: 1, peers: [2, 3] }, new SeededRandom(1), 500, undefined, WALL);
    expect(n.drain().commands[0]).toEqual({
      type: 'persistHardState',
      state: { max_term: WALL + OWN_TERM_LEAD_MAX, epoch: 0 },
    });
    // With hard state, the saved terms are taken as they are (no floor needed).
    const restored = new ServerNode(
      { id: 1, peers: [2, 3] },
      new SeededRandom(1),
      500,
      {
        max_term: 7,
        epoch: 7001,
      },
      WALL,
    );
    expect(restored.hardState()).toEqual({ max_term: 7, epoch: 7001 });
  });

  it('a restart without hard state mints above every epoch it minted before', () => {
    // Run 1: server 1 (its peer 2 silent but for what the test sends) is pushed to the
    // ceiling, claims just above it, is overtaken, and claims again, twenty times.
    const minted: number[] = [];
    const run1 = new ServerNode({ id: 1, peers: [2] }, new SeededRandom(1), 0, undefined, WALL);
    let now = 0;
    for (let i = 0; i < 20; i++) {
      run1.receive(server(2), election(2, WALL + now + PEER_TERM_LEAD_MAX), now);
      now = tickUntil(run1, now, () => run1.currentRole === 'leader');
      minted.push(run1.epoch);
      now += 5;
      run1.receive(server(2), coordinator(2, WALL + now + PEER_TERM_LEAD_MAX), now);
      expect(run1.leaderId).toBe(2);
    }
    expect(new Set(minted).size).toBeGreaterThan(10);
    const highest = Math.max(...minted);
    // Run 2: every file lost; the process starts again 1 ms of wall clock later.
    const wall2 = WALL + now + 1;
    const run2 = new ServerNode({ id: 1, peers: [] }, new SeededRandom(2), 0, undefined, wall2);
    tickUntil(run2, 0, () => run2.currentRole === 'leader');
    expect(run2.currentRole).toBe('leader');
    expect(run2.epoch).toBeGreaterThan(highest);
    expect(epochTerm(run2.epoch)).toBeLessThanOrEqual(wall2 + OWN_TERM_LEAD_MAX + 100);
  });
});
