import { describe, expect, it } from 'vitest';
import { isNewerAssignment, taskKey } from '../../../src/core/messages.js';

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
