/**
 * The core's invariant checks: each can fail, says which invariant broke and with what
 * values, and no well-formed input can make one fail (input that would is refused first).
 */
import { describe, expect, it } from 'vitest';
import { invariant, InvariantViolation } from '../../../src/core/assert.js';
import { resolveServerNodeConfig } from '../../../src/core/config.js';
import { checkDeepInvariants, checkInvariants } from '../../../src/core/node/invariants.js';
import { NodeState } from '../../../src/core/node/state.js';
import { SeededRandom } from '../../../src/core/random.js';
import { ServerNode } from '../../../src/core/server-node.js';

function state(): NodeState {
  return new NodeState(resolveServerNodeConfig({ id: 2, peers: [1, 3] }), new SeededRandom(1), 0);
}

describe('invariant()', () => {
  it('names the invariant and the values that break it', () => {
    expect(() => invariant(1 > 2, 'one is more than two', () => ({ a: 1, b: 'x' }))).toThrow(
      'invariant broken: one is more than two (a=1 b=x)',
    );
    expect(() => invariant(true, 'fine', () => ({}))).not.toThrow();
  });
});

describe('node invariants', () => {
  it('hold for a fresh node', () => {
    expect(() => checkDeepInvariants(state())).not.toThrow();
  });

  it('catch a follower whose leader did not mint its epoch', () => {
    const n = state();
    n.epoch = 3001; // term 3, minted by server 1
    n.maxTerm = 3;
    n.leaderId = 3;
    expect(() => checkInvariants(n)).toThrow(
      /the leader we follow or are is the one our epoch names \(server=2 role=follower epoch=3\.1 leader_id=3\)/,
    );
  });

  it('catch a leader that does not name itself, and an epoch ahead of the terms seen', () => {
    const a = state();
    a.role = 'leader';
    expect(() => checkInvariants(a)).toThrow(/exactly when it names itself leader/);
    const b = state();
    b.epoch = 5002;
    b.maxTerm = 4;
    expect(() => checkInvariants(b)).toThrow(/term is at most the highest term seen.*max_term=4/);
  });

  it('catch negative or overflowing task counts and counters that disagree with the table', () => {
    const a = state();
    a.queued = -1;
    expect(() => checkInvariants(a)).toThrow(/task counts are never negative.*queued=-1/);
    const b = state();
    b.running = 1;
    b.queued = 0;
    expect(() => checkInvariants(b)).not.toThrow();
    expect(() => checkDeepInvariants(b)).toThrow(/task counters match the task table/);
  });

  it('catch a silent node without an end to its silence', () => {
    const n = state();
    n.role = 'silent';
    expect(() => checkInvariants(n)).toThrow(/silent exactly until silentUntil/);
  });

  it('are kept when a peer names a leader that did not mint the epoch: the hint is refused', () => {
    const node = new ServerNode({ id: 2, peers: [1, 3] }, new SeededRandom(1), 0);
    // Node 2 learns epoch 1.1 without a leader (an Election from a newer epoch)...
    node.receive(
      { kind: 'server', id: 1 },
      { type: 'Election', from: 1, epoch: 1001, max_term: 1, round: 1, score: 50 },
      10,
    );
    expect(node.epoch).toBe(1001);
    expect(node.leaderId).toBeNull();
    // ...then server 3 claims, in that epoch, that 3 leads it.
    node.receive(
      { kind: 'server', id: 3 },
      { type: 'StaleEpoch', from: 3, epoch: 1001, leader_id: 3, rejected_type: 'Election' },
      20,
    );
    expect(node.leaderId).toBeNull();
    expect(node.counters.rejected_invalid).toBe(1);
    expect(() => node.checkDeepInvariants()).not.toThrow();
  });

  it('make InvariantViolation an Error with the invariant and its details', () => {
    const e = new InvariantViolation('x holds', { x: 1 });
    expect(e).toBeInstanceOf(Error);
    expect(e.invariant).toBe('x holds');
    expect(e.details).toEqual({ x: 1 });
  });
});
