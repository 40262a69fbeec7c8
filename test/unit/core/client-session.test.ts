import { describe, expect, it } from 'vitest';
import { ClientSession } from '../../../src/core/client-session.js';
import type { Assignment, Message, TaskResponseMessage } from '../../../src/core/messages.js';
import { SeededRandom } from '../../../src/core/random.js';
import { UsageError } from '../../../src/util/errors.js';

const a = (server_id: number, epoch = 1001, attempt = 1): Assignment => ({
  server_id,
  epoch,
  attempt,
});

function session(): ClientSession {
  return new ClientSession(
    {
      client_id: 'c1',
      servers: [1, 2, 3],
      assignment_timeout_ms: 500,
      request_timeout_ms: 500,
      poll_interval_ms: 500,
      task_deadline_ms: 30_000,
    },
    new SeededRandom(1),
    0,
  );
}

const assigned = (from: number, assignment: Assignment, epoch = assignment.epoch): Message => ({
  type: 'TaskAssignmentResponse',
  from,
  epoch,
  client_id: 'c1',
  task_id: 't1',
  status: 'assigned',
  assignment,
  retry_after_ms: 0,
});

const response = (from: number, digest = 'd1'): TaskResponseMessage => ({
  type: 'TaskResponse',
  from,
  epoch: 1001,
  client_id: 'c1',
  task_id: 't1',
  ok: true,
  result_size_bytes: 10,
  result_digest: digest,
  error: null,
});

const status = (
  from: number,
  assignment: Assignment | null,
  local: 'queued' | 'running' | 'done' | 'none',
  is_leader: boolean,
  epoch = 1001,
): Message => ({
  type: 'TaskStatusResponse',
  from,
  epoch,
  client_id: 'c1',
  task_id: 't1',
  assignment,
  local_state: local,
  is_leader,
});

/** Runs the session's timers until `until`, returning everything it sent. */
function runTimers(s: ClientSession, until: number) {
  const sent: { to: number; type: string }[] = [];
  for (;;) {
    const d = s.nextDeadline_ms();
    if (d === null || d > until) break;
    s.tick(d);
    sent.push(...s.drain().messages.map((m) => ({ to: m.to, type: m.message.type })));
  }
  return sent;
}

describe('ClientSession', () => {
  it('multicasts the assignment request, then sends the task to the assigned server', () => {
    const s = session();
    s.submit('t1', 1234, 0);
    expect(s.drain().messages.map((m) => [m.to, m.message.type])).toEqual([
      [1, 'TaskAssignmentRequest'],
      [2, 'TaskAssignmentRequest'],
      [3, 'TaskAssignmentRequest'],
    ]);
    s.receive(1, assigned(1, a(2)), 5);
    const out = s.drain();
    expect(out.messages).toEqual([
      {
        to: 2,
        message: {
          type: 'TaskRequest',
          client_id: 'c1',
          task_id: 't1',
          size_bytes: 1234,
          assignment: a(2),
        },
      },
    ]);
    expect(out.events).toEqual([{ type: 'assigned', task_id: 't1', assignment: a(2) }]);
  });

  it('delivers exactly once, acknowledges every involved server, and flags a different result', () => {
    const s = session();
    s.submit('t1', 1, 0);
    s.receive(1, assigned(1, a(2)), 5);
    s.drain();
    s.receive(2, response(2), 50);
    const first = s.drain();
    expect(first.events).toEqual([
      {
        type: 'delivered',
        task_id: 't1',
        server_id: 2,
        ok: true,
        result_size_bytes: 10,
        result_digest: 'd1',
        error: null,
        latency_ms: 50,
      },
    ]);
    expect(first.messages.map((m) => [m.to, m.message.type]).sort()).toEqual([
      [1, 'TaskAck'],
      [2, 'TaskAck'],
    ]);
    s.receive(3, response(3), 60);
    expect(s.drain()).toEqual({
      messages: [{ to: 3, message: { type: 'TaskAck', client_id: 'c1', task_id: 't1' } }],
      events: [],
    });
    s.receive(3, response(3, 'other'), 70);
    expect(s.drain().events).toEqual([
      { type: 'conflictingResult', task_id: 't1', server_id: 3, delivered: 'd1', other: 'other' },
    ]);
    expect(s.inFlight).toBe(0);
  });

  it('polls the assigned server, then everyone, then the leaders when the server falls silent', () => {
    const s = session();
    s.submit('t1', 1, 0);
    s.receive(1, assigned(1, a(2)), 5);
    s.receive(
      2,
      {
        type: 'TaskAccepted',
        from: 2,
        epoch: 1001,
        client_id: 'c1',
        task_id: 't1',
        queue_position: 0,
      },
      10,
    );
    s.drain();
    const sent = runTimers(s, 3000);
    expect(sent.slice(0, 1)).toEqual([{ to: 2, type: 'TaskStatusQuery' }]);
    expect(sent.filter((m) => m.type === 'TaskStatusQuery').length).toBeGreaterThan(3);
    expect(sent).toContainEqual({ to: 1, type: 'TaskAssignmentRequest' });
    expect(sent).toContainEqual({ to: 2, type: 'TaskRequest' });
  });

  it('follows a reassignment pushed by the leader', () => {
    const s = session();
    s.submit('t1', 1, 0);
    s.receive(1, assigned(1, a(2)), 5);
    s.drain();
    s.receive(1, status(1, a(3, 1001, 2), 'none', true), 100);
    const out = s.drain();
    expect(out.events).toEqual([
      { type: 'reassigned', task_id: 't1', assignment: a(3, 1001, 2), from_server: 2 },
    ]);
    expect(out.messages[0]).toMatchObject({
      to: 3,
      message: { type: 'TaskRequest', assignment: a(3, 1001, 2) },
    });
  });

  it('after a split brain, trusts a live leader over a silent server from a higher epoch', () => {
    const s = session();
    s.submit('t1', 1, 0);
    s.receive(2, assigned(2, a(2, 2002), 2002), 5);
    s.drain();
    // Server 2 dies. The only live leader is in an older epoch and says "server 1".
    s.receive(1, status(1, a(1, 1001, 2), 'none', true, 1001), 10);
    expect(s.drain().messages).toEqual([]);
    runTimers(s, 2000);
    s.receive(1, status(1, a(1, 1001, 2), 'none', true, 1001), 2001);
    expect(s.drain().messages.map((m) => [m.to, m.message.type])).toEqual([[1, 'TaskRequest']]);
  });

  it('resends the task when its server finished (result lost) or forgot it', () => {
    const s = session();
    s.submit('t1', 1, 0);
    s.receive(1, assigned(1, a(2)), 5);
    s.drain();
    s.receive(2, status(2, a(2), 'done', false), 600);
    expect(s.drain().messages.map((m) => [m.to, m.message.type])).toEqual([[2, 'TaskRequest']]);
    s.receive(2, status(2, a(2), 'none', false), 700);
    expect(s.drain().messages.map((m) => [m.to, m.message.type])).toEqual([[2, 'TaskRequest']]);
  });

  it('waits when every server is busy, and gives up only at the deadline', () => {
    const s = session();
    s.submit('t1', 1, 0);
    s.drain();
    s.receive(
      1,
      {
        type: 'TaskAssignmentResponse',
        from: 1,
        epoch: 1001,
        client_id: 'c1',
        task_id: 't1',
        status: 'busy',
        assignment: null,
        retry_after_ms: 2000,
      },
      5,
    );
    expect(s.drain().events).toEqual([{ type: 'busy', task_id: 't1', server_id: 1 }]);
    expect(s.nextDeadline_ms()).toBeGreaterThanOrEqual(2005);
    const sent = runTimers(s, 29_999);
    expect(sent.length).toBeGreaterThan(10);
    s.tick(30_000);
    expect(s.drain().events).toEqual([
      { type: 'failed', task_id: 't1', reason: 'no result within 30000 ms' },
    ]);
    expect(s.nextDeadline_ms()).toBeNull();
  });

  it('ignores messages of the wrong direction, foreign and unrelated messages', () => {
    const s = session();
    s.submit('t1', 1, 0);
    s.drain();
    s.receive(1, { type: 'Leave', from: 1, epoch: 1001 }, 1);
    s.receive(9, response(9), 1);
    s.receive(1, { ...response(1), client_id: 'c2' }, 1);
    s.receive(1, { type: 'TaskAck', client_id: 'c1', task_id: 't1' }, 1);
    s.receive(1, { ...response(1), task_id: 'unknown' }, 1);
    expect(s.counters.rejected_invalid).toBe(4);
    expect(s.drain()).toEqual({ messages: [], events: [] });
  });

  it('refuses bad or reused task ids', () => {
    const s = session();
    s.submit('t1', 1, 0);
    expect(() => s.submit('t1', 1, 0)).toThrow(UsageError);
    expect(() => s.submit('bad id', 1, 0)).toThrow(/task id/);
    expect(() => s.submit('t2', -1, 0)).toThrow(/size/);
  });
});
