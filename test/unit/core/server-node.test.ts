import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TERM } from '../../../src/core/epoch.js';
import { SeededRandom } from '../../../src/core/random.js';
import { ServerNode } from '../../../src/core/server-node.js';
import { Net } from './harness.js';
import type { Source } from '../../../src/core/events.js';
import type { Message } from '../../../src/core/messages.js';
import { EXAMPLES } from './message-examples.js';

const server = (id: number) => ({ kind: 'server' as const, id });

describe('ServerNode election', () => {
  it('a lone server leads at once and asks to persist its epoch', () => {
    const n = new ServerNode({ id: 1, peers: [] }, new SeededRandom(1), 0);
    n.tick(n.nextDeadline_ms());
    const ready = n.drain();
    expect(ready.events).toContainEqual({ type: 'becameLeader', epoch: 1001, reason: 'alone' });
    // The hard state comes first, before the Coordinator could be sent.
    expect(ready.commands[0]).toEqual({
      type: 'persistHardState',
      state: { max_term: 1, epoch: 1001 },
    });
    expect(n.currentRole).toBe('leader');
  });

  it('elects the least-loaded server and every server agrees', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    for (const id of [1, 2, 3]) {
      expect(net.node(id).leaderId).toBe(1);
      expect(net.node(id).epoch).toBe(1001);
    }
  });

  it('never reuses an epoch after a restart with its hard state', () => {
    const n = new ServerNode({ id: 2, peers: [] }, new SeededRandom(1), 0, {
      max_term: 5,
      epoch: 5001,
    });
    n.tick(0);
    expect(n.epoch).toBe(6002);
  });

  it('does not change leader when one heartbeat is late or lost', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    // Drop everything the leader sends for 3 heartbeat intervals (< failure timeout).
    net.cut.add('1>2').add('1>3');
    net.run(600);
    net.cut.clear();
    net.run(2000);
    expect(net.eventsOf(2, 'leaderLost')).toEqual([]);
    expect(net.eventsOf(3, 'leaderLost')).toEqual([]);
    expect(net.node(2).leaderId).toBe(1);
  });

  it('lets the first successor take over with one Coordinator broadcast when the leader dies', () => {
    const net = new Net([1, 2, 3, 4]);
    net.run(2000);
    for (const id of [2, 3, 4]) net.events.set(id, []);
    const electionsBefore = [2, 3, 4].reduce(
      (n, id) => n + net.node(id).counters.elections_started,
      0,
    );
    net.pending = [];
    const coordinators = () => net.pending.filter((e) => e.message.type === 'Coordinator').length;
    let sent = 0;
    const alive = (id: number) => id !== 1;
    for (let t = 0; t < 150; t++) {
      net.run(10, alive);
      sent += coordinators();
    }
    expect(net.eventsOf(2, 'becameLeader')).toEqual([
      { type: 'becameLeader', epoch: 2002, reason: 'successor' },
    ]);
    expect(net.node(3).leaderId).toBe(2);
    expect(net.node(4).leaderId).toBe(2);
    for (const id of [2, 3, 4]) expect(net.eventsOf(id, 'electionStarted')).toEqual([]);
    expect([2, 3, 4].reduce((n, id) => n + net.node(id).counters.elections_started, 0)).toBe(
      electionsBefore,
    );
    expect(sent).toBeLessThanOrEqual(3);
  });

  it('rejects a stale leader and makes it step down when it learns the newer epoch', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    // Isolate the leader; the others move on to a new epoch.
    for (const o of [2, 3]) net.cut.add(`1>${o}`).add(`${o}>1`);
    net.run(2000);
    expect(net.node(2).epoch).toBeGreaterThan(1001);
    expect(net.node(1).currentRole).toBe('leader');
    net.cut.clear();
    net.run(1000);
    expect(net.eventsOf(1, 'steppedDown')).toEqual([
      { type: 'steppedDown', epoch: 1001, reason: 'newer_epoch' },
    ]);
    expect(net.node(1).leaderId).toBe(net.node(2).leaderId);
    expect(net.node(1).epoch).toBe(net.node(2).epoch);
  });

  it('answers an Election with a leader hint while its leader is clearly alive', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    net
      .node(2)
      .receive(
        server(3),
        { type: 'Election', from: 3, epoch: 1001, max_term: 1, round: 9, score: 1 },
        net.now,
      );
    net.collect(2);
    const reply = net.pending.find(
      (e) => e.from.kind === 'server' && e.from.id === 2 && e.message.type === 'StaleEpoch',
    );
    expect(reply?.message).toMatchObject({ type: 'StaleEpoch', leader_id: 1, epoch: 1001 });
  });

  it('steps down after a stall longer than the failure timeout instead of acting on stale state', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    const leader = net.node(1);
    leader.tick(net.now + 5000);
    const events = leader.drain().events;
    expect(events).toContainEqual({ type: 'stallDetected', stalled_ms: expect.any(Number) });
    expect(events).toContainEqual({ type: 'steppedDown', epoch: 1001, reason: 'stalled' });
  });
});

describe('ServerNode defends itself', () => {
  it('ignores and counts unknown servers, spoofed senders and wrong directions', () => {
    const n = new ServerNode({ id: 1, peers: [2, 3] }, new SeededRandom(1), 0);
    n.receive(server(9), { type: 'Leave', from: 9, epoch: 0 }, 2);
    n.receive(server(2), { type: 'Leave', from: 3, epoch: 0 }, 3);
    n.receive({ kind: 'client', id: 'c1' }, { type: 'Leave', from: 2, epoch: 0 }, 4);
    n.receive({ kind: 'client', id: 'c1' }, { type: 'TaskAck', client_id: 'c2', task_id: 't' }, 5);
    n.receive(
      server(2),
      { type: 'TaskAccepted', from: 2, epoch: 0, client_id: 'c1', task_id: 't', queue_position: 0 },
      6,
    );
    expect(n.counters.rejected_unknown_sender).toBe(5);
    const reasons = n
      .drain()
      .events.flatMap((e) => (e.type === 'messageRejected' ? [e.reason] : []));
    expect(reasons).toEqual([
      'server 9 is not a configured peer',
      'Leave.from 3 does not match sender 2',
      'Leave must come from a server connection',
      'TaskAck.client_id does not match sender c1',
      'TaskAccepted is a server-to-client message',
    ]);
  });

  it('survives any well-formed message from any sender, in any order, keeping its invariants', () => {
    // Malformed input never gets this far: the codec validates every message on decode. Any
    // well-formed message, from a real peer or not, in any epoch, must leave every invariant
    // intact (an InvariantViolation here means input can crash a server).
    const sender = fc.oneof(
      fc.integer({ min: 1, max: 4 }).map((id) => ({ kind: 'server' as const, id })),
      fc.constantFrom('c1', 'c2').map((id) => ({ kind: 'client' as const, id })),
    );
    const variant = fc.record({
      message: fc.constantFrom(...EXAMPLES),
      spoof: fc.boolean(),
      epoch: fc.constantFrom(0, 1001, 1002, 1003, 2001, 2002, 3003),
      leader: fc.constantFrom(null, 1, 2, 3),
      role: fc.constantFrom('leader', 'follower', 'candidate'),
      maxTerm: fc.constantFrom(0, 1, 3, MAX_TERM),
    });
    // Mostly with a matching sender field, so the messages reach the handlers.
    const input = fc.tuple(sender, variant).map(([from, v]): [Source, Message] => {
      const m: Record<string, unknown> = { ...v.message };
      if ('epoch' in m) m['epoch'] = v.epoch;
      if ('leader_id' in m) m['leader_id'] = v.leader;
      if (m['type'] === 'Heartbeat') m['role'] = v.role;
      if ('max_term' in m) m['max_term'] = v.maxTerm;
      if (!v.spoof && from.kind === 'server' && 'from' in m) m['from'] = from.id;
      if (!v.spoof && from.kind === 'client' && 'client_id' in m) m['client_id'] = from.id;
      return [from, m as unknown as Message];
    });
    let received = 0;
    fc.assert(
      fc.property(fc.array(input, { maxLength: 30 }), fc.integer(), (inputs, seed) => {
        const n = new ServerNode({ id: 1, peers: [2, 3] }, new SeededRandom(seed), 0);
        let now = 10;
        for (const [from, m] of inputs) {
          n.receive(from, m, (now += 7));
          if (now % 3 === 0) n.tick((now += 300));
        }
        n.checkDeepInvariants();
        received += n.counters.messages_received;
      }),
      { numRuns: 1000 },
    );
    expect(received).toBeGreaterThan(1000);
  });
});

describe('ServerNode tasks', () => {
  const assignment = (server_id: number, epoch = 1001) => ({ server_id, epoch, attempt: 1 });

  it('places tasks, replicates the history and answers the client', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    const replies = net.fromClient(1, 'c1', {
      type: 'TaskAssignmentRequest',
      client_id: 'c1',
      task_id: 't1',
      size_bytes: 10,
    });
    expect(replies[0]?.message).toMatchObject({
      type: 'TaskAssignmentResponse',
      status: 'assigned',
      assignment: { epoch: 1001, attempt: 1 },
    });
    net.deliver();
    for (const id of [2, 3])
      expect(
        net
          .node(id)
          .historyEntries()
          .map((e) => e.task_id),
      ).toEqual(['t1']);
    // Asking again gets the same placement (idempotent).
    const again = net.fromClient(1, 'c1', {
      type: 'TaskAssignmentRequest',
      client_id: 'c1',
      task_id: 't1',
      size_bytes: 10,
    });
    expect(again[0]?.message).toEqual(replies[0]?.message);
  });

  it('runs a TaskRequest that arrives before the HistoryAdd, trusting the assignment it carries', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    const out = net.fromClient(2, 'c1', {
      type: 'TaskRequest',
      client_id: 'c1',
      task_id: 't1',
      size_bytes: 10,
      assignment: assignment(2),
    });
    expect(out[0]?.message).toMatchObject({ type: 'TaskAccepted', queue_position: 0 });
    expect(net.commandsOf(2, 'executeTask')).toEqual([
      {
        type: 'executeTask',
        client_id: 'c1',
        task_id: 't1',
        assignment: assignment(2),
        size_bytes: 10,
      },
    ]);
  });

  it('answers duplicates from the first result and never runs a task twice', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    const req = {
      type: 'TaskRequest' as const,
      client_id: 'c1',
      task_id: 't1',
      size_bytes: 10,
      assignment: assignment(2),
    };
    net.fromClient(2, 'c1', req);
    const w = net.node(2);
    w.taskStarted('c1', 't1', net.now);
    w.taskFinished(
      'c1',
      't1',
      { ok: true, result_size_bytes: 99, result_digest: 'abc', error: null },
      net.now,
    );
    net.collect(2);
    const dup = net.fromClient(2, 'c1', req);
    expect(dup[0]?.message).toMatchObject({
      type: 'TaskResponse',
      ok: true,
      result_digest: 'abc',
      result_size_bytes: 99,
    });
    expect(net.commandsOf(2, 'executeTask').length).toBe(1);
    // The ack releases the result and is reported to the leader.
    net.fromClient(2, 'c1', { type: 'TaskAck', client_id: 'c1', task_id: 't1' });
    expect(net.commandsOf(2, 'releaseResult')).toEqual([
      { type: 'releaseResult', client_id: 'c1', task_id: 't1' },
    ]);
    expect(
      net.pending.some((e) => e.message.type === 'HistoryRemove' && e.message.seq === null),
    ).toBe(true);
  });

  it('rejects a task placed elsewhere and says busy when full', () => {
    const net = new Net([1, 2, 3], { thread_pool_size: 1, max_queue_size: 1 });
    net.run(2000);
    const ask = (task: string, to = 2) =>
      net.fromClient(2, 'c1', {
        type: 'TaskRequest',
        client_id: 'c1',
        task_id: task,
        size_bytes: 1,
        assignment: assignment(to),
      })[0]?.message;
    expect(ask('x', 3)).toMatchObject({ type: 'TaskRejected', reason: 'not_assigned' });
    expect(ask('a')).toMatchObject({ type: 'TaskAccepted' });
    expect(ask('b')).toMatchObject({ type: 'TaskAccepted' });
    expect(ask('c')).toMatchObject({ type: 'TaskRejected', reason: 'busy' });
  });

  it('reassigns a dead server’s tasks within the failure timeout and tells the client', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    // Make the leader the busiest so the task lands on server 2 (cpu 20%).
    net.node(1).setLocalLoad({ cpu_pct: 90, memory_used_pct: 50 }, net.now);
    const r = net.fromClient(1, 'c1', {
      type: 'TaskAssignmentRequest',
      client_id: 'c1',
      task_id: 't1',
      size_bytes: 1,
    });
    expect(r[0]?.message).toMatchObject({ assignment: { server_id: 2, attempt: 1 } });
    net.run(1200, (id) => id !== 2);
    expect(net.eventsOf(1, 'peerFailed')).toEqual([{ type: 'peerFailed', peer: 2 }]);
    expect(net.eventsOf(1, 'taskReassigned')).toEqual([
      {
        type: 'taskReassigned',
        client_id: 'c1',
        task_id: 't1',
        from_server: 2,
        assignment: { server_id: 3, epoch: 1001, attempt: 2 },
      },
    ]);
    expect(net.node(3).historyEntries()[0]?.assignment.server_id).toBe(3);
    const pushed = net.toClients.filter((e) => e.message.type === 'TaskStatusResponse');
    expect(pushed.at(-1)?.message).toMatchObject({
      assignment: { server_id: 3, attempt: 2 },
      is_leader: true,
    });
  });

  it('merges the histories of two partition sides on heal, losing no task', () => {
    const net = new Net([1, 2]);
    net.cut.add('1>2').add('2>1');
    net.run(2500);
    expect(net.node(1).currentRole).toBe('leader');
    expect(net.node(2).currentRole).toBe('leader');
    net.fromClient(1, 'c1', {
      type: 'TaskAssignmentRequest',
      client_id: 'c1',
      task_id: 'left',
      size_bytes: 1,
    });
    net.fromClient(2, 'c1', {
      type: 'TaskAssignmentRequest',
      client_id: 'c1',
      task_id: 'right',
      size_bytes: 1,
    });
    net.cut.clear();
    net.run(1500);
    const winner = net.node(1).epoch > net.node(2).epoch ? 1 : 2;
    for (const id of [1, 2]) {
      expect(net.node(id).leaderId).toBe(winner);
      expect(
        net
          .node(id)
          .historyEntries()
          .map((e) => e.task_id)
          .sort(),
      ).toEqual(['left', 'right']);
    }
  });
});

describe('ServerNode failure simulation', () => {
  const fsim = {
    failure_simulation: {
      enabled: true,
      interval_ms: 3000,
      min_silence_ms: 500,
      max_silence_ms: 800,
    },
  };

  it('silences one server at a time, which ignores everything, then rejoins', () => {
    const net = new Net([1, 2, 3], fsim);
    net.run(12_000);
    const scheduled = net.eventsOf(1, 'failureSimulationScheduled');
    expect(scheduled.length).toBeGreaterThan(0);
    const silences = [1, 2, 3].flatMap((id) => net.eventsOf(id, 'silenceStarted'));
    const ends = [1, 2, 3].flatMap((id) => net.eventsOf(id, 'silenceEnded'));
    expect(silences.length).toBeGreaterThan(0);
    expect(ends.length).toBe(silences.length);
    expect(
      [1, 2, 3].reduce((n, id) => n + net.node(id).counters.dropped_while_silent, 0),
    ).toBeGreaterThan(0);
  });

  it('never silences the last live server, nor acts without seeing a majority', () => {
    const alone = new Net([1], fsim);
    alone.run(10_000);
    expect(alone.eventsOf(1, 'failureSimulationScheduled')).toEqual([]);
    const net = new Net([1, 2, 3], fsim);
    net.run(10_000, (id) => id === 1);
    expect(net.eventsOf(1, 'failureSimulationScheduled')).toEqual([]);
  });
});

describe('ServerNode status and timers', () => {
  it('reports leader, epoch, members with load and state, and history size', () => {
    const net = new Net([1, 2, 3]);
    net.run(2000);
    const s = net.node(1).status();
    expect(s).toMatchObject({ id: 1, role: 'leader', leader_id: 1, epoch: 1001, synced: true });
    expect(s.members.map((m) => [m.id, m.state])).toEqual([
      [2, 'alive'],
      [3, 'alive'],
    ]);
    expect(s.members[0]?.load?.cpu_pct).toBe(20);
    expect(s.successors).toEqual([2, 3]);
    expect(s.history).toMatchObject({ size: 0, seq: 0 });
    expect(net.node(2).status().members.length).toBe(2);
  });

  it('always asks for a tick within one heartbeat interval, never in the past', () => {
    const net = new Net([1, 2, 3]);
    for (let i = 0; i < 200; i++) {
      net.run(10);
      for (const node of net.nodes.values()) {
        const d = node.nextDeadline_ms();
        expect(d).toBeGreaterThanOrEqual(net.now);
        expect(d - net.now).toBeLessThanOrEqual(1200);
      }
    }
  });
});
