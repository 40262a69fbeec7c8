import { describe, expect, it } from 'vitest';
import { applyGrantChange, grantKey, type GrantModel } from '../../../src/lab/grants.js';
import type { LabOp, OpKind, OpOutcome, OpResult } from '../../../src/lab/ops.js';
import { DEFAULT_WORKLOAD, Workload } from '../../../src/lab/workload.js';
import { mulberry32 } from '../../../src/stress/campaign.js';

const AGENTS = Array.from({ length: 12 }, (_, i) => ({
  name: `u${1 + (i % 3)}-${String(i).padStart(2, '0')}`,
  host: `users-${1 + (i % 3)}`,
}));

/** A toy directory that answers like the real one, so the generator can be run for thousands of steps. */
class World {
  online = new Set(AGENTS.map((a) => a.name));
  owner = new Map<string, string>();
  requests = new Map<
    string,
    { requester: string; owner: string; image_id: string; views: number; status: string }
  >();
  grants = new Map<string, GrantModel>();
  private ids = 0;
  violations: string[] = [];

  answer(op: LabOp): OpOutcome {
    const ok = (result: OpResult): OpOutcome => ({
      start_ms: 0,
      latency_ms: 1,
      ok: true,
      result,
      error: null,
    });
    const fail = (code: string): OpOutcome => ({
      start_ms: 0,
      latency_ms: 1,
      ok: false,
      result: null,
      error: { code, message: code },
    });
    if (op.kind === 'sign_in') {
      if (this.online.has(op.agent)) this.violations.push(`sign_in of online ${op.agent}`);
      this.online.add(op.agent);
      return ok({ kind: 'sign_in' });
    }
    if (!this.online.has(op.agent)) this.violations.push(`${op.kind} by offline ${op.agent}`);
    switch (op.kind) {
      case 'sign_out':
        this.online.delete(op.agent);
        return ok({ kind: 'sign_out' });
      case 'encrypt': {
        const id = `img${++this.ids}`;
        this.owner.set(id, op.agent);
        return ok({
          kind: 'encrypt',
          image_id: id,
          server_id: 1,
          reassignments: 0,
          verified: true,
          verify_detail: '',
        });
      }
      case 'previews':
        if (!this.online.has(op.owner)) this.violations.push(`previews from offline ${op.owner}`);
        return ok({ kind: 'previews', listed: 1, fetched_bytes: 10 });
      case 'request':
      case 'more_views': {
        if (this.owner.get(op.image_id) !== op.owner || op.owner === op.agent)
          this.violations.push(`bad request ${JSON.stringify(op)}`);
        for (const r of this.requests.values())
          if (r.status === 'pending' && r.requester === op.agent && r.image_id === op.image_id)
            return fail('conflict');
        const id = `r${++this.ids}`;
        this.requests.set(id, {
          requester: op.agent,
          owner: op.owner,
          image_id: op.image_id,
          views: op.views,
          status: 'pending',
        });
        const granted = this.grants.get(grantKey(op.owner, op.image_id, op.agent));
        return ok({
          kind: op.kind,
          request_id: id,
          request_kind: granted && !granted.revoked ? 'more_views' : 'access',
          owner_notified: this.online.has(op.owner),
        });
      }
      case 'accept':
      case 'reject': {
        const r = this.requests.get(op.request_id);
        if (!r || r.owner !== op.agent || r.status !== 'pending') {
          this.violations.push(`bad answer ${JSON.stringify(op)}`);
          return fail('conflict');
        }
        r.status = op.kind === 'accept' ? 'accepted' : 'rejected';
        let grant = null;
        if (op.kind === 'accept') {
          const key = grantKey(r.owner, r.image_id, r.requester);
          const g = applyGrantChange(this.grants.get(key), {
            kind: 'accept',
            views: r.views,
          }) as GrantModel;
          this.grants.set(key, g);
          grant = { ...g, delivery: 'pending' };
        }
        return ok({ kind: op.kind, request_id: op.request_id, status: r.status, grant });
      }
      case 'view':
        if (!this.grants.has(grantKey(op.owner, op.image_id, op.agent)))
          this.violations.push(`view without grant ${JSON.stringify(op)}`);
        return ok({
          kind: 'view',
          verdict: 'shown',
          reason: 'ok',
          views_left: 0,
          quota: 1,
          consumed: 1,
          sha256: '',
        });
      case 'set_quota':
      case 'revoke': {
        const key = grantKey(op.agent, op.image_id, op.viewer);
        if (!this.grants.has(key))
          this.violations.push(`${op.kind} of a grant that does not exist ${key}`);
        const g = applyGrantChange(
          this.grants.get(key),
          op.kind === 'revoke' ? { kind: 'revoke' } : { kind: 'set_quota', quota: op.quota },
        ) as GrantModel;
        this.grants.set(key, g);
        return ok({ kind: op.kind, ...g, delivery: 'pending' });
      }
      case 'peers':
        return ok({ kind: 'peers', online: this.online.size, images: this.owner.size });
    }
  }
}

function drive(
  seed: number,
  steps: number,
  concurrency = 4,
): { ops: LabOp[]; world: World; workload: Workload } {
  const world = new World();
  const workload = new Workload(AGENTS, ['a.png', 'b.jpg'], mulberry32(seed), DEFAULT_WORKLOAD);
  const ops: LabOp[] = [];
  const inFlight: LabOp[] = [];
  const busy = new Set<string>();
  const random = mulberry32(seed + 1);
  while (ops.length < steps) {
    const op = inFlight.length < concurrency ? workload.next() : null;
    if (op) {
      if (busy.has(op.agent))
        world.violations.push(`${op.agent} given a second operation while busy`);
      busy.add(op.agent);
      ops.push(op);
      inFlight.push(op);
      continue;
    }
    // Complete a random one in flight (answers arrive out of order).
    const done = inFlight.splice(Math.floor(random() * inFlight.length), 1)[0];
    if (!done) throw new Error('the workload found nothing to do with nothing in flight');
    busy.delete(done.agent);
    workload.complete(done, world.answer(done));
  }
  return { ops, world, workload };
}

describe('the sharing workload', () => {
  it('only asks for operations that make sense, one at a time per agent', () => {
    const { world } = drive(1, 3000);
    expect(world.violations).toEqual([]);
  });

  it('uses every kind of operation, mostly sharing', () => {
    const { ops } = drive(2, 3000);
    const counts = new Map<OpKind, number>();
    for (const op of ops) counts.set(op.kind, (counts.get(op.kind) ?? 0) + 1);
    for (const kind of [
      'encrypt',
      'peers',
      'previews',
      'request',
      'more_views',
      'accept',
      'reject',
      'view',
      'set_quota',
      'revoke',
      'sign_out',
      'sign_in',
    ] as const)
      expect(counts.get(kind) ?? 0, kind).toBeGreaterThan(10);
    expect(counts.get('view') as number).toBeGreaterThan(counts.get('encrypt') as number);
  });

  it('seeks out users who are signed out: requests to offline owners, quota changes for offline viewers', () => {
    const world = new World();
    const workload = new Workload(AGENTS, ['a.png'], mulberry32(3), DEFAULT_WORKLOAD);
    let toOfflineOwner = 0;
    let forOfflineViewer = 0;
    for (let i = 0; i < 4000; i++) {
      const op = workload.next();
      if (!op) continue;
      if (op.kind === 'request' && !world.online.has(op.owner)) toOfflineOwner++;
      if ((op.kind === 'set_quota' || op.kind === 'revoke') && !world.online.has(op.viewer))
        forOfflineViewer++;
      workload.complete(op, world.answer(op));
    }
    expect(world.violations).toEqual([]);
    expect(toOfflineOwner).toBeGreaterThan(20);
    expect(forOfflineViewer).toBeGreaterThan(20);
    // Never fewer than the floor of signed-in agents.
    expect(world.online.size / AGENTS.length).toBeGreaterThanOrEqual(
      DEFAULT_WORKLOAD.min_online_fraction - 1 / AGENTS.length,
    );
  });

  it('is replayable: the same seed gives the same operations', () => {
    expect(drive(9, 500).ops).toEqual(drive(9, 500).ops);
    expect(drive(9, 500).ops).not.toEqual(drive(10, 500).ops);
  });

  it('the agents of a host that went down are left alone until it is back', () => {
    const world = new World();
    const workload = new Workload(AGENTS, ['a.png'], mulberry32(4), DEFAULT_WORKLOAD);
    const onHost2 = (op: LabOp): boolean =>
      AGENTS.find((a) => a.name === op.agent)?.host === 'users-2';
    const run = (steps: number): LabOp[] => {
      const ops: LabOp[] = [];
      for (let i = 0; i < steps; i++) {
        const op = workload.next();
        if (!op) continue;
        ops.push(op);
        workload.complete(op, world.answer(op));
      }
      return ops;
    };
    workload.setHostOnline('users-2', false);
    for (const a of AGENTS) if (a.host === 'users-2') world.online.delete(a.name);
    expect(run(300).filter(onHost2)).toEqual([]);
    workload.setHostOnline('users-2', true);
    for (const a of AGENTS) if (a.host === 'users-2') world.online.add(a.name);
    expect(
      run(300)
        .filter(onHost2)
        .some((op) => op.kind !== 'sign_in'),
    ).toBe(true);
  });
});
