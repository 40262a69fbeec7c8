import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestOf, TaskHistory } from '../../../src/core/history.js';
import type { HistoryEntry } from '../../../src/core/messages.js';

const entry = (task: string, server = 1, epoch = 1001, attempt = 1): HistoryEntry => ({
  client_id: 'c1',
  task_id: task,
  assignment: { server_id: server, epoch, attempt },
});

describe('TaskHistory', () => {
  it('adds, replaces and removes entries, keeping a tombstone', () => {
    const h = new TaskHistory(10, 10);
    expect(h.set(entry('t1'), 0)).toBe(true);
    expect(h.set(entry('t1', 2, 1001, 2), 5)).toBe(true);
    expect(h.get('c1/t1')?.assignment.server_id).toBe(2);
    expect(h.learnedAt('c1/t1')).toBe(0);
    expect(h.remove({ client_id: 'c1', task_id: 't1' })?.assignment.server_id).toBe(2);
    expect(h.size).toBe(0);
    expect(h.isTombstoned('c1/t1')).toBe(true);
    // A late add cannot resurrect an acknowledged task.
    expect(h.set(entry('t1'), 10)).toBe(false);
  });

  it('only takes newer placements with setIfNewer', () => {
    const h = new TaskHistory(10, 10);
    h.set(entry('t1', 1, 2001, 1), 0);
    expect(h.setIfNewer(entry('t1', 3, 1003, 9), 0)).toBe(false);
    expect(h.setIfNewer(entry('t1', 3, 2001, 2), 0)).toBe(true);
  });

  it('refuses new tasks when full and drops the oldest tombstones', () => {
    const h = new TaskHistory(2, 2);
    expect(h.set(entry('t1'), 0)).toBe(true);
    expect(h.set(entry('t2'), 0)).toBe(true);
    expect(h.isFull()).toBe(true);
    expect(h.set(entry('t3'), 0)).toBe(false);
    for (const t of ['a', 'b', 'c']) h.remove({ client_id: 'c1', task_id: t });
    expect(h.allTombstones().map((t) => t.task_id)).toEqual(['b', 'c']);
  });

  it('has an order-independent digest that matches digestOf', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 5 }), { maxLength: 30 }),
        fc.integer(),
        (tasks, seed) => {
          const entries = tasks.map((t, i) =>
            entry(t.replace(/[^a-z0-9]/gi, 'x') + i, (i % 3) + 1),
          );
          const a = new TaskHistory(1000, 10);
          const b = new TaskHistory(1000, 10);
          for (const e of entries) a.set(e, 0);
          const shuffled = [...entries].sort(() =>
            (seed = (seed * 1103515245 + 12345) | 0) & 1 ? 1 : -1,
          );
          for (const e of shuffled) b.set(e, 0);
          expect(a.digest).toBe(b.digest);
          expect(a.digest).toBe(digestOf(entries));
        },
      ),
    );
  });

  it('changes the digest when any field of an entry changes', () => {
    const base = digestOf([entry('t1')]);
    expect(digestOf([entry('t1', 2)])).not.toBe(base);
    expect(digestOf([entry('t1', 1, 2001)])).not.toBe(base);
    expect(digestOf([entry('t1', 1, 1001, 2)])).not.toBe(base);
  });

  it('installs a snapshot over local state, the snapshot winning over local tombstones', () => {
    const h = new TaskHistory(10, 10);
    h.set(entry('old'), 0);
    h.remove({ client_id: 'c1', task_id: 'back' });
    h.install([entry('back'), entry('t2')], [{ client_id: 'c1', task_id: 'gone' }], 7);
    expect(
      h
        .allEntries()
        .map((e) => e.task_id)
        .sort(),
    ).toEqual(['back', 't2']);
    expect(h.isTombstoned('c1/gone')).toBe(true);
    expect(h.digest).toBe(digestOf([entry('back'), entry('t2')]));
  });

  it('lists entries per server and by age', () => {
    const h = new TaskHistory(10, 10);
    h.set(entry('t1', 1), 0);
    h.set(entry('t2', 2), 50);
    expect(h.onServer(2).map((e) => e.task_id)).toEqual(['t2']);
    expect(h.olderThan(10).map((e) => e.task_id)).toEqual(['t1']);
  });
});
