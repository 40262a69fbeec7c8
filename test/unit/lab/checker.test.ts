import { describe, expect, it } from 'vitest';
import {
  checkCampaign,
  offlineIntervals,
  type AgentSnapshot,
  type CheckInput,
} from '../../../src/lab/checker.js';
import type { AgentEventRecord, LabOp, OpRecord, OpResult } from '../../../src/lab/ops.js';

const SHA = 'a'.repeat(64);

/** A small story: alice encrypts, bob asks for 2 views, alice accepts, bob views twice. */
function story(): { records: OpRecord[]; events: AgentEventRecord[]; snapshots: AgentSnapshot[] } {
  let seq = 0;
  let t = 1000;
  const records: OpRecord[] = [];
  const op = (o: LabOp, result: OpResult | null, error: string | null = null): OpRecord => {
    const r: OpRecord = {
      seq: ++seq,
      op: o,
      host: o.agent === 'alice' ? 'users-1' : 'users-2',
      during_fault: false,
      start_ms: (t += 100),
      latency_ms: 50,
      ok: error === null,
      result,
      error: error === null ? null : { code: error, message: error },
    };
    records.push(r);
    return r;
  };
  op(
    { kind: 'encrypt', agent: 'alice', image: 'photo.jpg', title: 't' },
    {
      kind: 'encrypt',
      image_id: 'img1',
      server_id: 1,
      reassignments: 0,
      verified: true,
      verify_detail: '',
    },
  );
  op(
    { kind: 'request', agent: 'bob', owner: 'alice', image_id: 'img1', views: 2 },
    { kind: 'request', request_id: 'r1', request_kind: 'access', owner_notified: true },
  );
  op(
    { kind: 'accept', agent: 'alice', request_id: 'r1' },
    {
      kind: 'accept',
      request_id: 'r1',
      status: 'accepted',
      grant: { quota: 2, version: 1, revoked: false, delivery: 'delivered' },
    },
  );
  op(
    { kind: 'view', agent: 'bob', owner: 'alice', image_id: 'img1' },
    {
      kind: 'view',
      verdict: 'shown',
      reason: 'ok',
      views_left: 1,
      quota: 2,
      consumed: 1,
      sha256: SHA,
    },
  );
  op(
    { kind: 'view', agent: 'bob', owner: 'alice', image_id: 'img1' },
    {
      kind: 'view',
      verdict: 'shown',
      reason: 'ok',
      views_left: 0,
      quota: 2,
      consumed: 2,
      sha256: SHA,
    },
  );
  op(
    { kind: 'view', agent: 'bob', owner: 'alice', image_id: 'img1' },
    {
      kind: 'view',
      verdict: 'default',
      reason: 'quota_used',
      views_left: 0,
      quota: 2,
      consumed: 2,
      sha256: 'b'.repeat(64),
    },
  );
  const events: AgentEventRecord[] = [
    {
      at_ms: 1380,
      host: 'users-2',
      agent: 'bob',
      event: {
        type: 'rights-changed',
        owner: 'alice',
        image_id: 'img1',
        quota: 2,
        version: 1,
        revoked: false,
      },
    },
  ];
  const request = {
    request_id: 'r1',
    owner: 'alice',
    requester: 'bob',
    image_id: 'img1',
    views: 2,
    kind: 'access',
    status: 'accepted',
  };
  const snapshots: AgentSnapshot[] = [
    {
      username: 'alice',
      inbox: [request],
      outbox: [],
      grants: [
        {
          image_id: 'img1',
          viewer: 'bob',
          quota: 2,
          version: 1,
          revoked: false,
          delivery: 'delivered',
        },
      ],
      received: [],
    },
    {
      username: 'bob',
      inbox: [],
      outbox: [request],
      grants: [],
      received: [
        {
          owner: 'alice',
          image_id: 'img1',
          quota: 2,
          consumed: 2,
          revoked: false,
          version: 1,
          state: 'used_up',
        },
      ],
    },
  ];
  return { records, events, snapshots };
}

/** An operation that succeeded, started at `start_ms` (100 ms long). */
function succeeded(seq: number, start_ms: number, o: LabOp, result: OpResult): OpRecord {
  return {
    seq,
    op: o,
    host: 'users-x',
    during_fault: false,
    start_ms,
    latency_ms: 100,
    ok: true,
    result,
    error: null,
  };
}

/** The story's third view, shown after all (as the agent reports it, under `quota`). */
function thirdViewShown(quota: number): OpResult {
  return {
    kind: 'view',
    verdict: 'shown',
    reason: 'ok',
    views_left: Math.max(0, quota - 3),
    quota,
    consumed: 3,
    sha256: SHA,
  };
}

function check(
  input: Partial<CheckInput> & ReturnType<typeof story>,
): Map<string, { pass: boolean; detail: string; examples: string[] }> {
  const report = checkCampaign({ imageSha256: { 'photo.jpg': SHA }, ...input });
  return new Map(report.checks.map((c) => [c.name, c]));
}

function failing(result: ReturnType<typeof check>): string[] {
  return [...result].filter(([, c]) => !c.pass).map(([name]) => name);
}

describe('the campaign checker', () => {
  it('a clean story passes every rule', () => {
    const result = check(story());
    expect(failing(result)).toEqual([]);
    expect(result.get('no viewer shown more views than granted')?.detail).toMatch(/^2 views shown/);
  });

  it('an acknowledged request the directory lost, or holds twice', () => {
    const lost = story();
    for (const s of lost.snapshots) [s.inbox, s.outbox] = [[], []];
    expect(failing(check(lost))).toContain('no request lost or applied twice');
    const twice = story();
    twice.snapshots[0]?.inbox.push({
      ...(twice.snapshots[0]?.inbox[0] as AgentSnapshot['inbox'][0]),
      request_id: 'r2',
    });
    expect(check(twice).get('no request lost or applied twice')?.examples.join()).toMatch(
      /no operation accounts for/,
    );
  });

  it('an extra request is fine when a request got no answer (it may have been made)', () => {
    const s = story();
    s.records.push({
      ...(s.records[1] as OpRecord),
      seq: 99,
      start_ms: 5000,
      ok: false,
      result: null,
      error: { code: 'directory_unreachable', message: 'no server answered' },
    });
    s.snapshots[0]?.inbox.push({
      ...(s.snapshots[0]?.inbox[0] as AgentSnapshot['inbox'][0]),
      request_id: 'r2',
      status: 'pending',
    });
    expect(failing(check(s))).toEqual([]);
  });

  it('a change applied twice (version jumped) or lost (directory behind)', () => {
    const jumped = story();
    const g = jumped.snapshots[0]?.grants[0] as AgentSnapshot['grants'][0];
    g.version = 2;
    expect(failing(check(jumped))).toContain('no grant or quota change lost or applied twice');
    const answered = story();
    const accept = answered.records[2] as OpRecord;
    if (accept.result?.kind === 'accept' && accept.result.grant) accept.result.grant.version = 2;
    expect(
      check(answered).get('no grant or quota change lost or applied twice')?.examples[0],
    ).toMatch(/answered quota 2, version 2/);
  });

  it('a viewer whose ledger missed an update, or applied one twice', () => {
    const behind = story();
    const held = behind.snapshots[1]?.received[0] as AgentSnapshot['received'][0];
    held.quota = 1;
    expect(failing(check(behind))).toContain(
      'every pending update reached its viewer, applied once',
    );
    const twice = story();
    twice.events.push({ ...(twice.events[0] as AgentEventRecord), at_ms: 1900 });
    expect(
      check(twice).get('every pending update reached its viewer, applied once')?.examples[0],
    ).toMatch(/applied 2 times/);
  });

  it('a view shown beyond the quota, or after the agent applied a revoke', () => {
    const over = story();
    (over.records[5] as OpRecord).result = thirdViewShown(2);
    over.snapshots[1]!.received[0]!.consumed = 3;
    const result = check(over);
    expect(failing(result)).toEqual(['no viewer shown more views than granted']);
    expect(result.get('no viewer shown more views than granted')?.examples.join('\n')).toMatch(
      /largest quota ever granted by then was 2/,
    );
    const revoked = story();
    revoked.events.push({
      at_ms: 1450,
      host: 'users-2',
      agent: 'bob',
      event: {
        type: 'rights-changed',
        owner: 'alice',
        image_id: 'img1',
        quota: 2,
        version: 2,
        revoked: true,
      },
    });
    expect(check(revoked).get('no viewer shown more views than granted')?.examples.join()).toMatch(
      /revoked/,
    );
  });

  it('a view the directory allowed under a quota raised while it ran passes; the agent’s old rights are not the limit then', () => {
    const withRaise = (start_ms: number) => {
      const s = story();
      (s.records[5] as OpRecord).result = thirdViewShown(3);
      s.snapshots[1]!.received[0]!.consumed = 3;
      s.records.push(
        succeeded(
          90,
          start_ms,
          { kind: 'set_quota', agent: 'alice', image_id: 'img1', viewer: 'bob', quota: 3 },
          { kind: 'set_quota', quota: 3, version: 2, revoked: false, delivery: 'delivered' },
        ),
      );
      return check(s).get('no viewer shown more views than granted');
    };
    // Started after bob's agent last heard of its rights (1380) and before the view ended.
    expect(withRaise(1590)?.pass).toBe(true);
    // Raised before the agent's last update, which still said 2: the agent's rights were stale
    // beyond what the directory could explain.
    expect(withRaise(1200)?.examples.join()).toMatch(/while the agent held quota 2/);
  });

  it('an image shown that is not the owner’s, a view not counted, an encryption not verified', () => {
    const s = story();
    const view = s.records[3] as OpRecord;
    if (view.result?.kind === 'view') view.result.sha256 = 'c'.repeat(64);
    s.snapshots[1]!.received[0]!.consumed = 1;
    const encrypt = s.records[0] as OpRecord;
    if (encrypt.result?.kind === 'encrypt') encrypt.result.verified = false;
    expect(failing(check(s)).sort()).toEqual([
      'every encryption result verified',
      "every image shown is the owner's image, byte for byte",
      'every view shown counted once in the ledger',
    ]);
  });

  it('a view refused offline may have been counted at the directory; one refused online may not', () => {
    const refusedAs = (reason: string) => {
      const s = story();
      const second = s.records[4] as OpRecord;
      if (second.result?.kind === 'view')
        Object.assign(second.result, { verdict: 'default', reason, sha256: 'b'.repeat(64) });
      return check(s).get('every view shown counted once in the ledger');
    };
    // The ledger counts 2 views, 1 was shown: the other was refused while no server answered.
    expect(refusedAs('not_synced')?.pass).toBe(true);
    expect(refusedAs('offline_used')?.pass).toBe(true);
    expect(refusedAs('quota_used')?.pass).toBe(false);
    expect(refusedAs('quota_used')?.examples.join()).toMatch(/counts 2 views; 1 were shown/);
  });

  it('a change made while the viewer was signed out: applied after sign-in, with its delay; or lost', () => {
    const s = story();
    let seq = 50;
    const at = (start_ms: number, o: LabOp, result: OpResult): OpRecord =>
      succeeded(++seq, start_ms, o, result);
    s.records.push(
      at(2000, { kind: 'sign_out', agent: 'bob' }, { kind: 'sign_out' }),
      at(
        3000,
        { kind: 'set_quota', agent: 'alice', image_id: 'img1', viewer: 'bob', quota: 5 },
        { kind: 'set_quota', quota: 5, version: 2, revoked: false, delivery: 'pending' },
      ),
      at(9000, { kind: 'sign_in', agent: 'bob' }, { kind: 'sign_in' }),
    );
    s.snapshots[0]!.grants[0] = {
      image_id: 'img1',
      viewer: 'bob',
      quota: 5,
      version: 2,
      revoked: false,
      delivery: 'delivered',
    };
    s.snapshots[1]!.received[0] = {
      owner: 'alice',
      image_id: 'img1',
      quota: 5,
      consumed: 2,
      revoked: false,
      version: 2,
      state: 'viewable',
    };
    const lost = checkCampaign({ ...s, imageSha256: { 'photo.jpg': SHA } });
    expect(lost.offline).toEqual([
      expect.objectContaining({ recipient: 'bob', applied_at_ms: null }),
    ]);
    expect(lost.checks.find((c) => c.name.startsWith('every change made while'))?.pass).toBe(false);
    s.events.push({
      at_ms: 9050,
      host: 'users-2',
      agent: 'bob',
      event: {
        type: 'rights-changed',
        owner: 'alice',
        image_id: 'img1',
        quota: 5,
        version: 2,
        revoked: false,
      },
    });
    const applied = checkCampaign({ ...s, imageSha256: { 'photo.jpg': SHA } });
    expect(applied.checks.filter((c) => !c.pass)).toEqual([]);
    expect(applied.offline).toEqual([
      expect.objectContaining({ kind: 'grant_change', delay_ms: 5950, after_sign_in_ms: 50 }),
    ]);
  });

  it('a quota set to its current value while the viewer is signed out is no change to apply', () => {
    const s = story();
    const at = succeeded;
    const applied = s.events.find((e) => e.agent === 'bob' && e.event.type === 'rights-changed');
    expect(applied?.event.version).toBe(1);
    s.records.push(
      at(60, 2000, { kind: 'sign_out', agent: 'bob' }, { kind: 'sign_out' }),
      // alice sets bob's quota to 2 again: the directory keeps version 1, nothing is queued.
      at(
        61,
        3000,
        { kind: 'set_quota', agent: 'alice', image_id: 'img1', viewer: 'bob', quota: 2 },
        { kind: 'set_quota', quota: 2, version: 1, revoked: false, delivery: 'delivered' },
      ),
      at(62, 9000, { kind: 'sign_in', agent: 'bob' }, { kind: 'sign_in' }),
    );
    const report = checkCampaign({ ...s, imageSha256: { 'photo.jpg': SHA } });
    expect(report.offline).toEqual([]);
    expect(report.checks.filter((c) => !c.pass)).toEqual([]);
  });

  it('a quota set to its current value is no change either when the viewer got that version with the copy', () => {
    const s = story();
    // Bob learned version 1 with the copy itself (image-received), not as a rights update.
    s.events = [
      {
        at_ms: 1380,
        host: 'users-2',
        agent: 'bob',
        event: { type: 'image-received', owner: 'alice', image_id: 'img1', views_left: 2 },
      },
    ];
    s.records.push(
      succeeded(60, 2000, { kind: 'sign_out', agent: 'bob' }, { kind: 'sign_out' }),
      succeeded(
        61,
        3000,
        { kind: 'set_quota', agent: 'alice', image_id: 'img1', viewer: 'bob', quota: 2 },
        { kind: 'set_quota', quota: 2, version: 1, revoked: false, delivery: 'delivered' },
      ),
      succeeded(62, 9000, { kind: 'sign_in', agent: 'bob' }, { kind: 'sign_in' }),
    );
    const report = checkCampaign({ ...s, imageSha256: { 'photo.jpg': SHA } });
    expect(report.offline).toEqual([]);
    expect(report.checks.filter((c) => !c.pass)).toEqual([]);
    // A change that made a new version while bob was away still has to reach him.
    s.records.push(
      succeeded(63, 9500, { kind: 'sign_out', agent: 'bob' }, { kind: 'sign_out' }),
      succeeded(
        64,
        9600,
        { kind: 'set_quota', agent: 'alice', image_id: 'img1', viewer: 'bob', quota: 4 },
        { kind: 'set_quota', quota: 4, version: 2, revoked: false, delivery: 'pending' },
      ),
    );
    const lost = checkCampaign({ ...s, imageSha256: { 'photo.jpg': SHA } });
    expect(lost.offline).toEqual([
      expect.objectContaining({
        recipient: 'bob',
        subject: 'alice/img1 version 2',
        applied_at_ms: null,
      }),
    ]);
  });

  it('a grant still waiting for delivery at the end fails', () => {
    const s = story();
    s.snapshots[0]!.grants[0]!.delivery = 'pending';
    expect(failing(check(s))).toEqual(['every grant delivered at the end (copy and rights)']);
  });

  it('offline intervals: from a sign-out (or a host going down) to the next sign-in', () => {
    const r = (
      seq: number,
      kind: 'sign_in' | 'sign_out',
      start_ms: number,
      ok = true,
    ): OpRecord => ({
      seq,
      op: { kind, agent: 'bob' },
      host: 'users-2',
      during_fault: false,
      start_ms,
      latency_ms: 10,
      ok,
      result: { kind },
      error: null,
    });
    const intervals = offlineIntervals(
      [r(1, 'sign_out', 100), r(2, 'sign_in', 200, false), r(3, 'sign_in', 300)],
      [{ host: 'users-2', from_ms: 1000, to_ms: 2000 }],
    );
    expect(intervals.get('bob')).toEqual([
      { from_ms: 100, to_ms: 310, sign_in_ms: 300 },
      { from_ms: 1000, to_ms: 2000, sign_in_ms: 2000 },
    ]);
  });
});
