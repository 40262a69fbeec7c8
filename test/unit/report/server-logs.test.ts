import { describe, expect, it } from 'vitest';
import { epochLabel, lastSwitchAt, parseLeaderLogLine } from '../../../src/report/server-logs.js';

describe('server log parsing', () => {
  it('reads election wins and acknowledgements with their times', () => {
    expect(
      parseLeaderLogLine(
        '2026-11-21T12:17:12.307Z INFO  server-3 won election: now leader epoch=4.3 reason=successor',
      ),
    ).toEqual({
      at_ms: Date.parse('2026-11-21T12:17:12.307Z'),
      server: 3,
      kind: 'won',
      leader: 3,
      epoch: '4.3',
    });
    expect(
      parseLeaderLogLine(
        '2026-11-21T12:17:12.309Z INFO  server-2 leader acknowledged leader=3 epoch=4.3',
      ),
    ).toEqual({
      at_ms: Date.parse('2026-11-21T12:17:12.309Z'),
      server: 2,
      kind: 'acknowledged',
      leader: 3,
      epoch: '4.3',
    });
    expect(
      parseLeaderLogLine('2026-11-21T12:17:12.309Z WARN  server-2 leader lost leader=1 epoch=3.1'),
    ).toBeNull();
    expect(parseLeaderLogLine('garbage')).toBeNull();
  });

  it('finds when the last survivor switched, ignoring excluded servers and other epochs', () => {
    const logs = [
      { at_ms: 1000, server: 3, kind: 'won' as const, leader: 3, epoch: '4.3' },
      { at_ms: 1010, server: 2, kind: 'acknowledged' as const, leader: 3, epoch: '4.3' },
      { at_ms: 1050, server: 4, kind: 'acknowledged' as const, leader: 3, epoch: '4.3' },
      { at_ms: 1060, server: 4, kind: 'acknowledged' as const, leader: 3, epoch: '4.3' }, // repeat
      { at_ms: 1070, server: 5, kind: 'acknowledged' as const, leader: 3, epoch: '5.3' }, // other epoch
      { at_ms: 6000, server: 1, kind: 'acknowledged' as const, leader: 3, epoch: '4.3' }, // restarted later
    ];
    expect(lastSwitchAt(logs, 3, 4003, 0, 5000, new Set())).toBe(1050);
    expect(lastSwitchAt(logs, 3, 4003, 0, 10_000, new Set([1]))).toBe(1050);
    expect(lastSwitchAt(logs, 3, 4003, 0, 10_000, new Set())).toBe(6000);
    expect(lastSwitchAt(logs, 2, 4003, 0, 10_000, new Set())).toBeNull();
    expect(epochLabel(4003)).toBe('4.3');
    expect(epochLabel(12_045)).toBe('12.45');
  });
});
