import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isNewerAssignment,
  MESSAGE_TYPES,
  taskKey,
  validateMessage,
  type Message,
} from '../../../src/core/messages.js';

const load = {
  score: 12.5,
  cpu_pct: 20,
  memory_used_pct: 30,
  load_average: null,
  active_tasks: 1,
  queue_length: 0,
  capacity: 104,
};
const history = { seq: 3, digest: 123456, size: 2 };
const assignment = { server_id: 2, epoch: 1002, attempt: 1 };

/** One valid example of every message type. */
export const EXAMPLES: Message[] = [
  { type: 'Election', from: 1, epoch: 1002, max_term: 1, round: 1, score: 10 },
  { type: 'Alive', from: 2, epoch: 1002, max_term: 1, round: 1, score: 5 },
  { type: 'Nominate', from: 1, epoch: 1002, max_term: 1, round: 1 },
  {
    type: 'Coordinator',
    from: 2,
    epoch: 2002,
    max_term: 2,
    reason: 'successor',
    successors: [3, 1],
    history,
  },
  {
    type: 'Heartbeat',
    from: 2,
    epoch: 2002,
    leader_id: 2,
    role: 'leader',
    load,
    synced: true,
    history,
    successors: [3],
    members: [{ id: 3, state: 'alive', synced: true, age_ms: 120, load }],
  },
  { type: 'StaleEpoch', from: 3, epoch: 3003, leader_id: 3, rejected_type: 'Heartbeat' },
  { type: 'Handover', from: 2, epoch: 2002, to: 3 },
  {
    type: 'HistoryAdd',
    from: 2,
    epoch: 2002,
    seq: 4,
    entry: { client_id: 'c1', task_id: 't1', assignment },
  },
  { type: 'HistoryRemove', from: 3, epoch: 2002, seq: null, client_id: 'c1', task_id: 't1' },
  { type: 'HistorySyncRequest', from: 3, epoch: 2002 },
  {
    type: 'HistorySnapshot',
    from: 2,
    epoch: 2002,
    seq: 4,
    snapshot_id: 1,
    part: 0,
    parts: 1,
    entries: [{ client_id: 'c1', task_id: 't1', assignment }],
    tombstones: [{ client_id: 'c1', task_id: 't0' }],
    digest: 99,
  },
  { type: 'HistoryOffer', from: 3, epoch: 2002, part: 0, parts: 1, entries: [], tombstones: [] },
  { type: 'FailureSimulation', from: 2, epoch: 2002, target: 3, duration_ms: 5000 },
  { type: 'Leave', from: 3, epoch: 2002 },
  { type: 'TaskAssignmentRequest', client_id: 'c1', task_id: 't1', size_bytes: 1000 },
  { type: 'TaskRequest', client_id: 'c1', task_id: 't1', size_bytes: 1000, assignment },
  { type: 'TaskAck', client_id: 'c1', task_id: 't1' },
  { type: 'TaskStatusQuery', client_id: 'c1', task_id: 't1' },
  {
    type: 'TaskAssignmentResponse',
    from: 2,
    epoch: 2002,
    client_id: 'c1',
    task_id: 't1',
    status: 'assigned',
    assignment,
    retry_after_ms: 0,
  },
  { type: 'TaskAccepted', from: 2, epoch: 2002, client_id: 'c1', task_id: 't1', queue_position: 0 },
  {
    type: 'TaskRejected',
    from: 2,
    epoch: 2002,
    client_id: 'c1',
    task_id: 't1',
    reason: 'busy',
    assignment: null,
  },
  {
    type: 'TaskResponse',
    from: 2,
    epoch: 2002,
    client_id: 'c1',
    task_id: 't1',
    ok: true,
    result_size_bytes: 5000,
    result_digest: 'ab12',
    error: null,
  },
  {
    type: 'TaskStatusResponse',
    from: 2,
    epoch: 2002,
    client_id: 'c1',
    task_id: 't1',
    assignment,
    local_state: 'running',
    is_leader: true,
  },
];

describe('validateMessage', () => {
  it('accepts a valid example of every message type', () => {
    const all = [
      ...MESSAGE_TYPES.serverToServer,
      ...MESSAGE_TYPES.clientToServer,
      ...MESSAGE_TYPES.serverToClient,
    ];
    expect(EXAMPLES.map((m) => m.type).sort()).toEqual([...all].sort());
    for (const m of EXAMPLES) expect(validateMessage(m), m.type).toEqual({ ok: true, message: m });
  });

  it('names the type and field that is wrong', () => {
    const bad = (patch: Record<string, unknown>, base: Message) =>
      validateMessage({ ...base, ...patch });
    const hb = EXAMPLES[4] as Message;
    const req = EXAMPLES[15] as Message;
    expect(bad({ from: 1000 }, hb)).toEqual({
      ok: false,
      error: 'Heartbeat.from: expected an integer in 1..999',
    });
    expect(bad({ epoch: -1 }, hb)).toMatchObject({
      ok: false,
      error: expect.stringContaining('Heartbeat.epoch'),
    });
    expect(bad({ role: 'king' }, hb)).toMatchObject({
      ok: false,
      error: expect.stringContaining('role: expected one of'),
    });
    expect(bad({ client_id: 'a/b' }, req)).toMatchObject({
      ok: false,
      error: expect.stringContaining('client_id'),
    });
    expect(bad({ task_id: 'x'.repeat(65) }, req)).toMatchObject({ ok: false });
    expect(bad({ size_bytes: 2 ** 31 }, req)).toMatchObject({
      ok: false,
      error: expect.stringContaining('size_bytes'),
    });
    expect(bad({ assignment: { server_id: 2, epoch: 0, attempt: 1 } }, req)).toMatchObject({
      ok: false,
    });
    expect(bad({ successors: Array.from({ length: 17 }, () => 2) }, hb)).toMatchObject({
      ok: false,
    });
    expect(bad({ load: { ...load, cpu_pct: Number.NaN } }, hb)).toMatchObject({
      ok: false,
      error: expect.stringContaining('load.cpu_pct'),
    });
    expect(validateMessage({ type: 'Gossip' })).toEqual({
      ok: false,
      error: 'type: unknown message type "Gossip"',
    });
    expect(validateMessage('Heartbeat')).toEqual({
      ok: false,
      error: 'message: expected an object',
    });
    expect(validateMessage({ ...(EXAMPLES[18] as Message), status: 'busy' })).toMatchObject({
      ok: false,
      error: expect.stringContaining('null when status is busy'),
    });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const r = validateMessage(value);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every example with one field removed', () => {
    for (const m of EXAMPLES) {
      for (const key of Object.keys(m)) {
        if (key === 'type') continue;
        const copy: Record<string, unknown> = { ...m };
        delete copy[key];
        expect(validateMessage(copy).ok, `${m.type} without ${key}`).toBe(false);
      }
    }
  });
});

describe('helpers', () => {
  it('orders placements by epoch, then attempt', () => {
    expect(isNewerAssignment({ server_id: 1, epoch: 2001, attempt: 1 }, null)).toBe(true);
    expect(
      isNewerAssignment(
        { server_id: 1, epoch: 2001, attempt: 1 },
        { server_id: 2, epoch: 1002, attempt: 5 },
      ),
    ).toBe(true);
    expect(
      isNewerAssignment(
        { server_id: 1, epoch: 2001, attempt: 2 },
        { server_id: 2, epoch: 2001, attempt: 3 },
      ),
    ).toBe(false);
  });

  it('builds task keys that cannot collide (ids exclude "/")', () => {
    expect(taskKey('c1', 't1')).toBe('c1/t1');
  });
});
