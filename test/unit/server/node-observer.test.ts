import { describe, expect, it } from 'vitest';
import type { NodeEvent } from '../../../src/core/events.js';
import { WarningGate, logNodeEvent } from '../../../src/server/node-observer.js';
import { createLogger } from '../../../src/util/log.js';

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger('s1', { level: 'debug', write: (l) => lines.push(l) }) };
}

const farAhead = (from: number): NodeEvent => ({
  type: 'termRefused',
  from,
  message_type: 'Coordinator',
  term: 9e12,
  ceiling: 1_796_205_601_000,
});

describe('far-ahead terms in the log', () => {
  it('warns once per member per interval, then says how many were refused meanwhile', () => {
    let now = 0;
    const gate = new WarningGate(10_000, () => now);
    const { lines, log } = capture();
    for (let i = 0; i < 5; i++) logNodeEvent(log, farAhead(3), gate);
    logNodeEvent(log, farAhead(2), gate); // another member has its own allowance
    const warnings = (): string[] => lines.filter((l) => l.includes(' WARN '));
    expect(warnings()).toHaveLength(2);
    expect(warnings()[0]).toMatch(/refused a term beyond our clock.* from=3 message=Coordinator/);
    expect(warnings()[1]).toMatch(/ from=2 /);
    expect(lines.filter((l) => l.includes(' DEBUG '))).toHaveLength(4);
    now = 9_999;
    logNodeEvent(log, farAhead(3), gate);
    expect(warnings()).toHaveLength(2);
    now = 10_000;
    logNodeEvent(log, farAhead(3), gate);
    expect(warnings()).toHaveLength(3);
    expect(warnings()[2]).toMatch(/also_refused_since_last_warning=5$/m);
  });

  it("a peer's cold-start term (within a second of the ceiling) is information, and holds back no warning", () => {
    let now = 0;
    const gate = new WarningGate(10_000, () => now);
    const { lines, log } = capture();
    const ceiling = 1_796_205_601_000;
    const coldStart: NodeEvent = {
      type: 'termRefused',
      from: 3,
      message_type: 'Alive',
      term: ceiling + 1_000, // its clock + OWN_TERM_LEAD_MAX: our clock + 2 s
      ceiling,
    };
    logNodeEvent(log, coldStart, gate);
    logNodeEvent(log, coldStart, gate);
    expect(lines.filter((l) => l.includes(' INFO '))).toHaveLength(1);
    expect(lines[0]).toMatch(/ INFO .*refused a term just beyond our clock.* from=3 message=Alive/);
    now = 1_000;
    logNodeEvent(log, farAhead(3), gate);
    const warnings = lines.filter((l) => l.includes(' WARN '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ from=3 message=Coordinator term=9000000000000/);
    // One term past the cold-start slack is far ahead.
    now = 20_000;
    logNodeEvent(log, { ...coldStart, term: ceiling + 1_001 }, gate);
    expect(lines.filter((l) => l.includes(' WARN '))).toHaveLength(2);
  });

  it('an ordinary rejected message stays at debug level', () => {
    const { lines, log } = capture();
    const event: NodeEvent = {
      type: 'messageRejected',
      from: { kind: 'server', id: 2 },
      reason: 'Coordinator: epoch not minted by sender',
    };
    logNodeEvent(log, event, new WarningGate());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ DEBUG .*message rejected/);
  });
});
